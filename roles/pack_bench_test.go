package roles

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/pack"
)

// BenchmarkConsumerDecode is the consumer's work per event before the
// store: unpacking (package pack) and validating (decodeRecord) the
// records of one gateway request of 1,000 events of one source, packed
// (the default) and one record per event, as the producer writes them.
func BenchmarkConsumerDecode(b *testing.B) {
	evs := requestEvents(0, 1000, time.Now().UTC(), map[string]any{"host": "web-1", "region": "eu-west-1"})
	body, err := appendFrames(nil, evs)
	if err != nil {
		b.Fatal(err)
	}
	for _, packed := range []bool{true, false} {
		b.Run(fmt.Sprintf("pack=%v", packed), func(b *testing.B) {
			maxPack := 0
			if packed {
				maxPack = DefaultMaxPackBytes
			}
			recs, _, err := framedRecords(body, maxPack)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			var events []*kgo.Record
			b.ReportAllocs()
			for b.Loop() {
				events = events[:0]
				for _, r := range recs {
					if events, err = pack.Unpack(events, r); err != nil {
						b.Fatal(err)
					}
				}
				for _, e := range events {
					if _, err := decodeRecord(e, now); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
			b.ReportMetric(float64(len(recs)), "records")
		})
	}
}
