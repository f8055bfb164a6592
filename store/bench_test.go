package store

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkWrite measures one Write of a batch of new events per
// iteration on each backend (PostgreSQL when LOGSYS_TEST_PG_DSN is set).
func BenchmarkWrite(b *testing.B) {
	for _, be := range backends {
		for _, size := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", be.name, size), func(b *testing.B) {
				s := open(b, be.config(b))
				ctx := context.Background()
				batches := make([][]Record, b.N)
				for i := range batches {
					batches[i] = recs(fmt.Sprintf("bench-%d", i), size, t0)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					if n, err := s.Write(ctx, batches[i]); err != nil || n != size {
						b.Fatalf("Write = %d, %v", n, err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}
