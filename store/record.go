package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
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

// toRow validates rec (index i of its batch) and converts it. The checks
// make both backends accept and reject the same records: PostgreSQL
// refuses NUL bytes and invalid UTF-8 in text and "\u0000" in jsonb.
func toRow(i int, rec Record, now time.Time) (row, error) {
	fail := func(format string, args ...any) (row, error) {
		return row{}, &RecordError{Index: i, ID: rec.ID, Err: fmt.Errorf(format, args...)}
	}
	ev := rec.Event // Validate normalises the level in place
	if err := ev.Validate(); err != nil {
		return fail("%w", err)
	}
	for _, f := range []struct{ name, v string }{
		{"id", ev.ID}, {"message", ev.Message}, {"source", ev.Source}, {"identity", ev.Identity},
	} {
		if !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			return fail("%s: must be UTF-8 without NUL bytes", f.name)
		}
	}
	if len(ev.Identity) > MaxIdentityBytes {
		return fail("identity: longer than %d bytes", MaxIdentityBytes)
	}
	if !inRange(ev.Timestamp) {
		return fail("timestamp: must be between years 1 and 9999")
	}
	if rec.ReceivedAt.IsZero() {
		rec.ReceivedAt = now
	}
	if !inRange(rec.ReceivedAt) {
		return fail("received_at: must be between years 1 and 9999")
	}
	r := row{
		id: ev.ID, level: string(ev.Level), message: ev.Message, source: ev.Source, identity: ev.Identity,
		partition: rec.KafkaPartition, offset: rec.KafkaOffset,
		timestamp: micro(ev.Timestamp), receivedAt: micro(rec.ReceivedAt),
	}
	if ev.Metadata != nil {
		if bad := badString(ev.Metadata); bad != "" {
			return fail("metadata: %s", bad)
		}
		js, err := json.Marshal(ev.Metadata)
		if err != nil {
			return fail("metadata: %w", err)
		}
		if len(js) > maxMetadataJSON {
			return fail("metadata: larger than %d bytes as JSON", maxMetadataJSON)
		}
		if hasNULEscape(js) {
			return fail("metadata: may not contain NUL characters")
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
