package roles

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Load shedding at the gateway. Every request that carries events holds a
// share of two budgets until it is answered: bytes (its body, reserved
// from Content-Length before a byte is read, or the most it may read) and
// events (reserved once the body is split, before the events are decoded
// and forwarded). A request that does not fit is answered 503 with
// Retry-After at once, so memory stays bounded by the budgets however
// many clients send, and the clients that are admitted keep their latency.

// shedRetryAfter is how long a shed client is asked to wait.
const shedRetryAfter = time.Second

// overloadError is a request refused because a budget is full. Its
// message is for the client: it names the key of the budget.
type overloadError struct{ key string }

func (e *overloadError) Error() string {
	return fmt.Sprintf("gateway overloaded: too much in flight (gateway.%s); retry later", e.key)
}

func (e *overloadError) retryAfter() time.Duration { return shedRetryAfter }

// Budget names, as the shed metric's reason label and the config keys.
const (
	shedBytes  = "max_inflight_bytes"
	shedEvents = "max_inflight_events"
)

// admission holds the gateway's in-flight budgets and counts what it sheds.
type admission struct {
	maxBytes, maxEvents int64

	mu            sync.Mutex
	bytes, events int64

	shed       *prometheus.CounterVec // requests, by route and budget
	shedEvents prometheus.Counter     // logsys_events_total{role="gateway",result="shed"}
}

// newAdmission registers the shedding metrics on m: the shed requests by
// route and budget (every series at 0), and the budgets' use.
func newAdmission(maxBytes int64, maxEvents int, m *roleMetrics, routes ...string) *admission {
	a := &admission{
		maxBytes: maxBytes, maxEvents: int64(maxEvents),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logsys_gateway_shed_requests_total",
			Help: "Requests answered 503 because a gateway in-flight budget (max_inflight_bytes, max_inflight_events) was full.",
		}, []string{"route", "budget"}),
		shedEvents: m.events.WithLabelValues("gateway", "shed"),
	}
	for _, r := range routes {
		a.shed.WithLabelValues(r, shedBytes)
		a.shed.WithLabelValues(r, shedEvents)
	}
	bytes := func() float64 { b, _ := a.inUse(); return float64(b) }
	events := func() float64 { _, e := a.inUse(); return float64(e) }
	m.reg.MustRegister(a.shed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logsys_gateway_inflight_bytes",
			Help: "Request body bytes the gateway holds in flight (budget: max_inflight_bytes)."}, bytes),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logsys_gateway_inflight_events",
			Help: "Events the gateway holds in flight until the producer answers (budget: max_inflight_events)."}, events))
	return a
}

// inUse returns the bytes and events reserved now.
func (a *admission) inUse() (bytes, events int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bytes, a.events
}

// take reserves bytes and events, or nothing when either does not fit; it
// returns the name of the budget that was full.
func (a *admission) take(bytes, events int64) (full string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.bytes+bytes > a.maxBytes:
		return shedBytes
	case a.events+events > a.maxEvents:
		return shedEvents
	}
	a.bytes += bytes
	a.events += events
	return ""
}

func (a *admission) give(bytes, events int64) {
	a.mu.Lock()
	a.bytes -= bytes
	a.events -= events
	a.mu.Unlock()
}

// ticket is one request's share of the budgets.
type ticket struct {
	a             *admission
	route         string
	bytes, events int64
}

type ticketKey struct{}

// shedding admits a request to h by its body's size before h reads it:
// Content-Length, or limit (the most h reads) when the length is unknown
// or the body is compressed. h reserves its events with admitEvents; the
// request's share is released when h returns.
func (g *Gateway) shedding(route string, limit int64, h handler) handler {
	return func(w http.ResponseWriter, r *http.Request) error {
		n := r.ContentLength
		if ce := r.Header.Get("Content-Encoding"); n < 0 || n > limit || (ce != "" && ce != "identity") {
			n = limit
		}
		t := &ticket{a: g.adm, route: route}
		if err := t.resize(n, 0); err != nil {
			return err
		}
		defer t.release()
		return h(w, r.WithContext(context.WithValue(r.Context(), ticketKey{}, t)))
	}
}

// admitEvents reserves n events for r's request (nothing for a request not
// admitted by shedding); over the budget the events are counted as shed.
func admitEvents(r *http.Request, n int) error {
	t, _ := r.Context().Value(ticketKey{}).(*ticket)
	if t == nil {
		return nil
	}
	if err := t.resize(t.bytes, t.events+int64(n)); err != nil {
		t.a.shedEvents.Add(float64(n))
		return err
	}
	return nil
}

// admitBytes sets r's reservation of body bytes to n, the size actually
// read: less than reserved when the length was unknown, more or less for
// a decompressed OTLP body.
func admitBytes(r *http.Request, n int64) error {
	t, _ := r.Context().Value(ticketKey{}).(*ticket)
	if t == nil {
		return nil
	}
	return t.resize(n, t.events)
}

// resize changes the ticket's share to bytes and events: a decrease always
// succeeds, an increase only when it fits (else the request is shed).
func (t *ticket) resize(bytes, events int64) error {
	db, de := bytes-t.bytes, events-t.events
	if db > 0 || de > 0 {
		if full := t.a.take(max(db, 0), max(de, 0)); full != "" {
			t.a.shed.WithLabelValues(t.route, full).Inc()
			return &overloadError{key: full}
		}
		t.a.give(-min(db, 0), -min(de, 0))
	} else {
		t.a.give(-db, -de)
	}
	t.bytes, t.events = bytes, events
	return nil
}

// release returns the ticket's whole share.
func (t *ticket) release() {
	t.a.give(t.bytes, t.events)
	t.bytes, t.events = 0, 0
}
