package ca

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"logsys/tlsx"
)

// Run is `logsys ca`: it builds a Server with its own Prometheus registry
// (Go and process collectors, logsys_ca_* and TLS handshake metrics),
// serves it on cfg.Addr and, when cfg.MetricsAddr is set, the registry on
// GET /metrics over plain HTTP, until ctx ends. Every listener is bound
// before anything is served, so a busy address fails at once.
func Run(ctx context.Context, cfg Config) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	tm, err := tlsx.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("ca: tls metrics: %w", err)
	}
	cfg.Registerer, cfg.TLSMetrics = reg, tm
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", srv.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ca: listen: %w", err)
	}
	if cfg.MetricsAddr == "" {
		return srv.Serve(ctx, ln)
	}
	mln, err := net.Listen("tcp", cfg.MetricsAddr)
	if err != nil {
		ln.Close()
		return fmt.Errorf("ca: metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	merr := make(chan error, 1)
	go func() { merr <- hs.Serve(mln) }()
	err = srv.Serve(ctx, ln)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	if e := <-merr; !errors.Is(e, http.ErrServerClosed) {
		err = errors.Join(err, fmt.Errorf("ca: metrics listener: %w", e))
	}
	return err
}
