package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"logsys/event"
)

// MaxIdentityBytes bounds the producer identity (a URI SAN) stored with an
// event.
const MaxIdentityBytes = 2048

// row is a record checked and converted to what both backends store.
type row struct {
	id, level, message, source, identity string
	partition                            int32
	offset                               int64
	timestamp, receivedAt                time.Time // UTC, microseconds
	metadata                             []byte    // JSON object; nil is NULL
}

// Validate reports whether Write accepts r: the event's own rules
// (event.Event.Validate) plus what both backends can store exactly (UTF-8
// text without NUL bytes, years 1 to 9999, JSON-encodable metadata of
// bounded size). The error is an *event.FieldError naming the field. A
// consumer can dead-letter records that fail it instead of retrying them.
func (r Record) Validate() error {
	_, err := toRow(0, r, time.Now())
	var re *RecordError
	if errors.As(err, &re) {
		return re.Err
	}
	return err
}

// toRow validates rec (index i of its batch) and converts it. The checks
// make both backends accept and reject the same records: PostgreSQL
// refuses NUL bytes and invalid UTF-8 in text and "\u0000" in jsonb.
func toRow(i int, rec Record, now time.Time) (row, error) {
	fail := func(field, format string, args ...any) (row, error) {
		return row{}, &RecordError{Index: i, ID: rec.ID, Err: &event.FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}}
	}
	ev := rec.Event // Validate normalises the level in place
	if err := ev.Validate(); err != nil {
		return row{}, &RecordError{Index: i, ID: rec.ID, Err: err}
	}
	for _, f := range []struct{ name, v string }{
		{"id", ev.ID}, {"message", ev.Message}, {"source", ev.Source}, {"identity", ev.Identity},
	} {
		if !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return fail(f.name, "must be UTF-8 without NUL bytes")
		}
	}
	if len(ev.Identity) > MaxIdentityBytes {
		return fail("identity", "longer than %d bytes", MaxIdentityBytes)
	}
	if !inRange(ev.Timestamp) {
		return fail("timestamp", "must be between years 1 and 9999")
	}
	if rec.ReceivedAt.IsZero() {
		rec.ReceivedAt = now
	}
	if !inRange(rec.ReceivedAt) {
		return fail("received_at", "must be between years 1 and 9999")
	}
	r := row{
		id: ev.ID, level: string(ev.Level), message: ev.Message, source: ev.Source, identity: ev.Identity,
		partition: rec.KafkaPartition, offset: rec.KafkaOffset,
		timestamp: micro(ev.Timestamp), receivedAt: micro(rec.ReceivedAt),
	}
	if ev.Metadata != nil {
		if bad := badString(ev.Metadata); bad != "" {
			return fail("metadata", "%s", bad)
		}
		js, err := json.Marshal(ev.Metadata)
		if err != nil {
			return fail("metadata", "%v", err)
		}
		if len(js) > maxMetadataJSON {
			return fail("metadata", "larger than %d bytes as JSON", maxMetadataJSON)
		}
		if hasNULEscape(js) {
			return fail("metadata", "may not contain NUL characters")
		}
		r.metadata = js
	}
	return r, nil
}

// maxMetadataJSON is the largest stored metadata; event.MaxMetadataBytes
// plus room for re-encoding (Go escapes <, > and & as \u00XX).
const maxMetadataJSON = 2 * (64 << 10)

// micro returns t in UTC truncated to microseconds, as both backends keep it.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// badString describes the first string in a decoded-JSON value that is not
// valid UTF-8 (encoding/json would replace it silently), or returns "".
func badString(v any) string {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "strings must be valid UTF-8"
		}
	case map[string]any:
		for k, x := range v {
			if s := badString(k); s != "" {
				return s
			}
			if s := badString(x); s != "" {
				return s
			}
		}
	case []any:
		for _, x := range v {
			if s := badString(x); s != "" {
				return s
			}
		}
	}
	return ""
}

// hasNULEscape reports whether JSON text js contains the escape \u0000.
// Backslashes only occur inside strings, each starting one escape.
func hasNULEscape(js []byte) bool {
	for i := 0; i < len(js); i++ {
		if js[i] != '\\' {
			continue
		}
		if i+5 < len(js) && js[i+1] == 'u' && string(js[i+2:i+6]) == "0000" {
			return true
		}
		i++ // skip the escaped character
	}
	return false
}

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
