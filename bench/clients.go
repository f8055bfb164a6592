package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// proto names how a client talks to a server.
type proto string

const (
	protoPlain proto = "http/1.1 plaintext"
	protoH1    proto = "http/1.1+mTLS"
	protoH2    proto = "h2+mTLS"
)

// clientTLS is what a client with a certificate does: trust the
// environment's chain, present its leaf, keep a session cache (unless
// resume is false) and offer the given key-exchange groups (nil: Go's
// default, hybrid X25519MLKEM768 first).
func clientTLS(certFile, keyFile, caFile string, resume bool, curves []tls.CurveID) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read trust anchors: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificates in %s", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load client certificate: %w", err)
	}
	cfg := &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert},
		MinVersion: tls.VersionTLS13, CurvePreferences: curves,
	}
	if resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(64)
	}
	return cfg, nil
}

// newClient returns an HTTP client whose connections are counted by w.
// keepAlive false opens a new connection (and handshake) per request.
func newClient(tc *tls.Config, w *wire, p proto, conns int, keepAlive bool) *http.Client {
	tr := &http.Transport{
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableKeepAlives:   !keepAlive,
		DisableCompression:  true,
		DialContext:         w.dial,
	}
	switch p {
	case protoH2:
		tc = tc.Clone()
		tc.NextProtos = []string{"h2", "http/1.1"}
		tr.ForceAttemptHTTP2 = true
		tr.DialTLSContext = tlsDial(tc, w)
	case protoH1:
		tc = tc.Clone()
		tc.NextProtos = []string{"http/1.1"}
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		tr.DialTLSContext = tlsDial(tc, w)
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// tlsDial completes the handshake over a counted TCP connection and
// returns the *tls.Conn so that net/http sees the negotiated protocol.
func tlsDial(tc *tls.Config, w *wire) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := w.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		host, _, _ := net.SplitHostPort(addr)
		c := tc.Clone()
		c.ServerName = host
		conn := tls.Client(raw, c)
		if err := conn.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		return conn, nil
	}
}

// closeIdle drops a client's pooled connections.
func closeIdle(c *http.Client) {
	if tr, ok := c.Transport.(*http.Transport); ok {
		tr.CloseIdleConnections()
	}
}

var errNoTLS = errors.New("request arrived without a verified client certificate")
