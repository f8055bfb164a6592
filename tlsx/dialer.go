package tlsx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultSessionCacheSize is the capacity of a Dialer's session cache.
const DefaultSessionCacheSize = 256

// Dialer opens mutual-TLS connections with the source's current
// certificate and anchors. Each dial builds a fresh config (so rotated
// anchors apply at once), verifies the server's host name and identity,
// and shares one session cache so reconnects resume. DialContext fits
// http.Transport.DialTLSContext and franz-go's kgo.Dialer.
type Dialer struct {
	src     *Source
	authz   Authorizer
	base    *tls.Config
	m       *Metrics
	name    string
	timeout time.Duration

	// Net dials the TCP connection; set it before the first dial.
	Net *net.Dialer
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
	base.ClientSessionCache = tls.NewLRUClientSessionCache(DefaultSessionCacheSize)
	base.Time = src.now
	base.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return src.Certificate(), nil
	}
	base.VerifyConnection = func(cs tls.ConnectionState) error { return src.verifyPeer(cs, authz) }
	m.initListener(SideClient, name)
	return &Dialer{
		src: src, authz: authz, base: base, m: m, name: name,
		timeout: opts.handshakeTimeout(),
		Net:     &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
	}, nil
}

// Config returns a client configuration for serverName with the current
// anchors. Configs from one Dialer share its session cache.
func (d *Dialer) Config(serverName string) *tls.Config {
	c := d.base.Clone()
	c.RootCAs = d.src.Anchors()
	c.ServerName = serverName
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
	raw, err := d.Net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err // already names the address
	}
	conn := tls.Client(raw, d.Config(host))
	hctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	start := time.Now()
	if err := conn.HandshakeContext(hctx); err != nil {
		raw.Close()
		d.m.HandshakeFailed(SideClient, d.name, Classify(err))
		return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	d.m.ObserveHandshake(SideClient, d.name, conn.ConnectionState().DidResume, time.Since(start))
	return conn, nil
}
