package roles

import (
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// errBreakerOpen is matched by the error allow returns without trying
// while the breaker is open.
var errBreakerOpen = errors.New("circuit breaker open")

// openError is errBreakerOpen with the time left until the next probe.
type openError struct{ wait time.Duration }

func (e *openError) Error() string             { return errBreakerOpen.Error() }
func (e *openError) Is(target error) bool      { return target == errBreakerOpen }
func (e *openError) retryAfter() time.Duration { return e.wait }

// Breaker states, as exported by logsys_circuit_breaker_state.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// breaker is a consecutive-failure circuit breaker: after threshold
// failures in a row it opens for cooldown, then lets one probe through
// (half-open); the probe's result closes or re-opens it.
type breaker struct {
	mu        sync.Mutex
	threshold int
	cooldown  time.Duration
	now       func() time.Time
	state     int
	failures  int
	openedAt  time.Time
	probing   bool
	gauge     prometheus.Gauge
}

func newBreaker(threshold int, cooldown time.Duration, gauge prometheus.Gauge) *breaker {
	b := &breaker{threshold: threshold, cooldown: cooldown, now: time.Now, gauge: gauge}
	b.set(breakerClosed)
	return b
}

func (b *breaker) set(s int) {
	b.state = s
	if b.gauge != nil {
		b.gauge.Set(float64(s))
	}
}

// allow reports whether a call may proceed now.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case breakerOpen:
		if left := b.cooldown - b.now().Sub(b.openedAt); left > 0 {
			return &openError{wait: left}
		}
		b.set(breakerHalfOpen)
		b.probing = true
		return nil
	case breakerHalfOpen:
		if b.probing {
			return &openError{wait: time.Second} // the probe's answer decides
		}
		b.probing = true
	}
	return nil
}

// done records the outcome of an allowed call.
func (b *breaker) done(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures = 0
		b.probing = false
		b.set(breakerClosed)
		return
	}
	b.failures++
	if b.state == breakerHalfOpen || b.failures >= b.threshold {
		b.probing = false
		b.openedAt = b.now()
		b.set(breakerOpen)
	}
}

// current returns the state.
func (b *breaker) current() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}
