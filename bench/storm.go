package bench

import (
	"context"
	"crypto/tls"
	"net/http"
	"sync"
	"time"
)

// stormResult is what a reconnect storm measured.
type stormResult struct {
	Clients   int     `json:"clients"`
	Failed    int64   `json:"failed"`
	FirstErr  string  `json:"first_error,omitempty"`
	Resumed   int64   `json:"resumed"`
	HitRate   float64 `json:"resumption_hit_rate"`
	Seconds   float64 `json:"seconds"`
	P99Millis float64 `json:"p99_ms"`
	MaxMillis float64 `json:"max_ms"`
}

// storm primes n clients (each its own connection pool and session cache)
// with one request each, drops their connections, then lets all n
// reconnect at the same instant and send one event each: what a gateway
// sees after a restart or a network blip. Loopback only, bounded by n.
func storm(tc *tls.Config, url string, body []byte, n int, m *meter) stormResult {
	// Its own bound, not the run's: a storm cut short would hide failures.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := &wire{}
	clients := make([]*http.Client, n)
	for i := range clients {
		c := tc.Clone()
		c.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		clients[i] = newClient(c, w, protoH1, 1, true)
	}
	one := func(c *http.Client) load {
		return load{client: c, url: url, ctype: "application/json", body: body, events: 1, conns: 1, requests: 1, duration: time.Minute, wire: w}
	}
	// Prime, 64 at a time.
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			one(c).run(ctx, &meter{})
			closeIdle(c)
		}()
	}
	wg.Wait()
	// Storm.
	var (
		mu    sync.Mutex
		all   = &stats{}
		start = make(chan struct{})
	)
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := &stats{}
			one(c).once(ctx, st, m)
			mu.Lock()
			all.merge(st)
			mu.Unlock()
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, c := range clients {
		closeIdle(c)
	}
	// A client that got no answer at all failed too.
	r := stormResult{Clients: n, Failed: int64(n) - all.requests, FirstErr: all.firstErr, Seconds: elapsed.Seconds()}
	r.Resumed = all.resumed
	if all.requests > 0 {
		r.HitRate = float64(r.Resumed) / float64(all.requests)
	}
	_, _, p99, mx := all.percentiles()
	r.P99Millis, r.MaxMillis = ms(p99), ms(mx)
	return r
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
