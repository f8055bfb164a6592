package tlsx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// DefaultSessionCacheSize is the capacity of a Dialer's session cache.
const DefaultSessionCacheSize = 256

// Dialer opens mutual-TLS connections with the source's current
// certificate and anchors. Each dial builds a fresh config (so rotated
// anchors apply at once), verifies the server's host name and identity,
// and shares one session cache so reconnects resume. DialContext fits
// http.Transport.DialTLSContext (better: Transport) and franz-go's
// kgo.Dialer.
//
// The Dialer tracks the connections it made. When the source's material
// changes it re-checks each server as a listener re-checks its clients
// (WithPeerChecks), and closes each connection at the server's NotAfter.
// When our own certificate is replaced, the session cache is dropped (a
// resumed session would present the previous certificate again) and the
// connections made with the previous one are closed after the drain
// timeout (DefaultDrainTimeout; SetDrainTimeout), which lets exchanges in
// flight finish; a transport passed to Transport moves sooner (see
// there). franz-go reconnects when its connection is closed and retries
// what was in flight; its idempotent producer writes nothing twice.
type Dialer struct {
	src     *Source
	authz   Authorizer
	base    *tls.Config
	m       *Metrics
	name    string
	timeout time.Duration
	track   *tracker
	sess    atomic.Pointer[sessions]

	// Net dials the TCP connection; set it before the first dial.
	Net *net.Dialer
}

// sessions is a session cache and the certificate of ours its sessions
// were made with.
type sessions struct {
	cache tls.ClientSessionCache
	leaf  *x509.Certificate
}

// NewDialer returns a Dialer presenting src's certificate to servers that
// authz accepts. name is the `listener` metric label (e.g. "producer->kafka").
func NewDialer(src *Source, authz Authorizer, opts Options, m *Metrics, name string) (*Dialer, error) {
	if src == nil || authz == nil {
		return nil, errors.New("tls dialer: source and authorizer are required")
	}
	base, err := opts.base()
	if err != nil {
		return nil, err
	}
	base.Time = src.now
	base.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return src.Certificate(), nil
	}
	base.VerifyConnection = func(cs tls.ConnectionState) error { return src.verifyPeer(cs, SideClient, authz) }
	m.initListener(SideClient, name)
	track := newTracker(SideClient, name, m, src.log)
	track.src, track.authz = src, authz
	d := &Dialer{
		src: src, authz: authz, base: base, m: m, name: name,
		timeout: opts.handshakeTimeout(), track: track,
		Net: &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
	}
	d.sessions()
	return d, nil
}

// sessions returns the session cache for our current certificate,
// starting an empty one when the certificate changed.
func (d *Dialer) sessions() *sessions {
	leaf := d.src.Certificate().Leaf
	for {
		cur := d.sess.Load()
		if cur != nil && cur.leaf.Equal(leaf) {
			return cur
		}
		next := &sessions{cache: tls.NewLRUClientSessionCache(DefaultSessionCacheSize), leaf: leaf}
		if d.sess.CompareAndSwap(cur, next) {
			return next
		}
	}
}

// Config returns a client configuration for serverName with the current
// anchors. Configs from one Dialer share its session cache as long as our
// certificate stays the same.
func (d *Dialer) Config(serverName string) *tls.Config { return d.config(serverName, d.sessions()) }

func (d *Dialer) config(serverName string, sess *sessions) *tls.Config {
	c := d.base.Clone()
	c.RootCAs = d.src.Anchors()
	c.ServerName = serverName
	c.ClientSessionCache = sess.cache
	return c
}

// DialContext connects to addr and completes the handshake, verifying the
// server's certificate for addr's host. It returns the *tls.Conn itself, so
// callers such as net/http see the negotiated ALPN protocol.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tls dial %s: %w", addr, err)
	}
	inner, err := d.Net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err // already names the address
	}
	raw := &rawConn{Conn: inner}
	before := d.src.cur.Load()
	sess := d.sessions()
	cfg := d.config(host, sess)
	// A resumed session presents the certificate of the handshake that
	// made it: one made with the certificate of its cache.
	ours := sess.leaf
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c := d.src.Certificate()
		ours = c.Leaf
		return c, nil
	}
	conn := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		d.m.HandshakeFailed(SideClient, d.name, Classify(err))
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	d.m.ObserveHandshake(SideClient, d.name, conn.ConnectionState().DidResume, time.Since(start))
	d.track.add(conn, raw, before, ours)
	return conn, nil
}

// WithLogger sets the logger for closed connections (the source's otherwise).
func (d *Dialer) WithLogger(lg *slog.Logger) *Dialer {
	if lg != nil {
		d.track.log = lg
	}
	return d
}

// SetDrainTimeout sets how long connections made with a replaced
// certificate may stay (DefaultDrainTimeout when d is not positive). Call
// it before the first dial.
func (d *Dialer) SetDrainTimeout(t time.Duration) {
	if t <= 0 {
		t = DefaultDrainTimeout
	}
	d.track.drain = t
}

// Open returns the number of live connections the dialer tracks.
func (d *Dialer) Open() int { return d.track.open() }
