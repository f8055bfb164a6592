package main

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

	"github.com/spf13/cobra"

	"logsys/tlsx"
)

// exitUnhealthy is the exit status of "logsys health" when the probe fails,
// as container health checks expect.
const exitUnhealthy = 1

// healthOptions are the flags of "logsys health".
type healthOptions struct {
	liveness string
	url      string
	pkiDir   string
	env      string
	name     string
	timeout  time.Duration
}

// newHealthCmd builds "logsys health": a probe for container health checks
// (the image has no shell or curl). It exits 0 when the endpoint answers
// 200, 1 otherwise with a one-line reason.
func newHealthCmd() *cobra.Command {
	var o healthOptions
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe a role's /healthz (plain HTTP, loopback) or /readyz (mutual TLS); exit 0 when UP",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), o.timeout)
			defer cancel()
			target, err := probe(ctx, o)
			if err != nil {
				return &exitError{code: exitUnhealthy, err: fmt.Errorf("DOWN: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "UP: %s\n", target)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.liveness, "liveness", "", "plain-HTTP liveness URL on loopback, e.g. http://127.0.0.1:9080/healthz")
	f.StringVar(&o.url, "url", "", "HTTPS readiness URL probed with mutual TLS, e.g. https://127.0.0.1:8080/readyz")
	f.StringVar(&o.pkiDir, "pki-dir", "pki", "PKI directory for --url")
	f.StringVar(&o.env, "env", "dev", "environment of the certificate used for --url")
	f.StringVar(&o.name, "name", "prometheus", "identity presented for --url (the role must admit it)")
	f.DurationVar(&o.timeout, "timeout", 3*time.Second, "give up after this long")
	cmd.MarkFlagsMutuallyExclusive("liveness", "url")
	cmd.MarkFlagsOneRequired("liveness", "url")
	return cmd
}

// probe performs one GET and returns the URL it checked.
func probe(ctx context.Context, o healthOptions) (string, error) {
	var client *http.Client
	target := o.liveness
	if target != "" {
		if err := checkLivenessURL(target); err != nil {
			return target, err
		}
		client = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	} else {
		target = o.url
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return target, fmt.Errorf("--url %q must be an https URL", target)
		}
		if client, err = mtlsClient(o); err != nil {
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

// mtlsClient presents DIR/ENV/NAME's certificate and trusts only the
// environment's intermediates, verifying the server's host name.
func mtlsClient(o healthOptions) (*http.Client, error) {
	if o.pkiDir == "" || o.env == "" || o.name == "" {
		return nil, errors.New("--url needs --pki-dir, --env and --name")
	}
	sc := tlsx.LayoutSource(o.pkiDir, o.env, o.name)
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
