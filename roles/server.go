package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"logsys/tlsx"
)

// peerName returns the name part of the verified client certificate's
// identity (spiffe://td/env/NAME), or "" when there is none.
func peerName(r *http.Request) string {
	id, ok := peerID(r)
	if !ok {
		return ""
	}
	return id.Name
}

// healthView is the readiness answer of every role.
type healthView struct {
	Status       string     `json:"status"`
	Service      string     `json:"service"`
	Reasons      []string   `json:"reasons,omitempty"`
	Certificates []certView `json:"certificates"`
}

// health builds the readiness view at now: DOWN when any certificate in
// use expires within the threshold, or when a role-specific check fails.
func health(service string, t *tlsSetup, now time.Time, threshold time.Duration, extra func() []string) (healthView, bool) {
	certs, reasons := t.status(now, threshold)
	if extra != nil {
		reasons = append(reasons, extra()...)
	}
	v := healthView{Status: "healthy", Service: service, Reasons: reasons, Certificates: certs}
	if len(reasons) > 0 {
		v.Status = "unhealthy"
		return v, false
	}
	return v, true
}

// servers runs a role's mTLS listener and its loopback-only liveness
// listener, and shuts both down gracefully.
type servers struct {
	log      *slog.Logger
	main     *http.Server
	mainLn   net.Listener
	live     *http.Server
	liveLn   net.Listener
	shutdown time.Duration
}

// newServers pairs the role's main server with its liveness listener
// (none when liveAddr is empty). On error ln is closed.
func newServers(log *slog.Logger, srv *http.Server, ln net.Listener, liveAddr string, grace time.Duration) (*servers, error) {
	if tl, ok := ln.(*tlsx.Listener); ok {
		tl.Attach(srv) // max_conn_age lets requests in flight finish
	}
	s := &servers{log: log, main: srv, mainLn: ln, shutdown: grace}
	if liveAddr != "" {
		var err error
		if s.live, s.liveLn, err = newLiveness(liveAddr); err != nil {
			ln.Close()
			return nil, err
		}
	}
	return s, nil
}

// closeListeners releases the listeners of servers that never ran.
func (s *servers) closeListeners() {
	if s == nil {
		return
	}
	s.mainLn.Close()
	if s.liveLn != nil {
		s.liveLn.Close()
	}
}

// newLiveness serves /healthz without TLS on a loopback address only.
func newLiveness(addr string) (*http.Server, net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, fmt.Errorf("liveness address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, nil, fmt.Errorf("liveness address %q must be on loopback: it answers without a client certificate", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen for liveness on %s (liveness_addr): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "UP"})
	})
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, ln, nil
}

// run serves until ctx is done, then shuts down within the grace period.
func (s *servers) run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- serveErr(s.main.Serve(s.mainLn)) }()
	if s.live != nil {
		go func() { errc <- serveErr(s.live.Serve(s.liveLn)) }()
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			s.stop()
			return err
		}
	}
	return s.stop()
}

func (s *servers) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	var errs []error
	if err := s.main.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("shut down server: %w", err))
	}
	if s.live != nil {
		if err := s.live.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shut down liveness: %w", err))
		}
	}
	return errors.Join(errs...)
}

// serveErr hides the errors of a deliberate stop: Shutdown, or Close
// releasing the listener under a running server.
func serveErr(err error) error {
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}
