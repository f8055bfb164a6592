package tlsx

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// KeyExchange selects the key-exchange groups offered and accepted.
type KeyExchange int

const (
	// KeyExchangeDefault uses Go's default groups: hybrid
	// post-quantum X25519MLKEM768 first, then classical curves.
	KeyExchangeDefault KeyExchange = iota
	// KeyExchangeX25519 allows only X25519 (smaller hellos, no PQ).
	KeyExchangeX25519
)

// DefaultHandshakeTimeout bounds a handshake when none is configured.
const DefaultHandshakeTimeout = 10 * time.Second

// ProtosHTTP is the ALPN list that offers HTTP/2 and HTTP/1.1.
var ProtosHTTP = []string{"h2", "http/1.1"}

// Options are the knobs of the hardened base configuration.
type Options struct {
	// MinVersion is tls.VersionTLS13 (the default when zero) or
	// tls.VersionTLS12, which then allows only ECDHE+AEAD suites.
	MinVersion uint16
	// KeyExchange selects the groups; KeyExchangeDefault when zero.
	KeyExchange KeyExchange
	// NextProtos is the ALPN list, e.g. ProtosHTTP; none when empty.
	NextProtos []string
	// HandshakeTimeout bounds client handshakes made by a Dialer;
	// DefaultHandshakeTimeout when zero.
	HandshakeTimeout time.Duration
}

// tls12Suites are the only TLS 1.2 suites allowed: ECDHE key exchange with
// AEAD ciphers. TLS 1.3 suites are not configurable and all AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// base returns the hardened configuration every server and client config
// starts from.
func (o Options) base() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS13}
	switch o.MinVersion {
	case 0, tls.VersionTLS13:
	case tls.VersionTLS12:
		c.MinVersion = tls.VersionTLS12
		c.CipherSuites = tls12Suites
	default:
		return nil, fmt.Errorf("tls options: min version %#04x not allowed (TLS 1.2 or 1.3 only)", o.MinVersion)
	}
	switch o.KeyExchange {
	case KeyExchangeDefault:
	case KeyExchangeX25519:
		c.CurvePreferences = []tls.CurveID{tls.X25519}
	default:
		return nil, fmt.Errorf("tls options: unknown key exchange %d", o.KeyExchange)
	}
	if len(o.NextProtos) > 0 {
		c.NextProtos = append([]string(nil), o.NextProtos...)
	}
	return c, nil
}

func (o Options) handshakeTimeout() time.Duration {
	if o.HandshakeTimeout > 0 {
		return o.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// ServerConfig returns a server configuration that requires and verifies
// client certificates. Every handshake uses the source's current
// certificate, trust anchors and CRL (through GetConfigForClient), so a
// reload takes effect on the next handshake without a restart. Clients
// are refused unless they are in our trust domain and environment and
// authz accepts them. Session tickets stay enabled.
func ServerConfig(src *Source, authz Authorizer, opts Options) (*tls.Config, error) {
	if src == nil || authz == nil {
		return nil, errors.New("tls server config: source and authorizer are required")
	}
	tmpl, err := opts.base()
	if err != nil {
		return nil, err
	}
	tmpl.ClientAuth = tls.RequireAndVerifyClientCert
	tmpl.Time = src.now
	tmpl.VerifyConnection = func(cs tls.ConnectionState) error { return src.verifyPeer(cs, SideServer, authz) }

	type derived struct {
		mat *material
		cfg *tls.Config
	}
	var cache atomic.Pointer[derived]
	outer := tmpl.Clone()
	outer.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		mat := src.cur.Load()
		if d := cache.Load(); d != nil && d.mat == mat {
			return d.cfg, nil
		}
		c := tmpl.Clone()
		c.Certificates = []tls.Certificate{*mat.cert}
		c.ClientCAs = mat.anchors
		cache.Store(&derived{mat: mat, cfg: c})
		return c, nil
	}
	return outer, nil
}
