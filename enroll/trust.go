package enroll

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"logsys/ca/wire"
)

// Reasons for refusing material from the CA (the `reason` label).
const (
	// ReasonForeignRoot: an intermediate, or the root of a chain, is not
	// the pinned root or signed by it.
	ReasonForeignRoot = "foreign_root"
	// ReasonCRL: a CRL is missing, unparseable, or not signed by an
	// accepted intermediate.
	ReasonCRL = "crl"
	// ReasonChain: the issued certificate does not chain to the bundle.
	ReasonChain = "chain"
	// ReasonIdentity: the issued certificate names another identity.
	ReasonIdentity = "identity"
	// ReasonKey: the issued certificate is not for our key.
	ReasonKey = "key"
	// ReasonMalformed: PEM or certificates that do not parse.
	ReasonMalformed = "malformed"
	// ReasonCAIdentity: the server is not spiffe://<td>/<env>/ca.
	ReasonCAIdentity = "ca_identity"
	// ReasonCAUntrusted: the server's certificate does not chain to the
	// pinned root through an accepted intermediate.
	ReasonCAUntrusted = "ca_untrusted"
	// ReasonSource: the tlsx.Source refused the new material.
	ReasonSource = "source"
)

var allReasons = []string{ReasonForeignRoot, ReasonCRL, ReasonChain, ReasonIdentity, ReasonKey,
	ReasonMalformed, ReasonCAIdentity, ReasonCAUntrusted, ReasonSource}

var reasonList = strings.Join(allReasons, ", ")

// RejectedError is material from the CA (or the CA's own certificate)
// that the client refused; nothing of it was used or written.
type RejectedError struct {
	Reason string // one of the Reason* constants
	Err    error
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("refused material from the ca (%s): %v", e.Reason, e.Err)
}

func (e *RejectedError) Unwrap() error { return e.Err }

func reject(reason, format string, args ...any) error {
	return &RejectedError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// pinnedTo is the trust anchor of last resort: the root a role was
// bootstrapped with. Intermediates are accepted only when it signed them.
type pinnedTo struct{ root *x509.Certificate }

// check accepts c when it is the pinned root or an intermediate the
// pinned root signed (the logsys hierarchy: root, intermediate, leaf).
// Validity periods are not checked here: an expired intermediate is
// harmless, it verifies nothing.
func (p pinnedTo) check(c *x509.Certificate) error {
	if isSelfSigned(c) {
		if !c.Equal(p.root) {
			return reject(ReasonForeignRoot, "root %q (serial %s) is not the pinned root %q", c.Subject, serialOf(c), p.root.Subject)
		}
		return nil
	}
	if !c.IsCA {
		return reject(ReasonMalformed, "certificate %q in the trust bundle is not a CA", c.Subject)
	}
	if err := c.CheckSignatureFrom(p.root); err != nil {
		return reject(ReasonForeignRoot, "intermediate %q (serial %s) is not signed by the pinned root %q: %v", c.Subject, serialOf(c), p.root.Subject, err)
	}
	return nil
}

// intermediates checks every certificate of data against the pin and
// returns the intermediates (the pinned root itself is skipped).
func (p pinnedTo) intermediates(what string, data []byte) ([]*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, reject(ReasonMalformed, "%s: %v", what, err)
	}
	var out []*x509.Certificate
	for _, c := range certs {
		if err := p.check(c); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if !isSelfSigned(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// verifyTrust checks a trust bundle from the CA as a whole before any of
// it is used: every certificate of ca.pem, bundle.pem and ca-chain.pem is
// the pinned root or signed by it, there is at least one intermediate, and
// every CRL is signed by one of them. It returns the intermediates: the
// anchors the bundle makes.
func (p pinnedTo) verifyTrust(t wire.Trust) ([]*x509.Certificate, error) {
	anchors, err := p.intermediates("trust bundle", []byte(t.CA+"\n"+t.Bundle))
	if err != nil {
		return nil, err
	}
	if len(anchors) == 0 {
		return nil, reject(ReasonMalformed, "trust bundle holds no intermediate")
	}
	if strings.TrimSpace(t.Chain) != "" {
		if _, err := p.intermediates("trust chain", []byte(t.Chain)); err != nil {
			return nil, err
		}
	}
	rest, n := []byte(t.CRL), 0
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			return nil, reject(ReasonCRL, "unexpected PEM block %q in the crl", b.Type)
		}
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, reject(ReasonCRL, "parse crl: %v", err)
		}
		signed := false
		for _, a := range anchors {
			signed = signed || crl.CheckSignatureFrom(a) == nil
		}
		if !signed {
			return nil, reject(ReasonCRL, "crl of %q is not signed by an intermediate of the bundle", crl.Issuer)
		}
		n++
	}
	if n == 0 {
		return nil, reject(ReasonCRL, "trust bundle holds no crl")
	}
	return anchors, nil
}

// covers checks that cert chains to anchors (at the middle of its
// lifetime: the structure, not the clock, is what is checked here).
func covers(anchors []*x509.Certificate, cert *tls.Certificate) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		roots.AddCert(a)
	}
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	leaf := cert.Leaf
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
		CurrentTime: leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return reject(ReasonChain, "certificate does not chain to the trust bundle: %v", err)
	}
	return nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

func encodeCerts(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func serialOf(c *x509.Certificate) string { return serialHex(c.SerialNumber) }

func serialHex(n *big.Int) string { return fmt.Sprintf("%x", n.Bytes()) }
