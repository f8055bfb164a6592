package otlp

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	collectorlogsv1 "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// sampleJSON is an OTLP JSON request as the specification writes one:
// lowerCamelCase, hex ids (in either case), enums as numbers, 64-bit
// integers as strings or numbers, and a field this receiver does not know.
const sampleJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
 "scopeLogs":[{"scope":{"name":"app/db","version":"1.2"},"logRecords":[
  {"timeUnixNano":"1767323045123456789","observedTimeUnixNano":1767323045123457789,"severityNumber":17,"severityText":"Error",
   "body":{"stringValue":"payment failed"},"attributes":[{"key":"order","value":{"intValue":"42"}},{"key":"raw","value":{"bytesValue":"aGk="}}],
   "traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"0102030405060708","flags":1,"futureField":{"x":1}}]}]}]}`

func sampleProto() *logsv1.LogsData {
	return &logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource: request(service("checkout")).ResourceLogs[0].Resource,
		ScopeLogs: []*logsv1.ScopeLogs{{Scope: &commonv1.InstrumentationScope{Name: "app/db", Version: "1.2"}, LogRecords: []*logsv1.LogRecord{{
			TimeUnixNano: 1767323045123456789, ObservedTimeUnixNano: 1767323045123457789, SeverityNumber: 17, SeverityText: "Error",
			Body:       str("payment failed"),
			Attributes: []*commonv1.KeyValue{kv("order", integer(42)), kv("raw", raw([]byte("hi")))},
			TraceId:    []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c},
			SpanId:     []byte{1, 2, 3, 4, 5, 6, 7, 8}, Flags: 1,
		}}}},
	}}}
}

func TestDecodeJSONAndProtobufAgree(t *testing.T) {
	fromJSON, err := Decode([]byte(sampleJSON), JSON)
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	pb, _ := proto.Marshal(sampleProto())
	fromPB, err := Decode(pb, Protobuf)
	if err != nil {
		t.Fatalf("protobuf: %v", err)
	}
	if !proto.Equal(fromJSON, sampleProto()) || !proto.Equal(fromPB, sampleProto()) {
		t.Fatalf("decoded\n json %v\n  pb %v\nwant %v", fromJSON, fromPB, sampleProto())
	}
	a, _, _ := Events(fromJSON, now, sender, limits)
	b, _, _ := Events(fromPB, now, sender, limits)
	if len(a) != 1 || len(b) != 1 || a[0].ID != b[0].ID {
		t.Fatalf("the same record in both encodings: %+v and %+v, want one id", a, b)
	}
}

// TestDecodeIsTheOfficialRequest: LogsData and the collector's
// ExportLogsServiceRequest are one message on the wire and in JSON.
func TestDecodeIsTheOfficialRequest(t *testing.T) {
	official := &collectorlogsv1.ExportLogsServiceRequest{ResourceLogs: sampleProto().ResourceLogs}
	pb, _ := proto.Marshal(official)
	got, err := Decode(pb, Protobuf)
	if err != nil || !proto.Equal(got, sampleProto()) {
		t.Fatalf("protobuf of ExportLogsServiceRequest: %v, %v", got, err)
	}
	back, _ := proto.Marshal(got)
	var again collectorlogsv1.ExportLogsServiceRequest
	if err := proto.Unmarshal(back, &again); err != nil || !proto.Equal(&again, official) {
		t.Fatalf("LogsData read back as ExportLogsServiceRequest: %v, %v", &again, err)
	}
	js, _ := protojson.Marshal(official) // base64 ids: protojson's own form is read too
	if got, err := Decode(js, JSON); err == nil {
		t.Fatalf("base64 ids decoded as hex: %v", got) // and refused: OTLP JSON ids are hex
	}
}

func TestDecodeRefusesMalformedPayloads(t *testing.T) {
	pb, _ := proto.Marshal(sampleProto())
	// A string field holding bytes that are not UTF-8: an attribute key.
	bad := protowire.AppendTag(nil, 1, protowire.BytesType)
	bad = protowire.AppendBytes(bad, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType),
		protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType),
			protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType),
				protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0xff, 0xfe})))))
	cases := []struct {
		name string
		body []byte
		enc  Encoding
		want string
	}{
		{"truncated protobuf", pb[:len(pb)-3], Protobuf, "not an OTLP protobuf"},
		{"non-UTF-8 string in protobuf", bad, Protobuf, "invalid UTF-8"},
		{"JSON that is not JSON", []byte(`{"resourceLogs":[`), JSON, "not an OTLP JSON"},
		{"non-UTF-8 in JSON", []byte("{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"\xff\"}]}}]}"), JSON, "not an OTLP JSON"},
		{"trace id not hex", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"xyz"}]}]}]}`), JSON, `"traceId": "xyz" is not a hex string`},
		{"span id of odd length", []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"spanId":"abc"}]}]}]}`), JSON, `is not a hex string`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.body, c.enc)
			if !errors.Is(err, ErrBadData) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrBadData with %q", err, c.want)
			}
		})
	}
}

func TestDecodeJSONLeniency(t *testing.T) {
	cases := map[string]string{
		"proto field names":  `{"resource_logs":[{"scope_logs":[{"log_records":[{"trace_id":"5b8efff798038103d269b633813fc60c","severity_number":9}]}]}]}`,
		"enum by name":       `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"5b8efff798038103d269b633813fc60c","severityNumber":"SEVERITY_NUMBER_INFO"}]}]}]}`,
		"spaces around ids":  `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId" :  "5b8efff798038103d269b633813fc60c" ,"severityNumber":9}]}]}]}`,
		"escapes in the key": `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"trace\u0049d":"5b8efff798038103d269b633813fc60c","severityNumber":9}]}]}]}`,
		"an id name as data": `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":{"stringValue":"traceId"},"traceId":"5b8efff798038103d269b633813fc60c","severityNumber":9}]}]}]}`,
	}
	for name, js := range cases {
		t.Run(name, func(t *testing.T) {
			req, err := Decode([]byte(js), JSON)
			if err != nil {
				t.Fatal(err)
			}
			lr := req.GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0]
			if len(lr.GetTraceId()) != 16 || lr.GetTraceId()[0] != 0x5b || lr.GetSeverityNumber() != 9 {
				t.Fatalf("record %v", lr)
			}
		})
	}
	// An enum name this version does not know is ignored, as unknown
	// fields must be: the severity is then unspecified.
	req, err := Decode([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"LOUD","severityText":"warn"}]}]}]}`), JSON)
	if err != nil || req.ResourceLogs[0].ScopeLogs[0].LogRecords[0].GetSeverityNumber() != 0 {
		t.Fatalf("unknown enum name: %v %v", req, err)
	}
	if req, err := Decode([]byte(`{}`), JSON); err != nil || Count(req) != 0 {
		t.Fatalf("empty request: %v %v", req, err)
	}
}

func TestReadBody(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	const limit = 64 << 10
	bomb := gz(make([]byte, 100<<20)) // 100 MiB of zeros in ~100 KiB
	smallBomb := gz(make([]byte, 1<<20))
	cases := []struct {
		name, encoding string
		body           []byte
		want           error // nil: read back the plain bytes
		plain          int
	}{
		{"identity", "", []byte("abc"), nil, 3},
		{"identity named", "Identity", []byte("abc"), nil, 3},
		{"exactly the limit", "", make([]byte, limit), nil, limit},
		{"one byte over", "", make([]byte, limit+1), ErrTooLarge, 0},
		{"gzip", "gzip", gz([]byte("abc")), nil, 3},
		{"gzip of exactly the limit", "GZIP", gz(make([]byte, limit)), nil, limit},
		{"gzip bomb", "gzip", smallBomb, ErrTooLarge, 0},
		{"gzip larger than the limit on the wire", "gzip", bomb, ErrTooLarge, 0},
		{"corrupt gzip", "gzip", []byte("\x1f\x8b\x08\x00garbage"), ErrBadData, 0},
		{"not gzip", "gzip", []byte("plain"), ErrBadData, 0},
		{"truncated gzip", "gzip", gz([]byte("abcdefgh"))[:15], ErrBadData, 0},
		{"deflate", "deflate", []byte("x"), ErrUnsupported, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &countingReader{r: bytes.NewReader(c.body)}
			got, err := ReadBody(src, c.encoding, limit)
			if c.want == nil {
				if err != nil || len(got) != c.plain {
					t.Fatalf("read %d bytes, %v; want %d", len(got), err, c.plain)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			if src.n > limit+1 {
				t.Fatalf("read %d bytes from the wire, more than the limit + 1", src.n)
			}
		})
	}
	_, err := ReadBody(bytes.NewReader(smallBomb), "gzip", limit)
	if err == nil || !strings.Contains(err.Error(), "once decompressed") {
		t.Fatalf("bomb: %v, want the decompressed size named", err)
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestEncodingOf(t *testing.T) {
	for ct, want := range map[string]Encoding{
		"application/x-protobuf": Protobuf, "application/json": JSON, "application/json; charset=utf-8": JSON,
		"Application/X-Protobuf": Protobuf,
	} {
		if got, err := EncodingOf(ct); err != nil || got != want {
			t.Errorf("EncodingOf(%q) = %v, %v", ct, got, err)
		}
	}
	for _, ct := range []string{"", "text/plain", "application/grpc", "application/protobuf;", "application/x-ndjson"} {
		if _, err := EncodingOf(ct); !errors.Is(err, ErrUnsupported) {
			t.Errorf("EncodingOf(%q) = %v, want ErrUnsupported", ct, err)
		}
	}
}
