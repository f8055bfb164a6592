package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// strictHook converts what the layers hold (YAML or JSON values from the
// file, strings from the environment, typed values from defaults and
// flags) into the tree's types, refusing everything else: no number where
// a string belongs, no number as a duration (15 is not 15s), no string
// that does not parse.
func strictHook(_ reflect.Type, to reflect.Type, data any) (any, error) {
	if data == nil {
		return nil, nil
	}
	switch {
	case to == durationType:
		return toDuration(data)
	case to.Kind() == reflect.String:
		if s, ok := data.(string); ok {
			return s, nil
		}
		return nil, fmt.Errorf("%s %v is not a string (quote it)", kind(data), data)
	case to.Kind() == reflect.Bool:
		switch v := data.(type) {
		case bool:
			return v, nil
		case string:
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", v)
			}
			return b, nil
		}
		return nil, fmt.Errorf("%s %v is not true or false", kind(data), data)
	case to.Kind() >= reflect.Int && to.Kind() <= reflect.Int64:
		return toInt(data, to.Bits())
	case to.Kind() == reflect.Float64:
		return toFloat(data)
	case to.Kind() == reflect.Slice && to.Elem().Kind() == reflect.String:
		return toStrings(data)
	}
	return data, nil
}

func toDuration(data any) (any, error) {
	switch v := data.(type) {
	case time.Duration:
		return v, nil
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration: give it a unit, such as 15s, 500ms or 2h", v)
		}
		return d, nil
	}
	return nil, fmt.Errorf("%s %v is not a duration: give it a unit, such as %vs, 500ms or 2h", kind(data), data, data)
}

func toInt(data any, bits int) (any, error) {
	var n int64
	switch v := data.(type) {
	case int:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case uint64:
		if v > math.MaxInt64 {
			return nil, fmt.Errorf("%d is out of range", v)
		}
		n = int64(v)
	case float64: // JSON numbers
		if v != math.Trunc(v) || math.Abs(v) > 1<<53 {
			return nil, fmt.Errorf("%v is not a whole number", v)
		}
		n = int64(v)
	case string:
		p, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		n = p
	default:
		return nil, fmt.Errorf("%s %v is not a whole number", kind(data), data)
	}
	if bits < 64 && (n > 1<<(bits-1)-1 || n < -(1<<(bits-1))) {
		return nil, fmt.Errorf("%d is out of range", n)
	}
	return n, nil
}

func toFloat(data any) (any, error) {
	switch v := data.(type) {
	case float64:
		return v, nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	}
	return nil, fmt.Errorf("%s %v is not a number", kind(data), data)
}

// toStrings accepts a list of strings, or one comma-separated string (the
// form of environment variables: LOGSYS_GATEWAY_CLIENTS=client,ops).
func toStrings(data any) (any, error) {
	switch v := data.(type) {
	case []string:
		return v, nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: %s %v is not a string (quote it)", i, kind(e), e)
			}
			out[i] = s
		}
		return out, nil
	case string:
		out := []string{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s %v is not a list of strings", kind(data), data)
}

// kind names a decoded value's type the way a configuration user thinks.
func kind(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case int, int32, int64, uint64, float64:
		return "number"
	case string:
		return "string"
	case []any, []string:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return fmt.Sprintf("%T", v)
}
