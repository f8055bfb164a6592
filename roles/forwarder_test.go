package roles

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"logsys/event"
	"logsys/internal/testutil"
)

// fakeProducer is a real HTTP server on an in-memory network answering
// each batch with the next status of a script (the last one repeats), and
// recording when, on the bubble's clock, each batch arrived.
type fakeProducer struct {
	mu       sync.Mutex
	statuses []int
	arrived  []time.Duration
	sizes    []int // body bytes of each batch
	start    time.Time
	// release, when set, holds the answer to the first batch until closed.
	release chan struct{}
}

func (p *fakeProducer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.sizes = append(p.sizes, len(body))
	p.arrived = append(p.arrived, time.Since(p.start))
	n := len(p.arrived)
	code := p.statuses[min(n, len(p.statuses))-1]
	p.mu.Unlock()
	if n == 1 && p.release != nil {
		<-p.release
	}
	w.WriteHeader(code)
}

func (p *fakeProducer) arrivals() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.arrived...)
}

// newTestForwarder serves p on an in-memory network and returns a
// forwarder posting to it (retries 3, backoff 1 s doubling) behind br.
// It must be called inside a synctest bubble; everything stops with the
// test.
func newTestForwarder(t *testing.T, p *fakeProducer, br *breaker) *forwarder {
	var n testutil.Network
	srv := &http.Server{Handler: p}
	done := make(chan error, 1)
	ln := n.Listen("producer:8081")
	go func() { done <- srv.Serve(ln) }()
	tr := &http.Transport{DialContext: n.Dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-done
	})
	p.start = time.Now()
	return &forwarder{
		client: &http.Client{Transport: tr}, url: "http://producer:8081" + EventsPath, maxBatch: 10,
		retries: 3, backoff: time.Second, timeout: 10 * time.Second, br: br, log: quietLogger(),
		queue: make(chan *pending, 16),
	}
}

var oneEvent = []event.Event{{ID: "a", Level: "INFO", Message: "m", Source: "s", Timestamp: time.Unix(0, 0).UTC()}}

// oneFrame is oneEvent as the forwarder posts it.
var oneFrame, _ = appendFrames(nil, oneEvent)

// TestForwarderBacksOff: a failing producer is tried again after 1, 2 and
// 4 seconds, exactly, and a success ends the retries.
func TestForwarderBacksOff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProducer{statuses: []int{503, 503, 503, 202}}
		f := newTestForwarder(t, p, newBreaker(100, time.Minute, nil))
		if err := f.deliver(context.Background(), oneFrame, 1); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if got := p.arrivals(); !equalDurations(got, want) {
			t.Fatalf("attempts at %v, want %v", got, want)
		}
	})
}

// TestForwarderBackoffHonoursContext: the context ending during a backoff
// ends the delivery at once, without another attempt.
func TestForwarderBackoffHonoursContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProducer{statuses: []int{503}}
		f := newTestForwarder(t, p, newBreaker(100, time.Minute, nil))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.deliver(ctx, oneFrame, 1) }()
		time.Sleep(1500 * time.Millisecond) // inside the 2-second backoff
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("deliver = %v, want the cancellation", err)
			}
		default:
			t.Fatal("deliver still waits after its context ended")
		}
		if got := p.arrivals(); len(got) != 2 {
			t.Fatalf("attempts at %v, want 2", got)
		}
	})
}

// TestForwarderBehindOpenBreaker: after the threshold the breaker refuses
// without posting, the error carries when to retry, and after the cooldown
// one probe closes it again.
func TestForwarderBehindOpenBreaker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProducer{statuses: []int{503, 503, 202}}
		br := newBreaker(2, 30*time.Second, nil)
		f := newTestForwarder(t, p, br)
		err := f.deliver(context.Background(), oneFrame, 1)
		var open *openError
		if !errors.Is(err, errBreakerOpen) || !errors.As(err, &open) {
			t.Fatalf("deliver = %v, want the breaker open", err)
		}
		// Attempts at 0 and 1 s fail and open the breaker; those at 3 s
		// and 7 s are refused without a post, 24 s before the probe.
		if got := p.arrivals(); len(got) != 2 {
			t.Fatalf("posts at %v, want 2", got)
		}
		if open.wait != 24*time.Second {
			t.Fatalf("retry after %v, want 24s", open.wait)
		}
		time.Sleep(open.wait)
		if err := f.deliver(context.Background(), oneFrame, 1); err != nil {
			t.Fatalf("deliver after the cooldown: %v", err)
		}
		if s := br.current(); s != breakerClosed {
			t.Fatalf("breaker state %d after a good probe, want closed", s)
		}
	})
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestForwarderBoundsCoalescedBytes: requests queued together are
// coalesced only up to max_batch_bytes; the one that does not fit goes in
// the next batch (not dropped, not failed), and each request is answered.
func TestForwarderBoundsCoalescedBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProducer{statuses: []int{http.StatusAccepted}}
		f := newTestForwarder(t, p, newBreaker(100, time.Minute, nil))
		f.maxBytes = int64(2*len(oneFrame) + len(oneFrame)/2) // two requests fit, three do not
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- f.send(context.Background(), oneEvent) }()
		}
		synctest.Wait() // all three queued before a worker runs
		f.start(t.Context(), 1)
		for range 3 {
			if err := <-errs; err != nil {
				t.Fatalf("send: %v", err)
			}
		}
		f.close()
		if got, want := p.sizes, []int{2 * len(oneFrame), len(oneFrame)}; !slices.Equal(got, want) {
			t.Fatalf("batch bodies %v bytes, want %v (two coalesced, the third next)", got, want)
		}
	})
}

// TestForwarderOnePartialBatchInFlight tries to get a second partial batch
// out while one is in flight: with two workers, what arrives meanwhile is
// gathered into one batch that goes as soon as the first is answered, or,
// when the producer stalls, after partialWait; a full batch goes at once.
func TestForwarderOnePartialBatchInFlight(t *testing.T) {
	for _, stall := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			p := &fakeProducer{statuses: []int{http.StatusAccepted}, release: make(chan struct{})}
			f := newTestForwarder(t, p, newBreaker(100, time.Minute, nil))
			f.start(t.Context(), 2)
			errs := make(chan error, 4+f.maxBatch)
			send := func(evs []event.Event) { go func() { errs <- f.send(context.Background(), evs) }() }
			send(oneEvent)
			synctest.Wait() // the first batch is held by the producer
			for range 3 {
				send(oneEvent)
			}
			synctest.Wait()
			if got := len(p.arrivals()); got != 1 {
				t.Fatalf("%d batches arrived while the first was in flight, want 1", got)
			}
			if stall {
				time.Sleep(partialWait)
				synctest.Wait()
			} else {
				time.Sleep(partialWait / 2)
				close(p.release)
				synctest.Wait()
			}
			got := p.arrivals()
			if len(got) != 2 {
				t.Fatalf("batches arrived at %v, want 2", got)
			}
			if want := partialWait; stall && got[1] != want {
				t.Errorf("stalled: the gathered batch went at %v, want %v", got[1], want)
			}
			if want := partialWait / 2; !stall && got[1] != want {
				t.Errorf("the gathered batch went at %v, want %v (when the first was answered)", got[1], want)
			}
			full := slices.Repeat(oneEvent, f.maxBatch)
			send(full) // a full batch does not wait for anything
			synctest.Wait()
			if n := len(p.arrivals()); n != 3 {
				t.Errorf("the full batch did not go at once (%d batches)", n)
			}
			if stall {
				close(p.release)
			}
			for range 5 {
				if err := <-errs; err != nil {
					t.Fatalf("send: %v", err)
				}
			}
			f.close()
			if want := []int{len(oneFrame), 3 * len(oneFrame), f.maxBatch * len(oneFrame)}; !slices.Equal(p.sizes, want) {
				t.Errorf("batch bodies %v bytes, want %v", p.sizes, want)
			}
		})
	}
}
