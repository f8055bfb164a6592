package roles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"logsys/event"
)

// FramesType is the Content-Type of the gateway->producer body in which
// every event arrives already validated and encoded by the gateway: a
// sequence of frames, each the Kafka record's key and value, each preceded
// by its length as an unsigned varint:
//
//	frame = uvarint(len(key)) key uvarint(len(value)) value
//
// The value is the event's JSON (event.Event.AppendJSON), the key chooses
// its partition. The producer splits the frames and writes them as records
// (the events of one key packed, package pack, unless producer.pack is
// off) without decoding the events again: it accepts this body only
// from the gateway's identity (mTLS), which decoded and validated every
// event with event.DecodeToForward; the consumer validates each record again
// before storing it (event.DecodeForwarded) and dead-letters what fails.
const FramesType = "application/x-logsys-frames"

// maxFrameValue bounds one frame's value: the largest event the gateway
// can accept, encoded, with room to spare.
const maxFrameValue = 4 << 20

// maxFrameKey bounds one frame's key (an event's source).
const maxFrameKey = 1024

// appendFrames appends the frames of evs to b, each event keyed by its
// source: a request's events, and every event of one source, go to one
// partition, in order (a random id scattered them over every partition:
// many small partition batches per produce request). Every store dedupes
// by sender and id, not by key.
func appendFrames(b []byte, evs []event.Event) ([]byte, error) {
	scratch := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(scratch)
	for i := range evs {
		v, err := evs[i].AppendJSON((*scratch)[:0])
		if err != nil {
			return b, fmt.Errorf("encode event %d: %w", i, err)
		}
		*scratch = v
		b = binary.AppendUvarint(b, uint64(len(evs[i].Source)))
		b = append(b, evs[i].Source...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

// scratchPool holds the buffers events are encoded into before framing.
var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// frame is one record of a frames body (both slices point into the body).
type frame struct{ key, value []byte }

// errFrames describes a malformed frames body.
var errFrames = errors.New("malformed frames")

// splitFrames returns the frames of body (into dst), or names the first
// malformed one. A value must look like a JSON object; the producer does
// not decode it.
func splitFrames(dst []frame, body []byte) ([]frame, error) {
	for len(body) > 0 {
		i := len(dst)
		k, n := binary.Uvarint(body)
		if n <= 0 || k > uint64(len(body)-n) || k > maxFrameKey {
			return dst, fmt.Errorf("%w: frame %d: bad key length", errFrames, i)
		}
		key := body[n : n+int(k)]
		body = body[n+int(k):]
		v, n := binary.Uvarint(body)
		if n <= 0 || v > uint64(len(body)-n) || v > maxFrameValue {
			return dst, fmt.Errorf("%w: frame %d: bad value length", errFrames, i)
		}
		value := body[n : n+int(v)]
		body = body[n+int(v):]
		if len(value) < 2 || value[0] != '{' || value[len(value)-1] != '}' {
			return dst, fmt.Errorf("%w: frame %d: value is not a JSON object", errFrames, i)
		}
		dst = append(dst, frame{key: key, value: value})
	}
	if len(dst) == 0 {
		return dst, fmt.Errorf("%w: no frames", errFrames)
	}
	return dst, nil
}
