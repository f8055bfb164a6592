package ca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"logsys/pki"
)

// Leaf lifetimes of certificates signed by the Server.
const (
	DefaultLeafTTL = time.Hour
	// MinLeafTTL is lower than pki.MinLeafTTL on purpose: an online CA
	// renews automatically, so minutes (seconds in tests) are workable.
	MinLeafTTL = 5 * time.Second
	// maxBackdate bounds how far NotBefore is set into the past to absorb
	// clock skew; short lifetimes backdate by a tenth of the TTL.
	maxBackdate = time.Minute
)

// CAName is the reserved workload name of the CA's own serving
// certificate; no token or renewal can obtain it.
const CAName = "ca"

// leafSpec is what the Server decided a new certificate holds. Nothing in
// it comes from the certificate request.
type leafSpec struct {
	td, env, name string
	dns           []string
	ips           []net.IP
	ekus          []x509.ExtKeyUsage
	ttl           time.Duration
}

// keepEKUs returns the TLS usages c carries, so a renewal never widens them.
func keepEKUs(c *x509.Certificate) []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth || u == x509.ExtKeyUsageClientAuth {
			out = append(out, u)
		}
	}
	return out
}

// signLeaf signs pub under spec with issuer; NotAfter never passes the
// issuer's. AKI is taken by crypto/x509 from the issuer's SKI.
func signLeaf(now time.Time, spec leafSpec, pub crypto.PublicKey, issuer *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	if len(spec.ekus) == 0 {
		return nil, errors.New("sign leaf: no TLS usage left")
	}
	serial, err := pki.RandomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := pki.SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	uri, err := url.Parse(pki.SPIFFEID(spec.td, spec.env, spec.name))
	if err != nil {
		return nil, fmt.Errorf("sign leaf: build identity: %w", err)
	}
	notAfter := now.Add(spec.ttl)
	if notAfter.After(issuer.NotAfter) {
		notAfter = issuer.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{spec.env}, CommonName: spec.name},
		NotBefore:             now.Add(-backdate(spec.ttl)).UTC(),
		NotAfter:              notAfter.UTC(),
		SubjectKeyId:          ski,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.ekus,
		DNSNames:              spec.dns,
		IPAddresses:           spec.ips,
		URIs:                  []*url.URL{uri},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, pub, key)
	if err != nil {
		return nil, fmt.Errorf("sign leaf %s: %w", uri, err)
	}
	return x509.ParseCertificate(der)
}

func backdate(ttl time.Duration) time.Duration { return min(maxBackdate, ttl/10) }

// parseCSR decodes one PEM certificate request, checks its signature
// (proof of possession) and that its key is acceptable, and returns the
// public key: the only part of a request the Server uses.
func parseCSR(data []byte) (crypto.PublicKey, error) {
	b, rest := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("csr: want one PEM CERTIFICATE REQUEST block")
	}
	if len(rest) > 0 {
		if b2, _ := pem.Decode(rest); b2 != nil {
			return nil, errors.New("csr: more than one PEM block")
		}
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("csr: signature: %w", err)
	}
	if err := acceptableKey(csr.PublicKey); err != nil {
		return nil, fmt.Errorf("csr: %w", err)
	}
	return csr.PublicKey, nil
}

func acceptableKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return fmt.Errorf("ecdsa curve %s not accepted (P-256 or P-384)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return nil
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return nil
		}
		return fmt.Errorf("rsa key of %d bits is too small (2048 minimum)", k.N.BitLen())
	}
	return fmt.Errorf("unsupported key type %T", pub)
}

func encodeCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
