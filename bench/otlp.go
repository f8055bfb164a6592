package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"
	pb "google.golang.org/protobuf/proto"
)

// otlpBody is n records of singleBody's content as an OTLP protobuf
// export: service.name bench, severity INFO, the message as a string body,
// host as a record attribute. Like singleBody they carry no time, so the
// gateway stamps them and gives each a random id.
func otlpBody(n int) []byte {
	str := func(s string) *commonv1.AnyValue {
		return &commonv1.AnyValue{Value: &commonv1.AnyValue_StringValue{StringValue: s}}
	}
	sl := &logsv1.ScopeLogs{}
	for i := 0; i < n; i++ {
		sl.LogRecords = append(sl.LogRecords, &logsv1.LogRecord{
			SeverityNumber: logsv1.SeverityNumber_SEVERITY_NUMBER_INFO, Body: str("GET /orders/42 200 3ms"),
			Attributes: []*commonv1.KeyValue{{Key: "host", Value: str("web-1")}},
		})
	}
	b, _ := pb.Marshal(&logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{
		Resource:  &resourcev1.Resource{Attributes: []*commonv1.KeyValue{{Key: "service.name", Value: str("bench")}}},
		ScopeLogs: []*logsv1.ScopeLogs{sl},
	}}})
	return b
}

// otlpArms measures OTLP/HTTP (protobuf, POST /v1/logs) next to the
// native API on the same gateway and content, interleaved: single records
// and batches of the batch size.
func (r *runner) otlpArms(ctx context.Context, gwURL string, tc *tls.Config, mk func(string, proto, string, *tls.Config, bool, int, int) arm) {
	otlpArm := func(name string, n, batch int) arm {
		a := mk(name, protoH1, gwURL+"/v1/logs", tc, true, n, batch)
		a.l.ctype, a.l.body = "application/x-protobuf", otlpBody(batch)
		return a
	}
	conns := r.cfg.Conns
	if r.left(r.cfg.Arm*2+time.Second, "OTLP single vs native") {
		r.compare(ctx, "OTLP / native: single",
			mk("native single (OTLP pair)", protoH1, gwURL+"/api/v1/logs", tc, true, conns, 1),
			otlpArm("OTLP single", conns, 1))
	}
	if r.left(r.cfg.Arm*2+time.Second, "OTLP batch vs native") {
		bc := max(min(conns, 16), 1)
		r.compare(ctx, fmt.Sprintf("OTLP / native: batch %d", r.cfg.Batch),
			mk(fmt.Sprintf("native batch %d (OTLP pair)", r.cfg.Batch), protoH1, gwURL+"/api/v1/logs/batch", tc, true, bc, r.cfg.Batch),
			otlpArm(fmt.Sprintf("OTLP batch %d", r.cfg.Batch), bc, r.cfg.Batch))
	}
}
