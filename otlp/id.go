package otlp

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/google/uuid"

	"logsys/event"
)

// contentID derives the id of a mapped record from exactly what a store
// compares to tell a redelivery from an id conflict (level, message,
// source, timestamp and metadata; see store.Store), with the timestamp to
// the nanosecond: a UUID (version 8) of the first 122 bits of a SHA-256 of
// an unambiguous encoding of them. So an exporter retrying a request gets
// the same ids for the same records, which the store skips as
// redeliveries, and one id never stands for two contents: records equal in
// all of that are one event. res and scope are the digests of the shared
// resource and scope metadata; own is the rest of the record's metadata.
func contentID(e *event.Event, res, scope [32]byte, own map[string]any) string {
	bp := bufPool.Get().(*[]byte)
	b := append((*bp)[:0], "logsys-otlp-v1"...)
	b = appendString(b, string(e.Level))
	b = appendString(b, e.Message)
	b = appendString(b, e.Source)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Timestamp.Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(e.Timestamp.Nanosecond()))
	b = append(b, res[:]...)
	b = append(b, scope[:]...)
	b = appendValue(b, own)
	sum := sha256.Sum256(b)
	*bp = b
	bufPool.Put(bp)
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// digestOf is the SHA-256 of the encoding of a converted value.
func digestOf(v any) [32]byte {
	return sha256.Sum256(appendValue(nil, v))
}

// appendValue appends an unambiguous encoding of a converted value (see
// convert): a type byte, then the value; lengths before contents; object
// keys sorted.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'd'), math.Float64bits(v))
	case string:
		return appendString(append(b, 's'), v)
	case []any:
		b = binary.AppendUvarint(append(b, 'a'), uint64(len(v)))
		for _, x := range v {
			b = appendValue(b, x)
		}
		return b
	case map[string]any:
		b = binary.AppendUvarint(append(b, 'm'), uint64(len(v)))
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b = appendValue(appendString(b, k), v[k])
		}
		return b
	}
	return appendString(append(b, '?'), fmt.Sprintf("%T %v", v, v)) // convert makes no other type
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
