package roles

import (
	"net/http"
	"testing"

	"logsys/event"
)

// discard is a ResponseWriter that keeps nothing: the benchmark measures
// building the answer, not a recorder's buffer.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkAcceptedBatch measures the answer to an accepted batch of 500
// events with generated ids.
func BenchmarkAcceptedBatch(b *testing.B) {
	evs := make([]event.Event, 500)
	for i := range evs {
		evs[i].ID = event.NewID()
	}
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		writeAcceptedBatch(w, evs)
	}
}
