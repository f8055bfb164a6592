package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
)

// MaxDepth bounds the nesting of arrays and key-value lists in a body or
// an attribute value; a record with deeper values is refused.
const MaxDepth = 32

// maxExactInt is the largest integer magnitude a JSON number (float64)
// holds exactly; larger integers become decimal strings.
const maxExactInt = 1 << 53

// textReason is event's reason for a string it cannot store.
const textReason = "must be UTF-8 without NUL bytes"

// convErr locates a value that cannot be mapped, relative to where the
// conversion started.
type convErr struct{ path, reason string }

func (e *convErr) within(prefix string) *convErr {
	return &convErr{path: prefix + e.path, reason: e.reason}
}

// convert returns v as the JSON value metadata holds: strings, booleans
// and doubles as themselves (NaN and the infinities as the strings "NaN",
// "Infinity" and "-Infinity", as proto3 JSON writes them), integers as
// numbers when a float64 holds them exactly and as decimal strings beyond,
// bytes as base64, arrays and key-value lists as arrays and objects (a
// repeated key: the last one wins), and an empty value (or the profiles-only
// string index) as null.
func convert(v *commonv1.AnyValue, depth int) (any, *convErr) {
	switch x := v.GetValue().(type) {
	case *commonv1.AnyValue_StringValue:
		if strings.IndexByte(x.StringValue, 0) >= 0 {
			return nil, &convErr{reason: textReason}
		}
		return x.StringValue, nil
	case *commonv1.AnyValue_BoolValue:
		return x.BoolValue, nil
	case *commonv1.AnyValue_IntValue:
		if x.IntValue > maxExactInt || x.IntValue < -maxExactInt {
			return strconv.FormatInt(x.IntValue, 10), nil
		}
		return float64(x.IntValue), nil
	case *commonv1.AnyValue_DoubleValue:
		switch d := x.DoubleValue; {
		case math.IsNaN(d):
			return "NaN", nil
		case math.IsInf(d, 1):
			return "Infinity", nil
		case math.IsInf(d, -1):
			return "-Infinity", nil
		default:
			return d, nil
		}
	case *commonv1.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue), nil
	case *commonv1.AnyValue_ArrayValue:
		if depth >= MaxDepth {
			return nil, &convErr{reason: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		vals := x.ArrayValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			c, err := convert(e, depth+1)
			if err != nil {
				return nil, err.within(fmt.Sprintf("[%d]", i))
			}
			out[i] = c
		}
		return out, nil
	case *commonv1.AnyValue_KvlistValue:
		if depth >= MaxDepth {
			return nil, &convErr{reason: fmt.Sprintf("nested deeper than %d levels", MaxDepth)}
		}
		kvs := x.KvlistValue.GetValues()
		out := make(map[string]any, len(kvs))
		for _, kv := range kvs {
			c, err := keyValue(kv, depth+1)
			if err != nil {
				return nil, err
			}
			out[kv.GetKey()] = c
		}
		return out, nil
	}
	return nil, nil
}

// keyValue converts the value of kv; errors are located at ["key"].
func keyValue(kv *commonv1.KeyValue, depth int) (any, *convErr) {
	if strings.IndexByte(kv.GetKey(), 0) >= 0 {
		return nil, &convErr{path: keyPath(kv), reason: "key " + textReason}
	}
	c, err := convert(kv.GetValue(), depth)
	if err != nil {
		return nil, err.within(keyPath(kv))
	}
	return c, nil
}

func keyPath(kv *commonv1.KeyValue) string { return fmt.Sprintf("[%q]", kv.GetKey()) }

// attributes converts a list of attributes. At most max distinct keys are
// kept, the first ones in the order sent (a repeated key replaces the
// earlier value); dropped counts the keys beyond.
func attributes(kvs []*commonv1.KeyValue, max int) (m map[string]any, dropped int, err *convErr) {
	if len(kvs) == 0 {
		return nil, 0, nil
	}
	m = make(map[string]any, min(len(kvs), max))
	for _, kv := range kvs {
		if _, seen := m[kv.GetKey()]; !seen && len(m) >= max {
			dropped++
			continue
		}
		c, err := keyValue(kv, 0)
		if err != nil {
			return nil, 0, err
		}
		m[kv.GetKey()] = c
	}
	return m, dropped, nil
}

// bodyText returns the message text of a body: a string as it is, any
// other value as its JSON text (see convert), an empty body as "".
func bodyText(v *commonv1.AnyValue) (string, *convErr) {
	if s, ok := v.GetValue().(*commonv1.AnyValue_StringValue); ok {
		return s.StringValue, nil
	}
	c, err := convert(v, 0)
	if err != nil || c == nil {
		return "", err
	}
	return jsonText(c), nil
}

// jsonText encodes a converted value; it cannot fail (convert returns only
// finite numbers, strings, booleans, null, arrays and objects).
func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(buf.String(), "\n")
}
