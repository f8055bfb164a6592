package roles

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"logsys/tlsx"
)

// ProbeConfig is one `logsys health` check: a role's loopback /healthz
// (Liveness) or its /readyz over mutual TLS (URL), presenting the PKI
// certificate of Env/Name. Exactly one of Liveness and URL is set; they
// are the probe's target, given per run (--liveness, --url), not settings.
type ProbeConfig struct {
	Liveness string        `mapstructure:"-"`
	URL      string        `mapstructure:"-"`
	PKIDir   string        `mapstructure:"pki_dir"`
	Env      string        `mapstructure:"env"`
	Name     string        `mapstructure:"name"`
	Timeout  time.Duration `mapstructure:"timeout"`
}

// DefaultProbeConfig returns the defaults: the certificate of the
// prometheus identity of dev in the PKI that `logsys all` makes.
func DefaultProbeConfig() ProbeConfig {
	return ProbeConfig{PKIDir: tlsx.DefaultPKIDir, Env: tlsx.DefaultEnv, Name: "prometheus", Timeout: 3 * time.Second}
}

// Validate checks the settings without probing; both targets may be empty
// here (Probe requires one).
func (c ProbeConfig) Validate() error {
	var errs []error
	if c.Liveness != "" {
		if err := checkLivenessURL(c.Liveness); err != nil {
			errs = append(errs, err)
		}
	}
	if c.URL != "" {
		if u, err := url.Parse(c.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--url %q must be an https URL", c.URL))
		}
		if c.PKIDir == "" || c.Env == "" || c.Name == "" {
			errs = append(errs, errors.New("--url needs pki_dir, env and name"))
		}
	}
	if c.Liveness != "" && c.URL != "" {
		errs = append(errs, errors.New("--url and --liveness exclude each other"))
	}
	errs = append(errs, positive(limit{"timeout", int64(c.Timeout)})...)
	return errors.Join(errs...)
}

// Probe performs one GET within the timeout and returns the URL it
// checked; any answer but 200 is an error.
func Probe(ctx context.Context, c ProbeConfig) (string, error) {
	if c.Liveness == "" && c.URL == "" {
		return "", errors.New("nothing to probe: give --liveness or --url")
	}
	if err := c.Validate(); err != nil {
		return c.Liveness + c.URL, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	c.Liveness, c.URL = withPath(c.Liveness, "/healthz"), withPath(c.URL, "/readyz")
	target := c.Liveness
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	if target == "" {
		target = c.URL
		var err error
		if client, err = probeClient(c); err != nil {
			return target, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return target, fmt.Errorf("build request: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return target, err // names the URL
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return target, fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return target, nil
}

// withPath gives a URL without a path (https://host:port) the role's
// probe path; a URL with a path is kept as given.
func withPath(s, path string) string {
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return s
	}
	u.Path = path
	return u.String()
}

// checkLivenessURL accepts only http URLs on loopback: the liveness
// listener answers without TLS and never leaves the host.
func checkLivenessURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("--liveness %q must be an http URL", s)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--liveness %q must be on loopback (use --url for remote, mutual-TLS probes)", s)
	}
	return nil
}

// probeClient presents PKIDir/Env/Name's certificate and trusts only the
// environment's intermediates, verifying the server's host name.
func probeClient(c ProbeConfig) (*http.Client, error) {
	sc := tlsx.LayoutSource(c.PKIDir, c.Env, c.Name)
	sc.Logger = slog.New(slog.DiscardHandler)
	src, err := tlsx.NewSource(sc)
	if err != nil {
		return nil, err
	}
	d, err := tlsx.NewDialer(src, tlsx.AuthorizeAny(), tlsx.Options{MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"}}, nil, "health")
	if err != nil {
		return nil, fmt.Errorf("client tls: %w", err)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, DialTLSContext: d.DialContext, DisableKeepAlives: true,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}}, nil
}
