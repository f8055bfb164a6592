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
type ListenerOption func(*listener)

// WithHandshakeTimeout bounds each server handshake (DefaultHandshakeTimeout otherwise).
func WithHandshakeTimeout(d time.Duration) ListenerOption {
	return func(l *listener) {
		if d > 0 {
			l.timeout = d
		}
	}
}

// WithLogger sets the logger for refused handshakes (slog.Default otherwise).
func WithLogger(lg *slog.Logger) ListenerOption {
	return func(l *listener) {
		if lg != nil {
			l.log = lg
		}
	}
}

// NewListener wraps inner so that Accept returns *tls.Conn values whose
// handshake has already completed. Handshakes run concurrently, off the
// accept loop, bounded by a timeout; each is timed and failures are
// classified into metrics, then dropped. Because Accept returns the
// *tls.Conn itself, http.Server negotiates HTTP/2 through ALPN as usual.
func NewListener(inner net.Listener, cfg *tls.Config, m *Metrics, name string, opts ...ListenerOption) net.Listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		inner: inner, cfg: cfg, m: m, name: name,
		timeout: DefaultHandshakeTimeout, log: slog.Default(),
		ctx: ctx, cancel: cancel,
		conns: make(chan *tls.Conn),
	}
	for _, o := range opts {
		o(l)
	}
	m.initListener(SideServer, name)
	go l.loop()
	return l
}

type listener struct {
	inner   net.Listener
	cfg     *tls.Config
	m       *Metrics
	name    string
	timeout time.Duration
	log     *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	conns  chan *tls.Conn

	mu  sync.Mutex
	err error // why the accept loop stopped
}

func (l *listener) loop() {
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

func (l *listener) handshake(raw net.Conn) {
	conn := tls.Server(raw, l.cfg)
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
	select {
	case l.conns <- conn:
	case <-l.ctx.Done():
		conn.Close()
	}
}

func (l *listener) stop(err error) {
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
	l.cancel()
}

// Accept returns the next connection whose handshake succeeded.
func (l *listener) Accept() (net.Conn, error) {
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
func (l *listener) Close() error {
	l.stop(net.ErrClosed)
	return l.inner.Close()
}

func (l *listener) Addr() net.Addr { return l.inner.Addr() }
