package otlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Decode parses an ExportLogsServiceRequest body. Protobuf follows the
// proto3 rules (a string field that is not UTF-8 makes the payload
// malformed); JSON follows the OTLP JSON mapping: lowerCamelCase keys (the
// proto names are accepted too), unknown fields ignored, enums as numbers
// (names accepted too), 64-bit integers as strings or numbers, and traceId
// and spanId as hex strings rather than protobuf JSON's base64.
func Decode(body []byte, enc Encoding) (*logsv1.LogsData, error) {
	req := &logsv1.LogsData{}
	if enc == JSON {
		js, err := hexIDsToBase64(body)
		if err != nil {
			return nil, err
		}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, req); err != nil {
			return nil, badData("not an OTLP JSON ExportLogsServiceRequest: %v", err)
		}
		return req, nil
	}
	if err := proto.Unmarshal(body, req); err != nil {
		return nil, badData("not an OTLP protobuf ExportLogsServiceRequest: %v", err)
	}
	return req, nil
}

// idKeys are the JSON keys whose values OTLP writes as hex: the bytes
// fields of a LogRecord (the only bytes fields of the logs schema besides
// AnyValue.bytesValue, which stays base64). An object key is a JSON string
// followed by a colon, so these names cannot be confused with attribute
// keys, which are values of "key".
var idKeys = [][]byte{[]byte(`"traceId"`), []byte(`"spanId"`), []byte(`"trace_id"`), []byte(`"span_id"`)}

// hexIDsToBase64 rewrites the hex string values of the id keys as base64,
// the form protojson reads, in one pass over the text. Everything else is
// copied unchanged and left to protojson to judge; data is returned as is
// when it has no id to rewrite.
func hexIDsToBase64(data []byte) ([]byte, error) {
	var out []byte
	last := 0 // data[last:] is not yet copied to out
	for i := 0; i < len(data); {
		if data[i] != '"' {
			i++
			continue
		}
		end := stringEnd(data, i)
		if end < 0 {
			break // unterminated: protojson reports it
		}
		key := data[i:end]
		i = end
		if !isIDKey(key) {
			continue
		}
		colon := skipSpace(data, end)
		if colon >= len(data) || data[colon] != ':' {
			continue // a string value equal to a key name
		}
		v := skipSpace(data, colon+1)
		if v >= len(data) || data[v] != '"' {
			continue // null or a wrong type: protojson reports it
		}
		vend := stringEnd(data, v)
		if vend < 0 {
			break
		}
		var text string
		if err := json.Unmarshal(data[v:vend], &text); err != nil {
			return nil, badData("%s: not a JSON string", key)
		}
		raw, err := hex.DecodeString(text)
		if err != nil {
			return nil, badData("%s: %q is not a hex string", key, text)
		}
		if out == nil {
			out = make([]byte, 0, len(data)+len(data)/8)
		}
		out = append(out, data[last:v]...)
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, raw)
		out = append(out, '"')
		last, i = vend, vend
	}
	if out == nil {
		return data, nil
	}
	return append(out, data[last:]...), nil
}

// stringEnd returns the index just past the JSON string starting at
// data[start] (a quote), or -1 when it does not end.
func stringEnd(data []byte, start int) int {
	for j := start + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// isIDKey reports whether the JSON string key (quotes included) is one of
// idKeys, also when written with escapes ("trace\u0049d").
func isIDKey(key []byte) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		var s string
		if json.Unmarshal(key, &s) != nil {
			return false
		}
		key, _ = json.Marshal(s)
	}
	for _, k := range idKeys {
		if bytes.Equal(key, k) {
			return true
		}
	}
	return false
}
