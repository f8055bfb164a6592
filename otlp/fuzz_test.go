package otlp

import (
	"encoding/json"
	"testing"

	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"

	"logsys/event"
)

// FuzzDecodeEvents: whatever a body is, decoding and mapping it never
// panics, and every event it yields survives the forwarded form (JSON)
// and the validation of the producer and the consumer: what the gateway
// acknowledges, the rest of the pipeline stores.
//
//	go test -run XXX -fuzz FuzzDecodeEvents -fuzztime 60s ./otlp/
func FuzzDecodeEvents(f *testing.F) {
	pb, _ := proto.Marshal(sampleProto())
	f.Add(pb, false)
	f.Add([]byte(sampleJSON), true)
	bad, _ := proto.Marshal(request(service("s\x00"), &logsv1.LogRecord{Body: kvlist(kv("k", array(str("\x00"), double(1e308))))}))
	f.Add(bad, false)
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"18446744073709551615","body":{"doubleValue":"NaN"}}]}]}]}`), true)
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		enc := Protobuf
		if asJSON {
			enc = JSON
		}
		req, err := Decode(body, enc)
		if err != nil {
			return
		}
		evs, refused, err := Events(req, now, sender, Limits{MaxRecords: 1000, MaxAttributes: 16, MaxSharedBytes: 8 << 20})
		if err != nil {
			return
		}
		if len(evs)+len(refused) != Count(req) {
			t.Fatalf("%d events and %d refusals for %d records", len(evs), len(refused), Count(req))
		}
		for _, ev := range evs {
			js, err := json.Marshal(ev)
			if err != nil {
				t.Fatalf("event %+v does not encode: %v", ev, err)
			}
			back, err := event.DecodeForwarded(js)
			if err != nil {
				t.Fatalf("event %s is refused downstream: %v", js, err)
			}
			if _, err := back.Normalize(); err != nil {
				t.Fatalf("event %s is refused by the store's normalisation: %v", js, err)
			}
		}
	})
}
