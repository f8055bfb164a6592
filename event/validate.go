package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits on field sizes; larger values are rejected, never truncated.
const (
	MaxMessageBytes = 64 << 10
	MaxSourceBytes  = 256
	MaxIDBytes      = 128
	// MaxIdentityBytes bounds the sender's identity (a URI SAN).
	MaxIdentityBytes = 2048
	// MaxMetadataBytes bounds the metadata as the client sent it.
	MaxMetadataBytes = 64 << 10
	// MaxMetadataJSONBytes bounds the metadata as stores keep it (see
	// Normalize); encoding can make it longer than the client's text
	// (1e20 is written out in full, invalid UTF-8 becomes U+FFFD).
	MaxMetadataJSONBytes = 2 * MaxMetadataBytes
)

// Validate checks every field against the rules that make an event
// storable and returns a *FieldError naming the first bad one:
//
//   - id: required, at most MaxIDBytes, no blank (space, tab, CR, LF);
//   - level: one of Levels, any case (normalised to upper case in place);
//   - message and source: required (not blank), at most MaxMessageBytes
//     and MaxSourceBytes;
//   - identity: optional, at most MaxIdentityBytes;
//   - every text field, and every metadata key and string: valid UTF-8
//     without NUL bytes;
//   - timestamp: required, in years 1 to 9999 both in UTC and in its own
//     zone, with a zone offset of whole minutes under 24 hours (so that
//     RFC 3339 carries it exactly);
//   - metadata: optional, encodable as JSON, at most MaxMetadataJSONBytes
//     once encoded.
//
// These are the only rules: gateway, producer, consumer and both store
// backends all call this function, so an event it accepts is stored.
func (e *Event) Validate() error {
	_, err := e.check(false, scanned{})
	return err
}

// Normalize is Validate that also returns the metadata encoded as JSON, the
// form a store keeps (object keys sorted, no HTML escaping; nil when
// Metadata is nil), so that a store does not encode it a second time.
func (e *Event) Normalize() (metadata []byte, err error) { return e.check(true, scanned{}) }

// scanned is what parseFast established about an event it parsed (ok):
// its id, message, source and metadata strings are storable text, and
// its metadata encodes to at most metaBound bytes.
type scanned struct {
	ok        bool
	metaBound int
}

// check applies the rules, skipping those p already established; it
// returns the encoded metadata when keep is set.
func (e *Event) check(keep bool, p scanned) ([]byte, error) {
	switch {
	case e.ID == "":
		return nil, &FieldError{Field: "id", Reason: "is required"}
	case len(e.ID) > MaxIDBytes:
		return nil, &FieldError{Field: "id", Reason: fmt.Sprintf("longer than %d bytes", MaxIDBytes)}
	case strings.ContainsAny(e.ID, " \t\r\n"):
		return nil, &FieldError{Field: "id", Reason: "may not contain whitespace"}
	case !p.ok && !storableText(e.ID):
		return nil, &FieldError{Field: "id", Reason: textReason}
	}
	l, err := ParseLevel(string(e.Level))
	if err != nil {
		return nil, &FieldError{Field: "level", Reason: err.Error()}
	}
	e.Level = l
	switch {
	case strings.TrimSpace(e.Message) == "":
		return nil, &FieldError{Field: "message", Reason: "is required"}
	case len(e.Message) > MaxMessageBytes:
		return nil, &FieldError{Field: "message", Reason: fmt.Sprintf("longer than %d bytes", MaxMessageBytes)}
	case !p.ok && !storableText(e.Message):
		return nil, &FieldError{Field: "message", Reason: textReason}
	case strings.TrimSpace(e.Source) == "":
		return nil, &FieldError{Field: "source", Reason: "is required"}
	case len(e.Source) > MaxSourceBytes:
		return nil, &FieldError{Field: "source", Reason: fmt.Sprintf("longer than %d bytes", MaxSourceBytes)}
	case !p.ok && !storableText(e.Source):
		return nil, &FieldError{Field: "source", Reason: textReason}
	case len(e.Identity) > MaxIdentityBytes:
		return nil, &FieldError{Field: "identity", Reason: fmt.Sprintf("longer than %d bytes", MaxIdentityBytes)}
	case !storableText(e.Identity):
		return nil, &FieldError{Field: "identity", Reason: textReason}
	}
	if reason := timestampReason(e.Timestamp); reason != "" {
		return nil, &FieldError{Field: "timestamp", Reason: reason}
	}
	if e.Metadata == nil || (p.ok && !keep && p.metaBound <= MaxMetadataJSONBytes) {
		return nil, nil
	}
	bound, native, bad := scan(e.Metadata)
	if bad != "" {
		return nil, &FieldError{Field: "metadata", Reason: bad}
	}
	if !keep && native && bound <= MaxMetadataJSONBytes {
		return nil, nil // encoding would succeed within the limit
	}
	if native {
		// appendValue writes encoding/json's form without reflection;
		// scan found no NUL in the strings.
		js, err := appendValue(make([]byte, 0, min(bound, MaxMetadataJSONBytes+1)), e.Metadata)
		if err != nil {
			return nil, &FieldError{Field: "metadata", Reason: "cannot be encoded as JSON: " + err.Error()}
		}
		if len(js) > MaxMetadataJSONBytes {
			return nil, &FieldError{Field: "metadata", Reason: fmt.Sprintf("larger than %d bytes as JSON", MaxMetadataJSONBytes)}
		}
		if !keep {
			return nil, nil
		}
		return js, nil
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	js, reason := encodeMetadata(buf, e.Metadata)
	if reason != "" {
		return nil, &FieldError{Field: "metadata", Reason: reason}
	}
	if !keep {
		return nil, nil
	}
	return bytes.Clone(js), nil
}

// bufPool holds encoding buffers: Validate runs on every hop of every event.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// ValidTime reports whether t's year in UTC is within 1..9999, the range
// every store keeps exactly.
func ValidTime(t time.Time) bool {
	sec := t.Unix()
	return sec >= year1Start && sec <= year9999End
}

// The first second of years 0 and 1 and the last of year 9999 (UTC, as
// Unix seconds): years are judged by comparing seconds, without working
// out the date.
var (
	year0Start  = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	year1Start  = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	year9999End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - 1
)

// localYearIn0To9999 reports whether t's year in its own zone is within
// 0..9999: t.Year() without working out the date.
func localYearIn0To9999(t time.Time) bool {
	_, off := t.Zone()
	if off < -1e9 || off > 1e9 { // beyond any zone: the date, exactly
		y := t.Year()
		return y >= 0 && y <= 9999
	}
	sec := t.Unix()
	if sec < year0Start-1e9 || sec > year9999End+1e9 {
		return false
	}
	sec += int64(off)
	return sec >= year0Start && sec <= year9999End
}

const textReason = "must be UTF-8 without NUL bytes"

func storableText(s string) bool { return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 }

// timestampReason says why t is not a storable timestamp, or returns "".
func timestampReason(t time.Time) string {
	if t.IsZero() {
		return "is required"
	}
	_, off := t.Zone()
	if !ValidTime(t) || !localYearIn0To9999(t) {
		return "must be between years 1 and 9999 (in UTC and in its own zone)"
	}
	if off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return "zone offset must be whole minutes between -23:59 and +23:59"
	}
	return ""
}

// encodeMetadata returns m as stored (in buf's memory), or why it cannot
// be; scan has found no bad string in m.
func encodeMetadata(buf *bytes.Buffer, m map[string]any) ([]byte, string) {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, "cannot be encoded as JSON: " + err.Error()
	}
	js := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(js) > MaxMetadataJSONBytes {
		return nil, fmt.Sprintf("larger than %d bytes as JSON", MaxMetadataJSONBytes)
	}
	// Values of other Go types than those encoding/json decodes into are
	// not walked by scan; their NUL bytes show up as escapes.
	if hasNULEscape(js) {
		return nil, "may not contain NUL characters"
	}
	return js, ""
}

// scan walks a decoded-JSON value. bad describes the first key or string
// that is not storable text (encoding/json would replace invalid UTF-8
// silently; no store keeps NUL). bound is an upper bound of the encoded
// size, known (native) when the value holds only the types encoding/json
// decodes into, with finite numbers: then encoding cannot fail.
func scan(v any) (bound int, native bool, bad string) {
	const maxNumber = 32 // -0.0000012345678901234567 is 25 bytes
	switch v := v.(type) {
	case nil:
		return 4, true, ""
	case bool:
		return 5, true, ""
	case float64:
		return maxNumber, !math.IsNaN(v) && !math.IsInf(v, 0), ""
	case string:
		return scanString(v)
	case map[string]any:
		bound, native = 2+2*len(v), true // braces, colons and commas
		for k, x := range v {
			n, ok, bad := scanString(k)
			if bad != "" {
				return 0, false, bad
			}
			m, ok2, bad := scan(x)
			if bad != "" {
				return 0, false, bad
			}
			bound, native = bound+n+m, native && ok && ok2
		}
		return bound, native, ""
	case []any:
		bound, native = 2+len(v), true
		for _, x := range v {
			n, ok, bad := scan(x)
			if bad != "" {
				return 0, false, bad
			}
			bound, native = bound+n, native && ok
		}
		return bound, native, ""
	}
	return 0, false, ""
}

// scanString is scan of a string (a value or an object key).
func scanString(s string) (bound int, native bool, bad string) {
	if !utf8.ValidString(s) {
		return 0, false, "strings must be valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return 0, false, "may not contain NUL characters"
	}
	return 2 + 6*len(s), true, "" // every byte escaped as \u00XX at worst
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
