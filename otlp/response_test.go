package otlp

import (
	"fmt"
	"strings"
	"testing"

	collectorlogsv1 "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// TestResponseIsTheOfficialMessage reads what Response writes with the
// collector's ExportLogsServiceResponse, in both encodings.
func TestResponseIsTheOfficialMessage(t *testing.T) {
	var refused []Violation
	for i := 0; i < 5; i++ {
		refused = append(refused, Violation{Field: fmt.Sprintf("resourceLogs[0].scopeLogs[0].logRecords[%d].body", i), Description: "message: must be UTF-8 without NUL bytes"})
	}
	for _, enc := range []Encoding{Protobuf, JSON} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			decode := func(b []byte, m proto.Message) error {
				if enc == JSON {
					return protojson.Unmarshal(b, m)
				}
				return proto.Unmarshal(b, m)
			}
			var full collectorlogsv1.ExportLogsServiceResponse
			if err := decode(Response(enc, nil, 3), &full); err != nil || full.PartialSuccess != nil {
				t.Fatalf("full success: %v, %v; want no partial_success", &full, err)
			}
			var partial collectorlogsv1.ExportLogsServiceResponse
			if err := decode(Response(enc, refused, 500), &partial); err != nil {
				t.Fatal(err)
			}
			ps := partial.GetPartialSuccess()
			msg := ps.GetErrorMessage()
			if ps.GetRejectedLogRecords() != 5 || !strings.HasPrefix(msg, "5 of 500 log records refused") ||
				!strings.Contains(msg, "logRecords[2].body: message: must be UTF-8") || strings.Contains(msg, "logRecords[3]") ||
				!strings.HasSuffix(msg, "; and 2 more") {
				t.Fatalf("partial success %v", ps)
			}
		})
	}
}

func TestStatusBody(t *testing.T) {
	var many []Violation
	for i := 0; i < MaxListed+20; i++ {
		many = append(many, Violation{Field: fmt.Sprintf("f%d", i), Description: "bad \xff"})
	}
	for _, enc := range []Encoding{Protobuf, JSON} {
		var st status.Status
		b := Status(enc, 400, "refused \xff", many)
		var err error
		if enc == JSON {
			err = protojson.Unmarshal(b, &st)
		} else {
			err = proto.Unmarshal(b, &st)
		}
		if err != nil {
			t.Fatalf("%s: %v", enc.ContentType(), err)
		}
		if st.Code != codeInvalidArgument || st.Message != "refused \uFFFD" || len(st.Details) != 1 {
			t.Fatalf("%s: status %v", enc.ContentType(), &st)
		}
		var br errdetails.BadRequest
		if err := st.Details[0].UnmarshalTo(&br); err != nil || len(br.FieldViolations) != MaxListed || br.FieldViolations[0].Field != "f0" {
			t.Fatalf("%s: details %v, %v", enc.ContentType(), &br, err)
		}
	}
	var st status.Status
	if err := proto.Unmarshal(Status(Protobuf, 503, "retry", nil), &st); err != nil || st.Code != codeUnavailable || len(st.Details) != 0 {
		t.Fatalf("503: %v %v", &st, err)
	}
}
