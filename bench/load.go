package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// load describes one measured arm: who sends what, how hard and how long.
type load struct {
	client   *http.Client
	url      string
	ctype    string
	body     []byte
	events   int // events per request
	conns    int // concurrent senders
	rate     float64
	requests int64 // stop after this many requests when > 0
	duration time.Duration
	wire     *wire
	// brokers are the broker processes whose CPU the arm also reads.
	brokers []int
	// keepAlive false: each request on its own connection (and handshake).
	newConnEach bool
}

// stats is what one arm measured. Arms measured in several rounds are
// merged, so ratios compare sums of interleaved rounds.
type stats struct {
	requests, events, errors int64
	firstErr                 string
	elapsed                  time.Duration
	cpu                      time.Duration
	brokerCPU                time.Duration
	wireBytes                int64
	conns                    int64
	resumed                  int64
	lat                      []time.Duration
}

func (s *stats) merge(o *stats) {
	s.requests += o.requests
	s.events += o.events
	s.errors += o.errors
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
	s.elapsed += o.elapsed
	s.cpu += o.cpu
	s.brokerCPU += o.brokerCPU
	s.wireBytes += o.wireBytes
	s.conns += o.conns
	s.resumed += o.resumed
	s.lat = append(s.lat, o.lat...)
}

// meter is the live view the progress bar reads.
type meter struct {
	events   atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64
}

// run drives l until its duration passes, its request count is reached or
// ctx is done. Each sender waits for its answer before sending again
// (closed loop); with a rate the senders follow one shared schedule.
func (l load) run(ctx context.Context, m *meter) *stats {
	var (
		sent     atomic.Int64
		mu       sync.Mutex
		all      = &stats{}
		wg       sync.WaitGroup
		wireFrom = l.wire.total()
		connFrom = l.wire.conns.Load()
	)
	start, cpu0, bcpu0 := time.Now(), processCPU(), pidsCPU(l.brokers)
	// Senders stop between requests, so no connection is torn down by
	// cancelling a request in flight (the run's ctx still cancels).
	end := start.Add(l.duration)
	for i := 0; i < max(l.conns, 1); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := &stats{lat: make([]time.Duration, 0, 1024)}
			for ctx.Err() == nil && time.Now().Before(end) {
				n := sent.Add(1)
				if l.requests > 0 && n > l.requests {
					break
				}
				if l.rate > 0 {
					at := start.Add(time.Duration(float64(n-1) / l.rate * float64(time.Second)))
					if d := time.Until(at); d > 0 {
						select {
						case <-time.After(d):
						case <-ctx.Done():
						}
						if ctx.Err() != nil || time.Now().After(end) {
							break
						}
					}
				}
				l.once(ctx, st, m)
			}
			mu.Lock()
			all.merge(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.cpu = processCPU() - cpu0
	all.brokerCPU = pidsCPU(l.brokers) - bcpu0
	all.wireBytes = l.wire.total() - wireFrom
	all.conns = l.wire.conns.Load() - connFrom
	return all
}

// once sends one request and records its outcome. A request cut short by
// the end of the arm is not counted.
func (l load) once(ctx context.Context, st *stats, m *meter) {
	t0 := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.url, bytes.NewReader(l.body))
	if err != nil {
		st.fail(m, err.Error())
		return
	}
	req.Header.Set("Content-Type", l.ctype)
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			st.fail(m, err.Error())
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		st.fail(m, fmt.Sprintf("HTTP %d", resp.StatusCode))
		return
	}
	if resp.TLS != nil && resp.TLS.DidResume {
		st.resumed++ // meaningful where each request has its own connection
	}
	st.lat = append(st.lat, time.Since(t0))
	st.requests++
	st.events += int64(l.events)
	m.requests.Add(1)
	m.events.Add(int64(l.events))
}

func (s *stats) fail(m *meter, msg string) {
	s.errors++
	m.errors.Add(1)
	if s.firstErr == "" {
		s.firstErr = msg
	}
}

// percentiles returns p50, p95, p99 and max of the latencies.
func (s *stats) percentiles() (p50, p95, p99, mx time.Duration) {
	if len(s.lat) == 0 {
		return
	}
	slices.Sort(s.lat)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s.lat))+0.5) - 1
		return s.lat[min(max(i, 0), len(s.lat)-1)]
	}
	return at(.50), at(.95), at(.99), s.lat[len(s.lat)-1]
}
