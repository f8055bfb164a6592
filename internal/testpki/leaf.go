package testpki

import (
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"testing"
	"time"
)

// DefaultLeafTTL is a leaf's lifetime when no option changes it.
const DefaultLeafTTL = 24 * time.Hour

// Leaf is an issued end-entity certificate with its key.
type Leaf struct {
	Env, Name string
	// ID is the URI SAN, spiffe://<trust-domain>/<env>/<name> (empty with NoURI).
	ID     string
	Serial *big.Int
	Cert   *x509.Certificate
	// Chain is Cert followed by its issuing intermediate.
	Chain []*x509.Certificate
	Key   crypto.Signer
	// TLS holds Chain and Key, with Leaf set.
	TLS tls.Certificate
	// CertPEM is the leaf then its intermediate (cert.pem); KeyPEM is PKCS#8 (key.pem).
	CertPEM, KeyPEM []byte
}

// LeafOption changes how a leaf is issued.
type LeafOption func(*leafSpec)

type leafSpec struct {
	notBefore, notAfter time.Time
	keyType             KeyType
	issuer              *Issuer
	dns                 []string
	ips                 []net.IP
	uri                 *url.URL
	noURI               bool
	extKeyUsage         []x509.ExtKeyUsage
	pub                 crypto.PublicKey
}

// ValidFor sets the lifetime: NotBefore one minute before the clock,
// NotAfter at clock+d.
func ValidFor(d time.Duration) LeafOption {
	return func(s *leafSpec) { s.notAfter = s.notBefore.Add(time.Minute).Add(d) }
}

// ValidBetween sets NotBefore and NotAfter explicitly.
func ValidBetween(notBefore, notAfter time.Time) LeafOption {
	return func(s *leafSpec) { s.notBefore, s.notAfter = notBefore, notAfter }
}

// Expired makes a leaf that expired an hour before the clock.
func Expired() LeafOption {
	return func(s *leafSpec) {
		s.notAfter = s.notBefore.Add(time.Minute).Add(-time.Hour)
		s.notBefore = s.notAfter.Add(-24 * time.Hour)
	}
}

// NotYetValid makes a leaf that becomes valid an hour after the clock.
func NotYetValid() LeafOption {
	return func(s *leafSpec) {
		s.notBefore = s.notBefore.Add(time.Minute).Add(time.Hour)
		s.notAfter = s.notBefore.Add(24 * time.Hour)
	}
}

// WithKeyType selects the leaf's key algorithm.
func WithKeyType(kt KeyType) LeafOption { return func(s *leafSpec) { s.keyType = kt } }

// WithIssuer signs the leaf with iss instead of env's current intermediate.
func WithIssuer(iss *Issuer) LeafOption { return func(s *leafSpec) { s.issuer = iss } }

// WithDNS replaces the DNS SANs (default: name, localhost).
func WithDNS(names ...string) LeafOption { return func(s *leafSpec) { s.dns = names } }

// WithIPs replaces the IP SANs (default: 127.0.0.1, ::1).
func WithIPs(ips ...net.IP) LeafOption { return func(s *leafSpec) { s.ips = ips } }

// WithURI replaces the SPIFFE URI SAN with an arbitrary one.
func WithURI(raw string) LeafOption {
	return func(s *leafSpec) {
		u, err := url.Parse(raw)
		if err != nil {
			panic(fmt.Sprintf("testpki: WithURI(%q): %v", raw, err))
		}
		s.uri = u
	}
}

// NoURI issues a leaf without any URI SAN.
func NoURI() LeafOption { return func(s *leafSpec) { s.noURI = true } }

// WithExtKeyUsage replaces the extended key usages (default: server and client auth).
func WithExtKeyUsage(u ...x509.ExtKeyUsage) LeafOption {
	return func(s *leafSpec) { s.extKeyUsage = u }
}

// Leaf issues a certificate for name in env.
func (ca *CA) Leaf(env, name string, opts ...LeafOption) *Leaf {
	ca.t.Helper()
	e := ca.env(env)
	opts = append([]LeafOption{func(s *leafSpec) { s.issuer = ca.Intermediate(env) }}, opts...)
	l := issueLeaf(ca.t, ca.td, ca.now, ca.kt, env, name, opts)
	ca.mu.Lock()
	e.leaves = append(e.leaves, l)
	ca.mu.Unlock()
	return l
}

// SignWith has iss, an issuer that no CA of this package made (such as
// IssuerFromLayout's), sign a leaf for name in env at the wall clock, as
// Leaf would: the way to build what a mis-issuing or hostile CA could
// present.
func SignWith(t testing.TB, iss *Issuer, env, name string, opts ...LeafOption) *Leaf {
	t.Helper()
	opts = append([]LeafOption{func(s *leafSpec) { s.issuer = iss }}, opts...)
	return issueLeaf(t, DefaultTrustDomain, time.Now(), "", env, name, opts)
}

// WithPublicKey certifies pub (a key the test does not hold, such as one
// from a CSR) instead of a fresh key: the Leaf then has no Key, KeyPEM
// or private key in TLS.
func WithPublicKey(pub crypto.PublicKey) LeafOption { return func(s *leafSpec) { s.pub = pub } }

func issueLeaf(t testing.TB, td string, now time.Time, kt KeyType, env, name string, opts []LeafOption) *Leaf {
	t.Helper()
	s := &leafSpec{
		notBefore:   now.Add(-time.Minute),
		keyType:     kt,
		dns:         []string{name, "localhost"},
		ips:         []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		uri:         &url.URL{Scheme: "spiffe", Host: td, Path: "/" + env + "/" + name},
	}
	s.notAfter = now.Add(DefaultLeafTTL)
	for _, o := range opts {
		o(s)
	}
	l := &Leaf{Env: env, Name: name}
	pub := s.pub
	if pub == nil {
		key, err := newKey(s.keyType)
		if err != nil {
			t.Fatalf("testpki: leaf key: %v", err)
		}
		l.Key, pub = key, key.Public()
	}
	serial, err := newSerial()
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	l.Serial = serial
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization:       []string{"logsys test"},
			OrganizationalUnit: []string{env},
			CommonName:         name,
		},
		NotBefore:             s.notBefore,
		NotAfter:              s.notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           s.extKeyUsage,
		BasicConstraintsValid: true,
		DNSNames:              s.dns,
		IPAddresses:           s.ips,
	}
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if !s.noURI {
		tmpl.URIs = []*url.URL{s.uri}
		l.ID = s.uri.String()
	}
	l.Cert = sign(t, tmpl, s.issuer.Cert, pub, s.issuer.Key)
	l.Chain = []*x509.Certificate{l.Cert, s.issuer.Cert}
	l.CertPEM = CertPEM(l.Chain...)
	l.TLS = tls.Certificate{Certificate: [][]byte{l.Cert.Raw, s.issuer.Cert.Raw}, Leaf: l.Cert}
	if l.Key != nil {
		if l.KeyPEM, err = KeyPEM(l.Key); err != nil {
			t.Fatalf("testpki: %v", err)
		}
		l.TLS.PrivateKey = l.Key
	}
	return l
}

// ClientConfig returns a minimal TLS 1.3 client config trusting pool that
// always presents l, even to a server whose acceptable CAs do not include
// its issuer (for tests that need a hand-rolled, possibly wrong, peer).
func (l *Leaf) ClientConfig(pool *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &l.TLS, nil
		},
		RootCAs:    pool,
		ServerName: serverName,
	}
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
