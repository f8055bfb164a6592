package roles

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"logsys/tlsx"
)

// base is what every role shares: its name, logger and clock, its TLS
// material, its metrics registry, its mutual-TLS server with the loopback
// liveness server, and the release of everything New acquired. A role
// embeds it and adds its own work.
type base struct {
	role    string
	log     *slog.Logger
	now     func() time.Time
	tls     *tlsSetup
	metrics *roleMetrics
	srv     *servers // nil for a role without HTTP listeners (the broker)

	closeOnce sync.Once
	closers   []func() error // released by close, last first
}

// newBase sets up a role's logger, clock, metrics and TLS material; clock
// nil means time.Now. ctx bounds obtaining a certificate from the CA.
func newBase(ctx context.Context, role string, id tlsx.Identity, log *slog.Logger, clock func() time.Time) (*base, error) {
	if clock == nil {
		clock = time.Now
	}
	b := &base{role: role, log: logger(log, role), now: clock, metrics: newRoleMetrics(role)}
	var err error
	if b.tls, err = newTLS(ctx, id, b.metrics.reg, b.log); err != nil {
		return nil, err
	}
	return b, nil
}

func logger(l *slog.Logger, role string) *slog.Logger {
	if l == nil {
		l = slog.Default()
	}
	return l.With("role", role)
}

// onClose registers a release for close (run in reverse order).
func (b *base) onClose(f func() error) { b.closers = append(b.closers, f) }

// close releases the listeners of servers that never ran and everything
// registered with onClose, once.
func (b *base) close() error {
	var errs []error
	b.closeOnce.Do(func() {
		b.srv.closeListeners()
		for _, f := range slices.Backward(b.closers) {
			errs = append(errs, f())
		}
	})
	return errors.Join(errs...)
}

// listener is how a role's HTTPS listener is set up.
type listener struct {
	addr, livenessAddr string
	// allowed are the identity names admitted in the TLS handshake; each
	// route narrows them further.
	allowed []string
	grace   time.Duration
	// http1 turns HTTP/2 off on the listener.
	http1 bool
}

// listen binds the role's mutual-TLS listener and its loopback liveness
// listener, serving h on the first.
func (b *base) listen(l listener, h http.Handler) error {
	ln, err := b.tls.listen(l.addr, b.role, l.allowed...)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ConnContext:       withPeer, // the client's identity, once per connection
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if l.http1 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	b.srv, err = newServers(b.log, srv, ln, l.livenessAddr, l.grace)
	return err
}

// addr returns the bound HTTPS address.
func (b *base) addr() string { return b.srv.mainLn.Addr().String() }

// serve keeps the certificate current and serves until ctx is done, then
// shuts the servers down within the grace period.
func (b *base) serve(ctx context.Context) error {
	go b.tls.run(ctx)
	return b.srv.run(ctx)
}

// route is h for the named identities only, counted and timed under
// route, with its errors answered by writeError.
func (b *base) route(route string, h handler, names ...string) http.Handler {
	return b.metrics.instrument(b.role, route, b.onlyNames(b.handle(h), names...))
}

// handle adapts a handler that returns its error.
func (b *base) handle(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			b.writeError(w, r, err)
		}
	})
}

// onlyNames lets through requests whose verified peer has one of names.
// The TLS layer has already checked chain, environment and revocation.
func (b *base) onlyNames(h http.Handler, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(names, peerName(r)) {
			b.writeError(w, r, errForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// healthHandler answers the readiness view: 200 when healthy, else 503.
func (b *base) healthHandler(service string, threshold time.Duration, extra func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := b.health(service, threshold, extra)
		code := http.StatusOK
		if !ok {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, v)
	})
}

// health builds the readiness view at the role's clock.
func (b *base) health(service string, threshold time.Duration, extra func() []string) (healthView, bool) {
	return health(service, b.tls, b.now(), threshold, extra)
}
