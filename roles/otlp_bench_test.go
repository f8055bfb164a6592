package roles

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"logsys/event"
	"logsys/otlp"
)

// benchNative is the event logsys bench sends, as the native API takes it.
const benchNative = `{"level":"INFO","message":"GET /orders/42 200 3ms","source":"bench","metadata":{"host":"web-1"}}`

// benchOTLP is the same content as n OTLP records: service.name bench,
// the attribute host, severity INFO, a string body and, as every SDK
// sets, a time.
func benchOTLP(n int) *logsv1.LogsData {
	str := func(s string) *commonv1.AnyValue {
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: s}}
	}
	sl := &logsv1.ScopeLogs{}
	t0 := uint64(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixNano())
	for i := 0; i < n; i++ {
		sl.LogRecords = append(sl.LogRecords, &logsv1.LogRecord{
			TimeUnixNano: t0 + uint64(i), SeverityNumber: logsv1.SeverityNumber_SEVERITY_NUMBER_INFO,
			Body: str("GET /orders/42 200 3ms"), Attributes: []*commonv1.KeyValue{{Key: "host", Value: str("web-1")}},
		})
	}
	return &logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource:  &resourcev1.Resource{Attributes: []*commonv1.KeyValue{{Key: "service.name", Value: str("bench")}}},
		ScopeLogs: []*logsv1.ScopeLogs{sl},
	}}}
}

// otlpJSONBody is req in the OTLP JSON encoding (no ids, so protojson's
// output is already OTLP JSON).
func otlpJSONBody(b *testing.B, req *logsv1.LogsData) []byte {
	js, err := protojson.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkIngestDecode measures what the gateway does with a request
// body before forwarding, for the native API and for OTLP, on the same
// content: split and decode and validate each event (native), or decode
// the request and map and validate each record (OTLP). Compare the
// events/s of the arms of one run.
func BenchmarkIngestDecode(b *testing.B) {
	const identity = "spiffe://logsys.local/dev/client"
	lim := otlp.Limits{MaxRecords: 5000, MaxAttributes: 128}
	native := func(body []byte, ctype string) func() (int, error) {
		return func() (int, error) {
			if ctype == "" {
				_, err := event.DecodeFrom(body, time.Now(), identity)
				return 1, err
			}
			raws, _, err := splitBatch(body, ctype, 5000)
			if err != nil {
				return 0, err
			}
			now := time.Now()
			for _, raw := range raws {
				if _, err := event.DecodeFrom(raw, now, identity); err != nil {
					return 0, err
				}
			}
			return len(raws), nil
		}
	}
	viaOTLP := func(body []byte, enc otlp.Encoding) func() (int, error) {
		return func() (int, error) {
			req, err := otlp.Decode(body, enc)
			if err != nil {
				return 0, err
			}
			evs, refused, err := otlp.Events(req, time.Now(), identity, lim)
			if err == nil && len(refused) > 0 {
				err = fmt.Errorf("refused %v", refused)
			}
			return len(evs), err
		}
	}
	type arm struct {
		name string
		size int
		run  func() (int, error)
	}
	for _, n := range []int{1, 500} {
		pb, err := proto.Marshal(benchOTLP(n))
		if err != nil {
			b.Fatal(err)
		}
		js := otlpJSONBody(b, benchOTLP(n))
		first := arm{"native-json", len(benchNative), native([]byte(benchNative), "")}
		if n > 1 {
			nd := bytes.Repeat([]byte(benchNative+"\n"), n)
			first = arm{"native-ndjson", len(nd), native(nd, "application/x-ndjson")}
		}
		arms := []arm{first, {"otlp-protobuf", len(pb), viaOTLP(pb, otlp.Protobuf)}, {"otlp-json", len(js), viaOTLP(js, otlp.JSON)}}
		for _, a := range arms {
			b.Run(fmt.Sprintf("records=%d/%s", n, a.name), func(b *testing.B) {
				b.SetBytes(int64(a.size))
				b.ReportAllocs()
				events := 0
				for b.Loop() {
					k, err := a.run()
					if err != nil || k != n {
						b.Fatalf("%d events, %v", k, err)
					}
					events += k
				}
				b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
