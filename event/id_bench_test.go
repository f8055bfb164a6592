package event

import (
	"testing"
	"time"
)

// BenchmarkID measures drawing one id in a millisecond that already has
// one (the common case under load: the counter counts up).
func BenchmarkID(b *testing.B) {
	var g idGen
	at := time.UnixMilli(1_780_000_000_000)
	b.ReportAllocs()
	for b.Loop() {
		_ = g.next(at)
	}
}
