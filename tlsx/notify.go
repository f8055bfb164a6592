package tlsx

import "time"

// subscribe makes t re-check its connections at every material change
// and when the CRL gets stale. Called with t.mu held.
func (s *Source) subscribe(t *tracker) {
	s.subMu.Lock()
	s.subs[t] = struct{}{}
	s.subMu.Unlock()
}

// unsubscribe undoes subscribe. Called with t.mu held.
func (s *Source) unsubscribe(t *tracker) {
	s.subMu.Lock()
	delete(s.subs, t)
	s.subMu.Unlock()
}

// notify re-checks every tracked connection against the current
// material; it returns once those that fail are closed (or, for gentle
// reasons, closing).
func (s *Source) notify() {
	s.subMu.Lock()
	subs := make([]*tracker, 0, len(s.subs))
	for t := range s.subs {
		subs = append(subs, t)
	}
	s.subMu.Unlock()
	for _, t := range subs {
		t.recheck()
	}
}

// armStaleTimer schedules a re-check of every tracked connection for the
// moment m's CRL gets stale, replacing the timer of earlier material.
func (s *Source) armStaleTimer(m *material) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.staleTimer != nil {
		s.staleTimer.Stop()
	}
	s.staleTimer = time.AfterFunc(m.staleAt.Sub(s.now()), s.notify)
}
