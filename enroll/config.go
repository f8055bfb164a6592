package enroll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca/wire"
	"logsys/pki"
	"logsys/spiffeid"
)

// Defaults of Config.
const (
	DefaultJitter       = 0.05
	DefaultTrustRefresh = time.Minute
	DefaultRetryMin     = time.Second
	DefaultRetryMax     = time.Minute
	DefaultTimeout      = 30 * time.Second
)

// Config configures a Renewer.
type Config struct {
	// CAURL is the base URL of `logsys ca`, e.g. https://ca:8443.
	CAURL string
	// TrustDomain, Env and Name are the identity this role expects,
	// spiffe://<TrustDomain>/<Env>/<Name>: a certificate for anything else
	// is refused and nothing is written. The CA must present
	// spiffe://<TrustDomain>/<Env>/ca.
	TrustDomain, Env, Name string
	// Token is a bootstrap token from `logsys pki token`; TokenFile a file
	// holding one (re-read at every bootstrap attempt, so an operator can
	// drop in a new token). Needed only when no valid certificate exists.
	Token, TokenFile string
	// CABundle is a PEM file with the environment's chain (a copy of
	// pki/<env>/ca-chain.pem: its intermediate and the root). Its
	// intermediates verify the CA, besides those of the trust bundle
	// obtained (it is re-read before each request, so a replaced file
	// counts); its root is pinned: every intermediate accepted from the CA
	// or from this file must be signed by it.
	// The pin is kept in StateDir (<env>/root.pem), so CABundle is optional
	// once StateDir holds one; a CABundle with another root is an error.
	CABundle string
	// StateDir receives the files in the `logsys pki` layout, read back at
	// the next start: <env>/root.pem (the pin), <env>/ca.pem, ca-chain.pem,
	// bundle.pem (during an overlap), crl.pem, <env>/<name>/cert.pem and
	// key.pem.
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
	// Registerer receives the logsys_enroll_* metrics (optional).
	Registerer prometheus.Registerer
	// Now is the clock of every decision; time.Now when nil.
	Now func() time.Time
	// DialContext opens the connections to the CA; a net.Dialer when nil.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate fills defaults and checks the configuration.
func (c *Config) Validate() error {
	u, err := url.Parse(c.CAURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("enroll config: ca url %q must be https://host:port", c.CAURL)
	}
	if _, err := spiffeid.New(c.TrustDomain, c.Env, c.Name); err != nil {
		return fmt.Errorf("enroll config: identity: %w", err)
	}
	switch {
	case c.Name == wire.CAName:
		return fmt.Errorf("enroll config: name %q is reserved for the CA itself", wire.CAName)
	case c.StateDir == "":
		return errors.New("enroll config: state dir is required")
	case c.RenewFraction < 0 || c.RenewFraction >= 1 || c.Jitter < 0 || c.Jitter >= 0.5:
		return errors.New("enroll config: renew fraction must be in [0,1) and jitter in [0,0.5)")
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
