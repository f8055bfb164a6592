package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// parseFast is the common case of DecodeFrom's parse (and, forwarded, of
// DecodeForwarded's), without reflection: one JSON object whose keys are
// exactly id, level, message, source, timestamp and metadata (forwarded:
// also identity and timestamp_filled), each at most once, the text fields
// JSON strings without \u escapes, metadata null or an object of strings
// (without \u escapes), numbers, booleans, nulls, arrays and objects,
// timestamp_filled true or false. On anything else (other keys, "identity"
// when not forwarded, nulls in the text fields, invalid UTF-8, numbers
// encoding/json cannot decode, a timestamp that is not RFC 3339 (forwarded:
// an empty one too), metadata over MaxMetadataBytes, trailing data, any
// JSON error) it returns ok false and the caller parses with encoding/json,
// which then also reports the error. When ok, e holds what encoding/json
// would have decoded (into input for DecodeFrom, into Event when
// forwarded; FuzzParseFastAgrees and FuzzParseForwardedAgrees check it);
// nothing is filled or validated yet.
//
// It also returns an upper bound of the length of the event's metadata
// encoded as JSON (appendValue): each string at most doubles (an escape
// of two bytes decodes to one byte and is written back in at most two;
// U+2028 and U+2029 go from three to six), every other token keeps its
// length except numbers, at most 32 bytes each. The text fields of an
// event it returns are storable text (valid UTF-8, and no NUL: \u escapes
// are left to encoding/json), so that check need not walk them again. All
// strings it returns share one copy of data. With metaText the metadata
// is checked by the same rules but not decoded: e.metadataJSON is its
// text (an object; null leaves it empty) and e.Metadata stays nil.
func parseFast(data []byte, forwarded, metaText bool) (e Event, metaBound int, ok bool) {
	s := scanner{data: data}
	s.space()
	if !s.byte('{') {
		return Event{}, 0, false
	}
	var seen uint8
	s.space()
	if s.byte('}') {
		return e, metaBound, s.end()
	}
	for {
		s.space()
		key, ok := s.plainKey()
		if !ok {
			return Event{}, 0, false
		}
		s.space()
		if !s.byte(':') {
			return Event{}, 0, false
		}
		s.space()
		var bit uint8
		switch key {
		case "identity":
			if !forwarded {
				return Event{}, 0, false
			}
			bit = 64
			e.Identity, ok = s.str(true)
		case "timestamp_filled":
			if !forwarded {
				return Event{}, 0, false
			}
			bit = 128
			switch {
			case s.literal("true"):
				e.TimestampFilled = true
			case s.literal("false"):
			default:
				ok = false
			}
		case "id":
			bit = 1
			e.ID, ok = s.str(true)
		case "level":
			bit = 2
			var l string
			l, ok = s.str(true)
			e.Level = Level(l)
		case "message":
			bit = 4
			e.Message, ok = s.str(true)
		case "source":
			bit = 8
			e.Source, ok = s.str(true)
		case "timestamp":
			bit = 16
			var ts string
			if ts, ok = s.str(true); ok && (ts != "" || forwarded) {
				e.Timestamp, ok = parseTime(ts, forwarded)
			}
		case "metadata":
			bit = 32
			start, numbers := s.i, s.numbers
			var v any
			v, ok = s.value(0, !metaText)
			if ok {
				if s.i-start > MaxMetadataBytes {
					return Event{}, 0, false
				}
				metaBound = 2*(s.i-start) + 32*(s.numbers-numbers)
				switch m, isMap := v.(map[string]any); {
				case isMap:
					e.Metadata = m
				case metaText && s.data[start] == '{':
					e.metadataJSON = s.sub(start, s.i)
				case v != nil || s.data[start] != 'n':
					return Event{}, 0, false // not an object, nor null
				}
			}
		default:
			return Event{}, 0, false
		}
		if !ok || seen&bit != 0 {
			return Event{}, 0, false
		}
		seen |= bit
		s.space()
		if s.byte(',') {
			continue
		}
		if s.byte('}') {
			return e, metaBound, s.end()
		}
		return Event{}, 0, false
	}
}

// parseTime is the timestamp rule of DecodeFrom (time.Parse), or, strict,
// the parse encoding/json applies to a forwarded event's time.Time (its
// UnmarshalJSON: RFC 3339 without the leniencies of time.Parse).
func parseTime(ts string, strict bool) (time.Time, bool) {
	if strict {
		var t time.Time
		err := t.UnmarshalText([]byte(ts))
		return t, err == nil
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	return t, err == nil
}

// maxFastDepth bounds the nesting parseFast follows; deeper metadata goes
// to encoding/json.
const maxFastDepth = 32

type scanner struct {
	data []byte
	text string // data as a string once one is returned: they are its substrings
	i    int
	// numbers counts the numbers read.
	numbers int
}

// sub returns data[i:j] as a substring of the one copy of data.
func (s *scanner) sub(i, j int) string {
	if s.text == "" {
		s.text = string(s.data)
	}
	return s.text[i:j]
}

func (s *scanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.data) && s.data[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.data)
}

// plainKey reads an object key of lower-case ASCII letters and
// underscores only (no escapes).
func (s *scanner) plainKey() (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.data) {
		c := s.data[s.i]
		if c == '"' {
			k := s.sub(start, s.i)
			s.i++
			return k, true
		}
		if (c < 'a' || c > 'z') && c != '_' {
			return "", false
		}
		s.i++
	}
	return "", false
}

// str reads a JSON string: escapes other than \u are decoded, \u escapes,
// raw control characters and invalid UTF-8 are refused. With decode
// false it only checks the string, returning "" and allocating nothing
// (the escapes it takes are ASCII, so the text is valid UTF-8 exactly
// when the decoded string is).
func (s *scanner) str(decode bool) (string, bool) {
	if !s.byte('"') {
		return "", false
	}
	start := s.i
	ascii := true
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			raw := s.data[start:s.i]
			s.i++
			if !ascii && !utf8.Valid(raw) {
				return "", false
			}
			if !decode {
				return "", true
			}
			return s.sub(start, s.i-1), true
		case c == '\\':
			return s.escaped(start, ascii, decode)
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		s.i++
	}
	return "", false
}

// escaped finishes a string from its first backslash at s.i (decoding it
// into a new string only with decode).
func (s *scanner) escaped(start int, ascii, decode bool) (string, bool) {
	var buf []byte
	if decode {
		buf = make([]byte, 0, s.i-start+16)
		buf = append(buf, s.data[start:s.i]...)
	}
	for s.i < len(s.data) {
		c := s.data[s.i]
		switch {
		case c == '"':
			s.i++
			if !decode {
				return "", ascii || utf8.Valid(s.data[start:s.i-1])
			}
			if !ascii && !utf8.Valid(buf) {
				return "", false
			}
			return string(buf), true
		case c == '\\':
			if s.i+1 >= len(s.data) {
				return "", false
			}
			var r byte
			switch s.data[s.i+1] {
			case '"':
				r = '"'
			case '\\':
				r = '\\'
			case '/':
				r = '/'
			case 'b':
				r = '\b'
			case 'f':
				r = '\f'
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			case 't':
				r = '\t'
			default: // \u and invalid escapes
				return "", false
			}
			if decode {
				buf = append(buf, r)
			}
			s.i += 2
			continue
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
		if decode {
			buf = append(buf, c)
		}
		s.i++
	}
	return "", false
}

// value reads any JSON value as encoding/json decodes it into an any.
// With decode false it only checks the value, accepting exactly what it
// accepts with decode (numbers counted the same), returning nil and
// allocating nothing.
func (s *scanner) value(depth int, decode bool) (any, bool) {
	if s.i >= len(s.data) || depth > maxFastDepth {
		return nil, false
	}
	switch c := s.data[s.i]; {
	case c == '"':
		v, ok := s.str(decode)
		if !decode {
			return nil, ok
		}
		return v, ok
	case c == '{':
		s.i++
		var m map[string]any
		if decode {
			m = map[string]any{}
		}
		s.space()
		if s.byte('}') {
			return anyOf(m, decode), true
		}
		for {
			s.space()
			k, ok := s.str(decode)
			if !ok {
				return nil, false
			}
			s.space()
			if !s.byte(':') {
				return nil, false
			}
			s.space()
			v, ok := s.value(depth+1, decode)
			if !ok {
				return nil, false
			}
			if decode {
				m[k] = v
			}
			s.space()
			if s.byte(',') {
				continue
			}
			if s.byte('}') {
				return anyOf(m, decode), true
			}
			return nil, false
		}
	case c == '[':
		s.i++
		var a []any
		if decode {
			a = []any{}
		}
		s.space()
		if s.byte(']') {
			return anyOf(a, decode), true
		}
		for {
			s.space()
			v, ok := s.value(depth+1, decode)
			if !ok {
				return nil, false
			}
			if decode {
				a = append(a, v)
			}
			s.space()
			if s.byte(',') {
				continue
			}
			if s.byte(']') {
				return anyOf(a, decode), true
			}
			return nil, false
		}
	case c == 't':
		return anyOf(true, decode), s.literal("true")
	case c == 'f':
		return anyOf(false, decode), s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		f, ok := s.float()
		if !ok || !decode {
			return nil, ok
		}
		return f, true
	}
	return nil, false
}

// anyOf is v when decoding, else nil.
func anyOf[T any](v T, decode bool) any {
	if !decode {
		return nil
	}
	return v
}

func (s *scanner) literal(word string) bool {
	if len(s.data)-s.i >= len(word) && string(s.data[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// float reads a number of JSON's grammar as a float64.
func (s *scanner) float() (float64, bool) {
	start := s.i
	s.byte('-')
	switch {
	case s.byte('0'):
	case s.digits() == 0:
		return 0, false
	}
	if s.byte('.') && s.digits() == 0 {
		return 0, false
	}
	if s.byte('e') || s.byte('E') {
		if !s.byte('+') {
			s.byte('-')
		}
		if s.digits() == 0 {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(s.data[start:s.i]), 64)
	if err != nil {
		return 0, false
	}
	s.numbers++
	return f, true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.data) && s.data[s.i] >= '0' && s.data[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}
