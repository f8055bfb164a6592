package tlsx

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// ListenerOption changes a listener made by NewListener.
type ListenerOption func(*Listener)

// WithHandshakeTimeout bounds each server handshake (DefaultHandshakeTimeout otherwise).
func WithHandshakeTimeout(d time.Duration) ListenerOption {
	return func(l *Listener) {
		if d > 0 {
			l.timeout = d
		}
	}
}

// WithLogger sets the logger for refused handshakes and closed
// connections (slog.Default otherwise).
func WithLogger(lg *slog.Logger) ListenerOption {
	return func(l *Listener) {
		if lg != nil {
			l.log = lg
		}
	}
}

// WithPeerChecks makes the listener re-check every live connection when
// src's material changes (a CRL or trust bundle reloaded, material
// pushed) and when src's CRL gets stale, with the checks of a handshake
// (src's CRL, the chain against the current anchors, our environment and
// authz, as ServerConfig(src, authz, ...) makes them), and close at once
// each connection whose peer fails them. Listeners without it close
// connections only at their peer's NotAfter and maximum age.
func WithPeerChecks(src *Source, authz Authorizer) ListenerOption {
	return func(l *Listener) { l.track.src, l.track.authz = src, authz }
}

// WithMaxConnAge closes each connection at an age drawn in [0.9d, d]
// (DefaultMaxConnAge when d is not positive).
func WithMaxConnAge(d time.Duration) ListenerOption {
	return func(l *Listener) {
		if d > 0 {
			l.track.maxAge = d
		}
	}
}

// WithDrainTimeout bounds how long a gently closed connection (maximum
// age) may finish in-flight requests (DefaultDrainTimeout otherwise).
func WithDrainTimeout(d time.Duration) ListenerOption {
	return func(l *Listener) {
		if d > 0 {
			l.track.drain = d
		}
	}
}

// NewListener wraps inner so that Accept returns *tls.Conn values whose
// handshake has already completed. Handshakes run concurrently, off the
// accept loop, bounded by a timeout; each is timed and failures are
// classified into metrics, then dropped. Because Accept returns the
// *tls.Conn itself, http.Server negotiates HTTP/2 through ALPN as usual.
//
// Every accepted connection is tracked with the peer certificates of its
// handshake until it closes: it is closed at the peer's NotAfter
// (CloseExpired), at its maximum age (CloseMaxAge) and, with
// WithPeerChecks, as soon as its peer no longer passes the checks of a
// handshake. Closes are counted in logsys_tls_connections_closed_total.
func NewListener(inner net.Listener, cfg *tls.Config, m *Metrics, name string, opts ...ListenerOption) *Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Listener{
		inner: inner, cfg: cfg, m: m, name: name,
		timeout: DefaultHandshakeTimeout, log: slog.Default(),
		ctx: ctx, cancel: cancel,
		conns: make(chan *tls.Conn),
		track: newTracker(SideServer, name, m, nil),
	}
	l.track.maxAge = DefaultMaxConnAge
	for _, o := range opts {
		o(l)
	}
	l.track.log = l.log
	m.initListener(SideServer, name)
	go l.loop()
	return l
}

// Listener is a TLS listener that completes handshakes before Accept
// returns them and tracks the connections it returned (see NewListener).
type Listener struct {
	inner   net.Listener
	cfg     *tls.Config
	m       *Metrics
	name    string
	timeout time.Duration
	log     *slog.Logger
	track   *tracker

	ctx    context.Context
	cancel context.CancelFunc
	conns  chan *tls.Conn

	mu  sync.Mutex
	err error // why the accept loop stopped
}

func (l *Listener) loop() {
	backoff := 5 * time.Millisecond
	for {
		raw, err := l.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || l.ctx.Err() != nil {
				l.stop(err)
				return
			}
			l.log.Warn("tls listener accept failed; retrying", "listener", l.name, "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-l.ctx.Done():
				l.stop(net.ErrClosed)
				return
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		go l.handshake(raw)
	}
}

func (l *Listener) handshake(inner net.Conn) {
	raw := &rawConn{Conn: inner}
	conn := tls.Server(raw, l.cfg)
	var before *material
	if l.track.src != nil {
		before = l.track.src.cur.Load()
	}
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	start := time.Now()
	err := conn.HandshakeContext(ctx)
	cancel()
	if err != nil {
		reason := Classify(err)
		l.m.HandshakeFailed(SideServer, l.name, reason)
		l.log.Info("tls handshake refused", "listener", l.name, "remote", raw.RemoteAddr().String(), "reason", string(reason), "err", err)
		raw.Close()
		return
	}
	l.m.ObserveHandshake(SideServer, l.name, conn.ConnectionState().DidResume, time.Since(start))
	l.track.add(conn, raw, before, nil)
	select {
	case l.conns <- conn:
	case <-l.ctx.Done():
		conn.Close()
	}
}

func (l *Listener) stop(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.cancel()
}

// Accept returns the next connection whose handshake succeeded.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.err == nil || errors.Is(l.err, net.ErrClosed) {
			return nil, &net.OpError{Op: "accept", Net: l.inner.Addr().Network(), Addr: l.inner.Addr(), Err: net.ErrClosed}
		}
		return nil, l.err
	}
}

// Close stops accepting, closes inner and abandons pending handshakes.
func (l *Listener) Close() error {
	l.stop(net.ErrClosed)
	return l.inner.Close()
}

func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Open returns the number of live connections the listener tracks.
func (l *Listener) Open() int { return l.track.open() }
