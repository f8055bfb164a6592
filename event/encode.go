package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the JSON form of e (the form the gateway forwards and
// Kafka keeps, decoded by DecodeForwarded) to b: the fields of Event in
// their order, metadata, identity and timestamp_filled omitted when empty. It is
// json.Marshal(e) without reflection and without escaping HTML; the two
// decode to the same Event. Metadata values of types other than those
// encoding/json decodes into are encoded by encoding/json.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"level":`...)
	b = appendString(b, string(e.Level))
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = append(b, `,"source":`...)
	b = appendString(b, e.Source)
	b = append(b, `,"timestamp":"`...)
	if !localYearIn0To9999(e.Timestamp) {
		return b, errors.New("encode event: timestamp year outside [0,9999]")
	}
	b = e.Timestamp.AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	switch {
	case len(e.Metadata) > 0:
		b = append(b, `,"metadata":`...)
		var err error
		if b, err = appendValue(b, e.Metadata); err != nil {
			return b, fmt.Errorf("encode event metadata: %w", err)
		}
	case e.Metadata == nil && e.metadataJSON != "":
		n := len(b)
		b = appendCompact(append(b, `,"metadata":`...), e.metadataJSON)
		if string(b[len(b)-2:]) == "{}" { // empty, as an empty Metadata is
			b = b[:n]
		}
	}
	if e.Identity != "" {
		b = append(b, `,"identity":`...)
		b = appendString(b, e.Identity)
	}
	if e.TimestampFilled {
		b = append(b, `,"timestamp_filled":true`...)
	}
	return append(b, '}'), nil
}

// appendValue appends v, a value of decoded JSON, in encoding/json's form
// (object keys sorted).
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendString(b, v), nil
	case float64:
		return appendFloat(b, v)
	case map[string]any:
		if v == nil {
			return append(b, "null"...), nil
		}
		var small [16]string
		keys := small[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			var err error
			if b, err = appendValue(b, v[k]); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendValue(b, x); err != nil {
				return b, err
			}
		}
		return append(b, ']'), nil
	}
	js, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, js...), nil
}

// appendCompact appends the JSON text js without the white space between
// its tokens (js is valid JSON: a quote that a backslash does not escape
// opens or closes a string).
func appendCompact(b []byte, js string) []byte {
	if strings.IndexAny(js, " \t\n\r") < 0 {
		return append(b, js...)
	}
	in := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		switch {
		case in && c == '\\':
			b = append(b, c, js[i+1])
			i++
			continue
		case c == '"':
			in = !in
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		}
		b = append(b, c)
	}
	return b
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, fmt.Errorf("unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	n := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		if m := len(b) - n; m >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping as encoding/json does
// except for <, > and &; invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:i+8]) {
			i += 8
			continue
		}
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain8 reports whether the 8 bytes of s are ASCII that appendString
// writes as they are (no control character, quote or backslash), eight at
// a time: each test sets a byte's top bit where the byte is below 0x20,
// is '"', is '\\' or is not ASCII.
func plain8(s string) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	return (x&highs | (x-0x20*ones)&^x&highs | zero(x^'"'*ones) | zero(x^'\\'*ones)) == 0
}
