package event

import (
	"encoding/json"
	"testing"
	"time"
)

var benchInputs = map[string][]byte{
	"minimal": []byte(`{"message":"hello","source":"bench"}`),
	"typical": []byte(`{"level":"WARN","message":"GET /orders/42 200 3ms","source":"web","timestamp":"2026-01-02T15:04:05Z","metadata":{"host":"web-1","status":200}}`),
	// filled: no id and no timestamp (the gateway assigns both), string
	// metadata: the event the peer bench sends.
	"filled": []byte(`{"level":"INFO","message":"GET /api/v1/orders/42 200 3ms","source":"checkout","metadata":{"host":"web-1","region":"eu-west-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}`),
}

// BenchmarkDecode measures parsing and validating one client event.
func BenchmarkDecode(b *testing.B) {
	now := time.Now()
	for name, in := range benchInputs {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(in, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeToForward is the gateway's decode of BenchmarkDecode's
// inputs and its encoding for Kafka (AppendJSON), against DecodeFrom's.
func BenchmarkDecodeToForward(b *testing.B) {
	now := time.Now()
	for name, in := range benchInputs {
		for _, path := range []struct {
			name   string
			decode func([]byte, time.Time, string) (Event, error)
		}{{"to-forward", DecodeToForward}, {"decode-from", DecodeFrom}} {
			b.Run(name+"/"+path.name, func(b *testing.B) {
				b.ReportAllocs()
				var buf []byte
				for b.Loop() {
					e, err := path.decode(in, now, "spiffe://logsys.local/dev/client")
					if err != nil {
						b.Fatal(err)
					}
					if buf, err = e.AppendJSON(buf[:0]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkValidate measures validation alone.
func BenchmarkValidate(b *testing.B) {
	e, err := Decode(benchInputs["typical"], time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMarshal measures encoding one event and a batch of 500 (the
// gateway->producer body and the Kafka record value).
func BenchmarkMarshal(b *testing.B) {
	e, err := Decode(benchInputs["typical"], time.Now())
	if err != nil {
		b.Fatal(err)
	}
	e.Identity = "spiffe://logsys.local/dev/client"
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&e); err != nil {
				b.Fatal(err)
			}
		}
	})
	batch := make([]Event, 500)
	for i := range batch {
		batch[i] = e
	}
	b.Run("batch500", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkAppendJSON is BenchmarkMarshal's one event, and the others of
// benchInputs, through AppendJSON into a reused buffer.
func BenchmarkAppendJSON(b *testing.B) {
	for name, in := range benchInputs {
		b.Run(name, func(b *testing.B) {
			e, err := DecodeFrom(in, time.Now(), "spiffe://logsys.local/dev/client")
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = e.AppendJSON(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse compares DecodeFrom's two parsers on the inputs.
func BenchmarkParse(b *testing.B) {
	for name, in := range benchInputs {
		b.Run(name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := parseFast(in, false, false); !ok {
					b.Fatal("parseFast refused")
				}
			}
		})
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := parseJSON(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeForwarded compares the consumer's decode of a record (the
// gateway's AppendJSON of the typical event, identity included) with the
// fast parser and with encoding/json alone, validation included in both.
func BenchmarkDecodeForwarded(b *testing.B) {
	e, err := DecodeFrom(benchInputs["typical"], time.Now(), "spiffe://logsys.local/dev/client")
	if err != nil {
		b.Fatal(err)
	}
	wire, err := e.AppendJSON(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeForwarded(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev Event
			if err := json.Unmarshal(wire, &ev); err != nil {
				b.Fatal(err)
			}
			if err := ev.Validate(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
