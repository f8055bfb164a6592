package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	"logsys/event"
)

// MaxIdentityBytes bounds the producer identity stored with an event; it
// is event.MaxIdentityBytes.
const MaxIdentityBytes = event.MaxIdentityBytes

// row is a record checked and converted to what both backends store.
type row struct {
	id, level, message, source, identity string
	partition                            int32
	offset                               int64
	timestamp, receivedAt                time.Time // UTC, microseconds
	metadata                             []byte    // JSON object; nil is NULL
	timestampFilled                      bool      // set by the gateway, not the client
}

// Validate reports whether Write accepts r: exactly the event's rules
// (event.Event.Validate, which already include everything both backends
// need: UTF-8 text without NUL bytes, years 1 to 9999, bounded
// JSON-encodable metadata) plus ReceivedAt within years 1 to 9999. The
// error is an *event.FieldError naming the field.
func (r Record) Validate() error {
	_, err := toRow(r, time.Now())
	return err
}

// toRow validates rec and converts it; the error is an *event.FieldError.
func toRow(rec Record, now time.Time) (row, error) {
	ev := rec.Event // Normalize upper-cases the level in place
	md, err := ev.Normalize()
	if err != nil {
		return row{}, err
	}
	if rec.ReceivedAt.IsZero() {
		rec.ReceivedAt = now
	}
	if !event.ValidTime(rec.ReceivedAt) {
		return row{}, &event.FieldError{Field: "received_at", Reason: "must be between years 1 and 9999"}
	}
	return row{
		id: ev.ID, level: string(ev.Level), message: ev.Message, source: ev.Source, identity: ev.Identity,
		partition: rec.KafkaPartition, offset: rec.KafkaOffset,
		timestamp: micro(ev.Timestamp), receivedAt: micro(rec.ReceivedAt), metadata: md,
		timestampFilled: ev.TimestampFilled,
	}, nil
}

// batchRow is toRow for record i of a batch; the error is a *RecordError.
func batchRow(i int, rec Record, now time.Time) (row, error) {
	r, err := toRow(rec, now)
	if err != nil {
		return row{}, &RecordError{Index: i, ID: rec.ID, Err: err}
	}
	return r, nil
}

// micro returns t in UTC truncated to microseconds, as both backends keep it.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// decodeMetadata is the inverse of the metadata conversion in toRow.
func decodeMetadata(js []byte) (map[string]any, error) {
	if js == nil {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}

// sameContent reports whether rows a and b have the same content (see
// Store): equal level, message, source, timestamp (unless the gateway
// filled both) and metadata, the last compared as JSON values so that rows
// encoded by another version of the encoder still compare equal.
func sameContent(a, b row) bool {
	if a.level != b.level || a.message != b.message || a.source != b.source {
		return false
	}
	if !(a.timestampFilled && b.timestampFilled) && !a.timestamp.Equal(b.timestamp) {
		return false
	}
	if a.metadata == nil || b.metadata == nil {
		return a.metadata == nil && b.metadata == nil
	}
	if bytes.Equal(a.metadata, b.metadata) {
		return true
	}
	x, errX := decodeMetadata(a.metadata)
	y, errY := decodeMetadata(b.metadata)
	return errX == nil && errY == nil && reflect.DeepEqual(x, y)
}
