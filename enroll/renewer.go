package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"logsys/ca/wire"
	"logsys/pki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// Renewer obtains and keeps renewing one role's certificate from
// `logsys ca`, keeps the environment's trust bundle current, and pushes
// both into the tlsx.Sources made by NewSource. Its key never leaves the
// process and key.pem (0600).
type Renewer struct {
	cfg  Config
	log  *slog.Logger
	l    pki.Layout
	m    *metrics
	want spiffeid.ID
	pin  pinnedTo
	// pinSaved is set once <env>/root.pem in StateDir holds the pin.
	pinSaved bool
	// bootstrap are the intermediates of CABundle: they verify the CA
	// until a trust bundle was obtained.
	bootstrap []*x509.Certificate
	rand      func() float64 // the draw u in [0,1) of jitter and backoff

	mu       sync.Mutex
	cur      *held // nil until loaded or obtained
	renewAt  time.Time
	lastErr  error
	failures int
	retryAt  time.Time
	spent    map[string]bool // hashes of the tokens this process used
	sources  []*tlsx.Source
	// reported are the anchors the CA last accepted a report of; a
	// report is due when the sources hold others (reportDue).
	reported []string
	// hold, while not nil, keeps Run from contacting the CA (Hold).
	hold chan struct{}
}

// held is the material in use: our certificate and key, and the trust
// bundle it came with.
type held struct {
	cert            *tls.Certificate // Leaf set
	certPEM, keyPEM []byte
	trust           wire.Trust
	anchors         []*x509.Certificate // the bundle's intermediates, checked against the pin
}

func (h *held) pem() tlsx.PEM {
	return tlsx.PEM{Cert: h.certPEM, Key: h.keyPEM, CA: []byte(h.trust.CA), Bundle: []byte(h.trust.Bundle), CRL: []byte(h.trust.CRL)}
}

// New validates cfg, settles the pinned root (from StateDir, else from
// CABundle) and loads whatever valid state StateDir holds.
func New(cfg Config) (*Renewer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("enroll metrics: %w", err)
	}
	want, _ := spiffeid.New(cfg.TrustDomain, cfg.Env, cfg.Name) // validated above
	r := &Renewer{cfg: cfg, l: pki.Layout{Dir: cfg.StateDir}, m: m, want: want, rand: rand.Float64,
		spent: map[string]bool{},
		log:   cfg.Logger.With("component", "enroll", "id", want.String())}
	if err := r.loadPin(); err != nil {
		return nil, err
	}
	if err := r.loadDisk(); err != nil {
		r.log.Info("no usable certificate in the state directory yet", "err", err)
		r.count(err)
	}
	return r, nil
}

// NewSource returns a tlsx.Source holding the current certificate and
// trust bundle, which the Renewer updates after every renewal and trust
// refresh (Source.Update; no files involved). sc names the source and
// gives its logger, metrics and clock; its file fields must be empty.
// It fails while there is no valid certificate: call Ensure first.
func (r *Renewer) NewSource(sc tlsx.SourceConfig) (*tlsx.Source, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == nil {
		return nil, errors.New("enroll: no certificate yet (call Ensure first)")
	}
	src, err := tlsx.NewSourceFromPEM(sc, r.cur.pem())
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	r.sources = append(r.sources, src)
	return src, nil
}

// Status returns the NotAfter of the current certificate (zero when there
// is none) and the error of the last attempt (nil after a success).
func (r *Renewer) Status() (notAfter time.Time, lastErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil {
		notAfter = r.cur.cert.Leaf.NotAfter
	}
	return notAfter, r.lastErr
}

// Healthy reports an error when there is no valid certificate, or when
// renewal keeps failing and less than a sixth of the lifetime is left,
// so health goes DOWN before the certificate expires.
func (r *Renewer) Healthy() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var leaf *x509.Certificate
	if r.cur != nil {
		leaf = r.cur.cert.Leaf
	}
	return health(r.cfg.Now(), leaf, r.failures, r.lastErr)
}

// Ensure returns once a valid certificate and trust bundle are held,
// obtaining them if needed: by renewal when a valid certificate exists,
// else with the bootstrap token. Unreachable CAs are retried with backoff
// until ctx ends; a refusal by the CA is returned at once.
func (r *Renewer) Ensure(ctx context.Context) error {
	for {
		if r.valid(r.cfg.Now()) {
			return nil
		}
		err := r.obtain(ctx)
		if err == nil {
			return nil
		}
		if refused(err) {
			return err
		}
		if err := sleep(ctx, r.backoff()); err != nil {
			return fmt.Errorf("enroll: %w (last error: %v)", err, r.lastError())
		}
	}
}

// Run calls Ensure, then renews at RenewFraction of each certificate's
// lifetime (minus jitter) and refreshes the trust bundle every
// TrustRefresh, retrying failures with backoff while the certificate is
// still valid and after. It returns nil when ctx ends, or Ensure's refusal.
func (r *Renewer) Run(ctx context.Context) error {
	if err := r.Ensure(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	nextTrust := r.cfg.Now() // the first fetch reports what the sources hold
	var trustErr error
	for {
		now := r.cfg.Now()
		renewAt := r.nextRenewal(now)
		if trustErr == nil && r.reportDue() {
			nextTrust = now // the sources changed: report now, not at the next refresh
		}
		if sleep(ctx, min(renewAt.Sub(now), nextTrust.Sub(now))) != nil {
			return nil
		}
		if held, err := r.waitHold(ctx); err != nil {
			return nil
		} else if held {
			nextTrust = r.cfg.Now() // tell the CA at once what we hold
			continue
		}
		now = r.cfg.Now()
		if !now.Before(renewAt) {
			_ = r.obtain(ctx) // recorded in Status, logged and counted
		}
		if !now.Before(nextTrust) {
			nextTrust = now.Add(r.cfg.TrustRefresh)
			if trustErr = r.refreshTrust(ctx); trustErr != nil {
				nextTrust = now.Add(min(r.cfg.TrustRefresh, r.backoff()))
			}
		}
	}
}

// Hold keeps Run from contacting the CA (no renewal, no trust fetch, no
// report) until release is called, as a role whose renewer is stuck
// would behave: the material in use stays in the sources, and the CA sees
// the member fall silent. On release, Run fetches the trust bundle at
// once. Hold is idempotent; release may be called more than once.
func (r *Renewer) Hold() (release func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold == nil {
		r.hold = make(chan struct{})
	}
	ch := r.hold
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.hold == ch {
			close(ch)
			r.hold = nil
		}
	}
}

// waitHold blocks while the Renewer is held; it reports whether it was.
func (r *Renewer) waitHold(ctx context.Context) (bool, error) {
	r.mu.Lock()
	ch := r.hold
	r.mu.Unlock()
	if ch == nil {
		return false, nil
	}
	r.log.Warn("renewer held: not contacting the ca until released")
	select {
	case <-ctx.Done():
		return true, ctx.Err()
	case <-ch:
		r.log.Info("renewer released")
		return true, nil
	}
}

// sleep waits d (nothing when d <= 0) or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// valid reports whether the current certificate is usable at now.
func (r *Renewer) valid(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur != nil && !now.Before(r.cur.cert.Leaf.NotBefore) && now.Before(r.cur.cert.Leaf.NotAfter)
}

// nextRenewal is the planned renewal time, or the next retry after failures.
func (r *Renewer) nextRenewal(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.failures > 0:
		return r.retryAt
	case r.cur == nil:
		return now
	}
	return r.renewAt
}

func (r *Renewer) backoff() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backoffLocked()
}

func (r *Renewer) backoffLocked() time.Duration {
	var life time.Duration
	if r.cur != nil {
		life = r.cur.cert.Leaf.NotAfter.Sub(r.cur.cert.Leaf.NotBefore)
	}
	return backoff(r.failures, r.cfg.RetryMin, r.cfg.RetryMax, life, r.rand())
}

func (r *Renewer) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr
}

// install makes h current and plans the renewal of its certificate.
func (r *Renewer) install(h *held) {
	leaf := h.cert.Leaf
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur = h
	r.renewAt = renewalTime(leaf.NotBefore, leaf.NotAfter, r.cfg.RenewFraction, r.cfg.Jitter, r.rand())
}

// push hands h to every source; the first refusal is returned (the
// sources validate as a whole, so a refused set changes none of them
// unless they disagree, which they do not: they share one validator).
func (r *Renewer) push(h *held) error {
	r.mu.Lock()
	srcs := append([]*tlsx.Source(nil), r.sources...)
	r.mu.Unlock()
	for _, s := range srcs {
		if err := s.Update(h.pem()); err != nil {
			return &RejectedError{Reason: ReasonSource, Err: err}
		}
	}
	return nil
}

// record notes the outcome of an attempt and plans the retry.
func (r *Renewer) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastErr = err
	if err != nil {
		r.failures++
		r.retryAt = r.cfg.Now().Add(r.backoffLocked())
	} else {
		r.failures = 0
	}
}

// count adds a refusal of CA material to the metrics.
func (r *Renewer) count(err error) {
	var re *RejectedError
	if errors.As(err, &re) {
		r.m.rejected.WithLabelValues(re.Reason).Inc()
	}
}

// report is what the role trusts: the anchors every source holds (nil
// while there is no source, which holds nothing in use).
func (r *Renewer) report() *wire.Report {
	r.mu.Lock()
	srcs := append([]*tlsx.Source(nil), r.sources...)
	r.mu.Unlock()
	if len(srcs) == 0 {
		return nil
	}
	anchors := srcs[0].AnchorFingerprints()
	for _, s := range srcs[1:] {
		held := s.AnchorFingerprints()
		anchors = slices.DeleteFunc(anchors, func(a string) bool { return !slices.Contains(held, a) })
	}
	if len(anchors) > wire.MaxAnchors {
		anchors = anchors[:wire.MaxAnchors]
	}
	return &wire.Report{Identity: r.want.String(), Anchors: anchors}
}

// reported notes that the CA accepted rep.
func (r *Renewer) reportedOK(rep *wire.Report) {
	if rep == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reported = rep.Anchors
}

// reportDue reports whether the sources hold other anchors than the CA
// last heard of, so that Run reports at once instead of at the next
// refresh.
func (r *Renewer) reportDue() bool {
	rep := r.report()
	if rep == nil || !r.valid(r.cfg.Now()) { // without a valid certificate nothing can be reported
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return !slices.Equal(rep.Anchors, r.reported)
}
