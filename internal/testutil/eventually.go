package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond every 20 ms until it holds, and fails the test
// once d has passed without it: what names the awaited condition. It
// must be called from the test goroutine, and cond must not block.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
