package bench

import "fmt"

func (r *runner) row(name string) (Row, bool) {
	for _, x := range r.rep.Rows {
		if x.Name == name {
			return x, true
		}
	}
	return Row{}, false
}

func (r *runner) ratio(name string) (Ratio, bool) {
	for _, x := range r.rep.Ratios {
		if x.Name == name {
			return x, true
		}
	}
	return Ratio{}, false
}

// targets compares the measurements with the goals set for this machine.
func (r *runner) targets() {
	add := func(name, want, got string, met bool) {
		r.rep.Targets = append(r.rep.Targets, Target{Name: name, Want: want, Got: got, Met: met})
	}
	if x, ok := r.ratio("gateway handler: mTLS / plaintext"); ok {
		add("gateway mTLS throughput vs plaintext (keep-alive, same conns)", ">= 0.90x", fmt.Sprintf("%.2fx", x.Value), x.Value >= 0.90)
	}
	if x, ok := r.ratio("baseline bare handler: mTLS / plaintext"); ok {
		add("bare handler mTLS vs plaintext (physical limit)", "(reference)", fmt.Sprintf("%.2fx", x.Value), true)
	}
	// The single-event row of the default configuration: the faster of
	// the two gateway->producer protocols, each measured over HTTP/1.1.
	best, found := Row{}, false
	for _, n := range []string{"gw->producer h2", "gw->producer http/1.1"} {
		if x, ok := r.row(n); ok && x.EventsPerSec > best.EventsPerSec {
			best, found = x, true
		}
	}
	if found {
		add("single-event ingest over mTLS, acked after broker ("+best.Name+")", ">= 20000 ev/s",
			fmt.Sprintf("%.0f ev/s", best.EventsPerSec), best.EventsPerSec >= 20000 && best.Errors == 0)
		add("single-event ingest p99", "< 10 ms", fmt.Sprintf("%.2f ms", best.P99ms), best.P99ms < 10 && best.Events > 0)
	}
	bestBatch := Row{}
	for _, x := range r.rep.Rows {
		if x.Batch > 1 && x.EventsPerSec > bestBatch.EventsPerSec {
			bestBatch = x
		}
	}
	if bestBatch.Events > 0 {
		into := "the embedded broker"
		if len(r.cfg.Brokers) > 0 {
			into = "real brokers"
		}
		add("batch ingest into "+into+" ("+bestBatch.Name+")", ">= 200000 ev/s",
			fmt.Sprintf("%.0f ev/s", bestBatch.EventsPerSec), bestBatch.EventsPerSec >= 200000 && bestBatch.Errors == 0)
	}
	for _, h := range r.rep.Handshakes {
		add(fmt.Sprintf("full handshake server CPU vs bare crypto/tls (%s, %s)", h.KeyType, h.KeyExchange), "<= 1.20x",
			fmt.Sprintf("%.2fx (%.0f/%.0f us)", h.FullVsBare, h.FullUs, h.BareFullUs), h.FullVsBare > 0 && h.FullVsBare <= 1.2)
	}
	if x, ok := r.row("product TLS, new conn, resumed"); ok && x.Requests > 0 {
		rate := float64(x.Resumed) / float64(x.Requests)
		add("resumption hit rate on reconnects", "> 99%", fmt.Sprintf("%.2f%%", 100*rate), rate > 0.99)
	}
	if s := r.rep.Storm; s != nil {
		add(fmt.Sprintf("reconnect storm of %d clients", s.Clients), "0 failed", fmt.Sprintf("%d failed", s.Failed), s.Failed == 0)
		add("resumption hit rate in the storm", "> 99%", fmt.Sprintf("%.2f%%", 100*s.HitRate), s.HitRate > 0.99)
	}
}
