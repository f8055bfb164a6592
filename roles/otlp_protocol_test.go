package roles

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	collectorlogsv1 "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"logsys/internal/testutil"
	"logsys/otlp"
)

// otlpJSON is an OTLP/JSON export as the specification spells it (hex ids,
// enum numbers, 64-bit integers as strings).
const otlpJSON = `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"json-svc"}}]},
 "scopeLogs":[{"scope":{"name":"lib"},"logRecords":[{"timeUnixNano":"1767323045000000000","severityNumber":21,
 "body":{"stringValue":"from JSON"},"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"0102030405060708"}]}]}]}`

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// postOTLP posts body to /v1/logs and returns the answer.
func postOTLP(t *testing.T, c *http.Client, url, ctype, encoding string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// TestOTLPProtocolAnswers drives /v1/logs of the real gateway with
// hand-made requests: the JSON encoding (gzip too), an empty export, and
// each failure with its status and a google.rpc.Status body in the
// request's encoding.
func TestOTLPProtocolAnswers(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	c := p.client("dev", "client")
	url := p.url(OTLPPath)
	many := &logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{ScopeLogs: []*logsv1.ScopeLogs{{}}}}}
	for i := 0; i < DefaultGatewayConfig().MaxBatchEvents+1; i++ {
		many.ResourceLogs[0].ScopeLogs[0].LogRecords = append(many.ResourceLogs[0].ScopeLogs[0].LogRecords, &logsv1.LogRecord{})
	}
	tooMany, _ := proto.Marshal(many)
	nul, _ := proto.Marshal(&logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{ScopeLogs: []*logsv1.ScopeLogs{{LogRecords: []*logsv1.LogRecord{
		{Body: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: "a\x00"}}}}}}}}})
	bomb := gzipped(make([]byte, DefaultGatewayConfig().MaxBatchBytes+1))
	// 5000 records of one resource of 8 KiB: 40 KiB on the wire, 40 MiB
	// of resource copies in the events.
	expands := &logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource: &resourcev1.Resource{Attributes: []*commonv1.KeyValue{{Key: "blob",
			Value: &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: strings.Repeat("x", 8<<10)}}}}},
		ScopeLogs: []*logsv1.ScopeLogs{{LogRecords: many.ResourceLogs[0].ScopeLogs[0].LogRecords[:5000]}}}}}
	expanding, _ := proto.Marshal(expands)
	cases := []struct {
		name, ctype, encoding string
		body                  []byte
		status                int
		answer                string // Content-Type of the answer
		reason                string // in Status.message
		violation             string // a BadRequest field, if any
	}{
		{"JSON", "application/json", "", []byte(otlpJSON), 200, "application/json", "", ""},
		{"JSON gzip", "application/json; charset=utf-8", "gzip", gzipped([]byte(otlpJSON)), 200, "application/json", "", ""},
		{"empty export", "application/x-protobuf", "", nil, 200, "application/x-protobuf", "", ""},
		{"empty JSON export", "application/json", "", []byte(`{}`), 200, "application/json", "", ""},
		{"malformed protobuf", "application/x-protobuf", "", []byte{0x0a, 0xff}, 400, "application/x-protobuf", "not an OTLP protobuf", ""},
		{"malformed JSON", "application/json", "", []byte(`{"resourceLogs":`), 400, "application/json", "not an OTLP JSON", ""},
		{"every record refused", "application/x-protobuf", "", nul, 400, "application/x-protobuf", "1 of 1 log records refused", "resourceLogs[0].scopeLogs[0].logRecords[0].body"},
		{"corrupt gzip", "application/x-protobuf", "gzip", []byte("not gzip"), 400, "application/x-protobuf", "not valid gzip", ""},
		{"too many records", "application/x-protobuf", "", tooMany, 413, "application/x-protobuf", "more than 5000", ""},
		{"gzip bomb", "application/x-protobuf", "gzip", bomb, 413, "application/x-protobuf", "once decompressed", ""},
		{"a resource copied into too many events", "application/x-protobuf", "", expanding, 413, "application/x-protobuf", "more than 33554432 bytes", ""},
		{"other media type", "text/plain", "", []byte("x"), 415, "application/json", "Content-Type", ""},
		{"other encoding", "application/json", "br", []byte("x"), 415, "application/json", "Content-Encoding", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := postOTLP(t, c, url, tc.ctype, tc.encoding, tc.body)
			if resp.StatusCode != tc.status || resp.Header.Get("Content-Type") != tc.answer {
				t.Fatalf("%d %s %q, want %d %s", resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.answer)
			}
			unmarshal := proto.Unmarshal
			if tc.answer == "application/json" {
				unmarshal = protojson.Unmarshal
			}
			if tc.status == 200 {
				var ok collectorlogsv1.ExportLogsServiceResponse
				if err := unmarshal(body, &ok); err != nil || ok.PartialSuccess != nil {
					t.Fatalf("success body %q: %v %v", body, &ok, err)
				}
				return
			}
			var st status.Status
			if err := unmarshal(body, &st); err != nil || !strings.Contains(st.Message, tc.reason) {
				t.Fatalf("Status %q (%v), want a message with %q", body, err, tc.reason)
			}
			if tc.violation != "" {
				var br errdetails.BadRequest
				if len(st.Details) != 1 || st.Details[0].UnmarshalTo(&br) != nil || br.FieldViolations[0].Field != tc.violation {
					t.Fatalf("details %v, want a BadRequest naming %s", st.Details, tc.violation)
				}
			}
		})
	}
	testutil.Eventually(t, 15*time.Second, "the JSON records to be stored", func() bool { return len(storedBy(t, p.store, "json-svc")) == 1 })
	e := storedBy(t, p.store, "json-svc")[0]
	if e.Level != "FATAL" || e.Message != "from JSON" || e.Metadata["trace_id"] != "5b8efff798038103d269b633813fc60c" {
		t.Fatalf("stored %+v", e.Event)
	}
}

// TestOTLPAnswers checks the answers of the OTLP path, cause by cause:
// the status of the one table, Retry-After, a Status body without the
// cause.
func TestOTLPAnswers(t *testing.T) {
	t.Parallel()
	g := &Gateway{base: &base{role: "gateway", log: quietLogger()}, cfg: DefaultGatewayConfig()}
	cases := []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"bad data", &otlp.Error{Kind: otlp.ErrBadData, Reason: "x"}, 400, ""},
		{"too large", &otlp.Error{Kind: otlp.ErrTooLarge, Reason: "x"}, 413, ""},
		{"unsupported", &otlp.Error{Kind: otlp.ErrUnsupported, Reason: "x"}, 415, ""},
		{"not a client", errForbidden, 403, ""},
		{"unreadable body", badRequest("could not read the request body", io.ErrUnexpectedEOF), 400, ""},
		{"producer refused", &permanentError{status: 400}, 502, ""},
		{"shutting down", errForwarderClosed, 503, "1"},
		{"breaker open", unavailable("the events could not be delivered to Kafka; retry",
			fmt.Errorf("forward 3 events to producer: %w", &openError{wait: 2500 * time.Millisecond})), 503, "3"},
		{"delivery failed", unavailable("the events could not be delivered to Kafka; retry", fmt.Errorf("forward: %w", io.EOF)), 503, ""},
	}
	for _, tc := range cases {
		w := httptest.NewRecorder()
		g.writeOTLPError(w, httptest.NewRequest("POST", OTLPPath, nil), otlp.Protobuf, tc.err)
		var st status.Status
		if w.Code != tc.status || w.Header().Get("Retry-After") != tc.retryAfter || proto.Unmarshal(w.Body.Bytes(), &st) != nil ||
			w.Header().Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("%s: %d Retry-After %q, want %d %q", tc.name, w.Code, w.Header().Get("Retry-After"), tc.status, tc.retryAfter)
		}
		if strings.Contains(st.Message, "EOF") {
			t.Errorf("%s: the cause %q is shown to the client", tc.name, st.Message)
		}
	}
}
