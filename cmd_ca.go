package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"logsys/ca"
	"logsys/pki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// newCACmd builds "logsys ca": the online issuing service of one environment.
func newCACmd() *cobra.Command {
	cfg := ca.DefaultConfig()
	var metricsAddr, logLevel string
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Sign certificates for one environment over mTLS: bootstrap tokens and automatic renewal",
		Long: `logsys ca holds an environment's intermediate key (from the logsys pki directory)
and signs certificate requests over HTTPS (TLS 1.3):

  POST /v1/bootstrap  first certificate, with a single-use token from "logsys pki token"
  POST /v1/renew      renewal, authenticated by the still-valid current certificate
  GET  /v1/trust      the environment's trust bundle and CRLs

The identity of a new certificate comes from the token or the presented
certificate, never from the request. After "logsys pki rotate --intermediate"
the new intermediate is published in the trust bundle at once and signs leaves
once ca.pem is older than --publish-delay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			reg := prometheus.NewRegistry()
			reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
			tm, err := tlsx.NewMetrics(reg)
			if err != nil {
				return err
			}
			cfg.Registerer, cfg.TLSMetrics = reg, tm
			srv, err := ca.New(cfg)
			if err != nil {
				return err
			}
			if metricsAddr != "" {
				stop, err := serveMetrics(cmd.Context(), metricsAddr, reg, cfg.Logger)
				if err != nil {
					return err
				}
				defer stop()
			}
			return srv.Run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "pki", "PKI directory made by `logsys pki init`")
	f.StringVar(&cfg.Env, "env", "dev", "environment whose intermediate signs")
	f.StringVar(&cfg.Addr, "addr", cfg.Addr, "HTTPS listen address")
	f.DurationVar(&cfg.LeafTTL, "leaf-ttl", cfg.LeafTTL, fmt.Sprintf("lifetime of issued certificates (at least %v)", ca.MinLeafTTL))
	f.DurationVar(&cfg.PublishDelay, "publish-delay", cfg.PublishDelay, "how long a new intermediate is only published before it signs (0: at once)")
	f.StringSliceVar(&cfg.Hosts, "hosts", nil, "extra DNS names or IPs of the CA's own certificate")
	f.DurationVar(&cfg.PollInterval, "poll", cfg.PollInterval, "how often the PKI directory is re-read")
	f.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus /metrics over plain HTTP on this address (off when empty)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

// serveMetrics serves reg on addr until stop is called or ctx ends.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, lg *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	hs := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.ListenAndServe() }()
	select {
	case err := <-errc:
		return nil, fmt.Errorf("metrics listener: %w", err)
	case <-time.After(50 * time.Millisecond):
	}
	go func() {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			lg.Warn("metrics listener stopped", "err", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}, nil
}

// newTokenCmd builds "logsys pki token": a single-use bootstrap token.
func newTokenCmd() *cobra.Command {
	var o ca.TokenOptions
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a single-use, expiring bootstrap token for one workload of one environment",
		Long: `Prints a random token (256 bits) bound to --env and --name. logsys ca stores only
its SHA-256 with the binding and expiry (DIR/<env>/tokens/, 0600) and accepts it
once, before it expires, for exactly spiffe://<trust-domain>/<env>/<name>.
The token is printed once on stdout; keep it secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = pkiDir(cmd)
			m, err := pki.ReadMeta(o.Dir)
			if err != nil {
				return err
			}
			tok, rec, err := ca.NewToken(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "single-use token for %s, expires %s\n",
				spiffeid.ID{TrustDomain: m.TrustDomain, Env: rec.Env, Name: rec.Name}, rec.Expires.Format(time.RFC3339))
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "dev", "environment the token is bound to")
	f.StringVar(&o.Name, "name", "", "workload name the token is bound to (required)")
	f.DurationVar(&o.TTL, "ttl", ca.DefaultTokenTTL, fmt.Sprintf("validity of the token (at most %v)", ca.MaxTokenTTL))
	f.StringSliceVar(&o.Hosts, "hosts", nil, "extra DNS names or IPs for the certificate")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
