package ca

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// Renewer defaults.
const (
	DefaultJitter       = 0.05
	DefaultTrustRefresh = time.Minute
	DefaultRetryMin     = time.Second
	DefaultRetryMax     = time.Minute
	DefaultTimeout      = 30 * time.Second
)

// RenewerConfig configures a Renewer.
type RenewerConfig struct {
	// CAURL is the base URL of `logsys ca`, e.g. https://ca:8443.
	CAURL string
	// Env and Name are the identity this role expects; a certificate for
	// anything else is refused and nothing is written.
	Env, Name string
	// Token is a bootstrap token from `logsys pki token`; TokenFile a file
	// holding one (re-read at every bootstrap attempt, so an operator can
	// drop in a new token). Needed only when no valid certificate exists.
	Token, TokenFile string
	// CABundle is a PEM file with the environment's intermediate(s) (e.g. a
	// copy of pki/<env>/ca-chain.pem) to verify the CA on first contact.
	// Later, the trust bundle fetched into StateDir is trusted as well.
	// Optional once StateDir holds a trust bundle.
	CABundle string
	// StateDir receives the files in the `logsys pki` layout:
	// <env>/ca.pem, ca-chain.pem, bundle.pem (during an overlap), crl.pem,
	// <env>/<name>/cert.pem and key.pem. tlsx.LayoutSource(StateDir, Env,
	// Name) (see SourceConfig) hot-reloads them.
	StateDir string
	// RenewFraction of the lifetime after which to renew (pki.RenewFraction
	// by default); Jitter renews earlier by up to that fraction of the
	// lifetime, at random (DefaultJitter).
	RenewFraction, Jitter float64
	// TrustRefresh is how often the trust bundle is fetched between renewals.
	TrustRefresh time.Duration
	// RetryMin and RetryMax bound the exponential backoff after failures;
	// a retry never waits more than a tenth of the certificate's lifetime.
	RetryMin, RetryMax time.Duration
	// Timeout bounds each request to the CA.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Validate fills defaults and checks the configuration.
func (c *RenewerConfig) Validate() error {
	u, err := url.Parse(c.CAURL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return fmt.Errorf("renewer config: ca url %q must be https://host:port", c.CAURL)
	case spiffeid.ValidateEnv(c.Env) != nil || spiffeid.ValidateName(c.Name) != nil:
		return fmt.Errorf("renewer config: invalid env %q or name %q", c.Env, c.Name)
	case c.StateDir == "":
		return errors.New("renewer config: state dir is required")
	case c.RenewFraction < 0 || c.RenewFraction >= 1 || c.Jitter < 0 || c.Jitter >= 0.5:
		return errors.New("renewer config: renew fraction must be in [0,1) and jitter in [0,0.5)")
	}
	if c.RenewFraction == 0 {
		c.RenewFraction = pki.RenewFraction
	}
	if c.Jitter == 0 {
		c.Jitter = DefaultJitter
	}
	if c.TrustRefresh <= 0 {
		c.TrustRefresh = DefaultTrustRefresh
	}
	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(DefaultRetryMax, c.RetryMin)
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Renewer obtains and keeps renewing one role's certificate from
// `logsys ca`, and keeps the environment's trust bundle current, in
// StateDir. Its key never leaves the process and key.pem (0600).
type Renewer struct {
	cfg RenewerConfig
	log *slog.Logger
	l   pki.Layout

	mu       sync.Mutex
	cert     *tls.Certificate // nil until one is loaded or obtained
	renewAt  time.Time
	lastErr  error
	failures int
	retryAt  time.Time
	spent    map[string]bool // token hashes already used by this process
}

// NewRenewer validates cfg and loads whatever valid state StateDir holds.
func NewRenewer(cfg RenewerConfig) (*Renewer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Renewer{cfg: cfg, l: pki.Layout{Dir: cfg.StateDir}, spent: map[string]bool{},
		log: cfg.Logger.With("component", "ca-renewer", "env", cfg.Env, "name", cfg.Name)}
	if err := r.loadDisk(); err != nil {
		r.log.Info("no usable certificate in the state directory yet", "err", err)
	}
	return r, nil
}

// SourceConfig returns the tlsx source configuration of the files the
// Renewer maintains.
func (r *Renewer) SourceConfig() tlsx.SourceConfig {
	return tlsx.LayoutSource(r.cfg.StateDir, r.cfg.Env, r.cfg.Name)
}

// Status returns the NotAfter of the current certificate (zero when there
// is none) and the error of the last attempt (nil after a success).
func (r *Renewer) Status() (notAfter time.Time, lastErr error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cert != nil {
		notAfter = r.cert.Leaf.NotAfter
	}
	return notAfter, r.lastErr
}

// Healthy reports an error when there is no valid certificate, or when
// renewal keeps failing and less than a sixth of the lifetime is left,
// so health goes DOWN before the certificate expires.
func (r *Renewer) Healthy() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	if r.cert == nil {
		return fmt.Errorf("no certificate yet: %v", r.lastErr)
	}
	leaf := r.cert.Leaf
	if !now.Before(leaf.NotAfter) {
		return fmt.Errorf("certificate expired at %s: %v", leaf.NotAfter.UTC().Format(time.RFC3339), r.lastErr)
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	if r.lastErr != nil && leaf.NotAfter.Sub(now) < life/6 {
		return fmt.Errorf("renewal failing (%d attempts), certificate expires at %s: %w",
			r.failures, leaf.NotAfter.UTC().Format(time.RFC3339), r.lastErr)
	}
	return nil
}

// Ensure returns once StateDir holds a valid certificate and trust
// bundle, obtaining them if needed: by renewal when a valid certificate
// exists, else with the bootstrap token. Unreachable CAs are retried with
// backoff until ctx ends; a refusal is returned at once.
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
		select {
		case <-ctx.Done():
			return fmt.Errorf("ca renewer: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(r.backoff()):
		}
	}
}

// Run calls Ensure, then renews at RenewFraction of each certificate's
// lifetime (minus jitter) and refreshes the trust bundle every
// TrustRefresh, retrying failures with backoff while the certificate is
// still valid and after. It returns when ctx ends, or Ensure's refusal.
func (r *Renewer) Run(ctx context.Context) error {
	if err := r.Ensure(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	nextTrust := r.cfg.Now().Add(r.cfg.TrustRefresh)
	for {
		now := r.cfg.Now()
		renewAt := r.nextRenewal(now)
		wake := min(renewAt.Sub(now), nextTrust.Sub(now))
		t := time.NewTimer(max(wake, 0))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		now = r.cfg.Now()
		if !now.Before(renewAt) {
			_ = r.obtain(ctx) // recorded in Status and logged
		}
		if !now.Before(nextTrust) {
			nextTrust = now.Add(r.cfg.TrustRefresh)
			if err := r.refreshTrust(ctx); err != nil {
				nextTrust = now.Add(min(r.cfg.TrustRefresh, r.backoff()))
			}
		}
	}
}

// valid reports whether the current certificate is usable at now.
func (r *Renewer) valid(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert != nil && !now.Before(r.cert.Leaf.NotBefore) && now.Before(r.cert.Leaf.NotAfter)
}

// nextRenewal is the planned renewal time, or the next retry after failures.
func (r *Renewer) nextRenewal(now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.failures > 0:
		return r.retryAt
	case r.cert == nil:
		return now
	}
	return r.renewAt
}

// backoff is the wait before the next attempt: exponential in the number
// of consecutive failures, capped by RetryMax and a tenth of the lifetime,
// with ±20% jitter.
func (r *Renewer) backoff() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.backoffLocked()
}

func (r *Renewer) backoffLocked() time.Duration {
	n, c := r.failures, r.cert
	d := r.cfg.RetryMin << min(max(n-1, 0), 20)
	limit := r.cfg.RetryMax
	if c != nil {
		limit = min(limit, max(c.Leaf.NotAfter.Sub(c.Leaf.NotBefore)/10, 100*time.Millisecond))
	}
	d = min(d, limit)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// install makes cert current and plans its renewal.
func (r *Renewer) install(cert *tls.Certificate) {
	leaf := cert.Leaf
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	at := leaf.NotBefore.Add(time.Duration(float64(life) * (r.cfg.RenewFraction - r.cfg.Jitter*rand.Float64())))
	r.mu.Lock()
	r.cert, r.renewAt = cert, at
	r.mu.Unlock()
}

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
