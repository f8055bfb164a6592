// Package pack owns the form of the records of the events topic. A record
// is either one event (its value is the event's JSON, as the gateway
// encoded it) or a pack: several events of one source from one request to
// the producer, their JSON lines joined by '\n', marked by the header
// Header ("v1 N": the format's version and the number of events). A record
// without Header is one event: records written before packs existed, the
// producer's JSON-array path, one-event groups and `logsys dlq replay`
// all write that form, and every reader accepts both.
//
// An event's JSON never holds a raw newline: event.Event.AppendJSON
// escapes control characters in strings and writes no whitespace between
// tokens; the producer writes any value that holds one as a record of its
// own.
package pack

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// Header marks a pack; its value is Version, a space and the number
	// of events.
	Header = "logsys-pack"
	// IndexHeader is the position (from 0) of an event in the pack it
	// came from, on each event's record as Unpack returns it, and so on the
	// dead letter of one event of a pack.
	IndexHeader = "logsys-pack-index"
	// Version is the pack format Header names.
	Version = "v1"
	// MaxEvents bounds the events of one pack a reader accepts.
	MaxEvents = 1 << 20
)

// Sep separates the events of a pack.
const Sep = '\n'

// ErrMalformed is the class of a record that says it is a pack but is not
// one of this form: the whole record is dead-lettered.
var ErrMalformed = errors.New("malformed pack")

// HeaderValue is Header's value for a pack of n events.
func HeaderValue(n int) []byte {
	return strconv.AppendInt(append([]byte(Version), ' '), int64(n), 10)
}

// Fits reports whether value can be one event of a pack: it holds no Sep.
func Fits(value []byte) bool { return bytes.IndexByte(value, Sep) < 0 }

// Count returns how many events rec holds: the count its Header names,
// or 1 (one event, or a pack Unpack will refuse).
func Count(rec *kgo.Record) int {
	i := headerIndex(rec.Headers)
	if i < 0 {
		return 1
	}
	n, err := parseHeader(rec.Headers[i].Value)
	if err != nil {
		return 1
	}
	return n
}

// Unpack appends to dst one record per event of rec and returns it: rec
// itself when it is one event; for a pack, records with rec's topic,
// partition, offset, timestamp and key, the event's line as value, and
// rec's headers less Header plus IndexHeader. A pack whose header or body
// is not of this form is an error (wrapping ErrMalformed) and appends
// nothing.
func Unpack(dst []*kgo.Record, rec *kgo.Record) ([]*kgo.Record, error) {
	hi := headerIndex(rec.Headers)
	if hi < 0 {
		return append(dst, rec), nil
	}
	n, err := parseHeader(rec.Headers[hi].Value)
	if err != nil {
		return dst, err
	}
	if got := bytes.Count(rec.Value, []byte{Sep}) + 1; got != n {
		return dst, fmt.Errorf("%w: header says %d events, the value holds %d", ErrMalformed, n, got)
	}
	base := len(rec.Headers) // rec's headers less Header, plus IndexHeader
	recs := make([]kgo.Record, n)
	headers := make([]kgo.RecordHeader, n*base)
	idx := make([]byte, 0, 7*n)
	rest := rec.Value
	for i := range n {
		line := rest
		if j := bytes.IndexByte(rest, Sep); j >= 0 {
			line, rest = rest[:j], rest[j+1:]
		}
		if len(line) == 0 {
			return dst, fmt.Errorf("%w: event %d of %d is empty", ErrMalformed, i, n)
		}
		hs := headers[i*base : (i+1)*base : (i+1)*base]
		copy(hs, rec.Headers[:hi])
		copy(hs[hi:], rec.Headers[hi+1:])
		start := len(idx)
		idx = strconv.AppendInt(idx, int64(i), 10)
		hs[base-1] = kgo.RecordHeader{Key: IndexHeader, Value: idx[start:len(idx):len(idx)]}
		recs[i] = kgo.Record{
			Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp,
			LeaderEpoch: rec.LeaderEpoch, Key: rec.Key, Value: line, Headers: hs,
		}
	}
	for i := range recs {
		dst = append(dst, &recs[i])
	}
	return dst, nil
}

// headerIndex is the position of Header in hs, or -1.
func headerIndex(hs []kgo.RecordHeader) int {
	for i := range hs {
		if hs[i].Key == Header {
			return i
		}
	}
	return -1
}

// parseHeader reads Header's value: "v1 N" with 1 <= N <= MaxEvents.
func parseHeader(v []byte) (int, error) {
	ver, count, ok := bytes.Cut(v, []byte{' '})
	if !ok || string(ver) != Version {
		return 0, fmt.Errorf("%w: header %s is %q, want %q and a count", ErrMalformed, Header, v, Version)
	}
	n, err := strconv.Atoi(string(count))
	if err != nil || n < 1 || n > MaxEvents || strconv.Itoa(n) != string(count) {
		return 0, fmt.Errorf("%w: header %s is %q: the count must be 1 to %d", ErrMalformed, Header, v, MaxEvents)
	}
	return n, nil
}
