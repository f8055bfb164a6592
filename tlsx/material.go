package tlsx

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"

	"logsys/spiffeid"
)

// material is one consistent, validated set of key, certificate, anchors
// and CRLs. It is immutable once built.
type material struct {
	cert    *tls.Certificate // Leaf is set
	id      spiffeid.ID
	anchors *x509.CertPool
	// anchorCerts are the environment's intermediates; roots are dropped.
	anchorCerts []*x509.Certificate
	revoked     map[string]struct{} // big.Int.Text(16) of revoked serials
	crls        []crlList
	// staleAt is when a CRL will be past its nextUpdate by more than the
	// grace: from then on every peer is refused.
	staleAt time.Time
	hash    [sha256.Size]byte
	infos   []CertInfo
}

// PEM is one set of TLS material in PEM form, as a Source's files hold
// it: read from disk in one pass, or pushed with Update.
type PEM struct {
	// Cert is the leaf then its intermediate; Key its private key (PKCS#8,
	// PKCS#1 or SEC 1).
	Cert, Key []byte
	// CA is the environment's current intermediate; Bundle (optional) the
	// intermediates of a rollover. Self-signed roots in them are ignored.
	CA, Bundle []byte
	// CRL holds the environment's CRL(s), each signed by an anchor.
	CRL []byte
}

func (f PEM) hash() [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{f.Cert, f.Key, f.CA, f.Bundle, f.CRL} {
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (s *Source) readFiles() (PEM, error) {
	var f PEM
	var err error
	read := func(dst *[]byte, path string, optional bool) {
		if err != nil || path == "" {
			return
		}
		b, rerr := os.ReadFile(path)
		if rerr != nil && optional && errors.Is(rerr, os.ErrNotExist) {
			return
		}
		if rerr != nil {
			err = fmt.Errorf("read %s: %w", path, rerr)
		}
		*dst = b
	}
	read(&f.Cert, s.cfg.CertFile, false)
	read(&f.Key, s.cfg.KeyFile, false)
	read(&f.CA, s.cfg.CAFile, false)
	read(&f.Bundle, s.cfg.BundleFile, true)
	read(&f.CRL, s.cfg.CRLFile, false)
	return f, err
}

// origin names where each part of the material comes from in errors: the
// file paths, or "pushed" parts for a source fed with Update.
type origin struct{ cert, key, ca, crl string }

func (s *Source) origin() origin {
	if s.pushed {
		return origin{cert: "pushed certificate", key: "pushed key", ca: "pushed", crl: "pushed"}
	}
	return origin{cert: s.cfg.CertFile, key: s.cfg.KeyFile, ca: s.cfg.CAFile, crl: s.cfg.CRLFile}
}

// build validates f as a whole and turns it into material: the key matches
// the leaf, the leaf carries a SPIFFE ID, is currently valid and chains to
// the anchors, and the CRLs are signed by the anchors, cover the current
// intermediate, are fresh (at most crl_grace past nextUpdate) and no CRL
// number is lower than one this source loaded before. Errors are
// *RejectError.
func (s *Source) build(f PEM, now time.Time) (*material, error) {
	o := s.origin()
	pair, err := tls.X509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, rejectf(RejectKeyPair, fmt.Errorf("load key pair %s, %s: %w", o.cert, o.key, err))
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, rejectf(RejectKeyPair, fmt.Errorf("parse leaf %s: %w", o.cert, err))
		}
		pair.Leaf = leaf
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return nil, rejectf(RejectLeaf, fmt.Errorf("leaf %s: %w", o.cert, err))
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, rejectf(RejectLeaf, fmt.Errorf("leaf %s is outside its validity period %s to %s",
			o.cert, leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339)))
	}

	current, err := parseAnchors(f.CA)
	if err != nil {
		return nil, rejectf(RejectTrust, fmt.Errorf("trust bundle %s: %w", o.ca, err))
	}
	anchors, err := parseAnchors(append(append([]byte(nil), f.CA...), f.Bundle...))
	if err != nil {
		return nil, rejectf(RejectTrust, fmt.Errorf("trust bundle %s: %w", o.ca, err))
	}
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	var rest []*x509.Certificate
	for _, der := range pair.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			rest = append(rest, c)
		}
	}
	if _, err := verifyChain(pool, leaf, rest, now, x509.ExtKeyUsageAny); err != nil {
		return nil, rejectf(RejectTrust, fmt.Errorf("leaf %s does not chain to the trust bundle: %w", o.cert, err))
	}

	crls, revoked, err := parseCRLs(f.CRL, anchors, current)
	if err != nil {
		return nil, rejectf(RejectCRL, fmt.Errorf("crl %s: %w", o.crl, err))
	}
	if err := checkFresh(crls, now, s.cfg.CRLGrace); err != nil {
		return nil, fmt.Errorf("crl %s: %w", o.crl, err)
	}
	if err := checkNumbers(crls, s.crlHigh); err != nil {
		return nil, fmt.Errorf("crl %s: %w", o.crl, err)
	}

	m := &material{cert: &pair, id: id, anchors: pool, anchorCerts: anchors, revoked: revoked,
		crls: crls, staleAt: staleAt(crls, s.cfg.CRLGrace), hash: f.hash()}
	m.infos = append(m.infos, certInfo(s.cfg.Name, KindLeaf, leaf, id.String()))
	for _, a := range anchors {
		m.infos = append(m.infos, certInfo(s.cfg.Name, KindAnchor, a, ""))
	}
	return m, nil
}

// parseAnchors returns the CA certificates in data that are not
// self-signed: the environment's intermediates. Roots are dropped on
// purpose: trusting the shared root would accept other environments.
func parseAnchors(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	seen := map[string]bool{}
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("certificate %q is not a CA", c.Subject)
		}
		if isSelfSigned(c) || seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no intermediate CA certificate found (roots are never trust anchors)")
	}
	return out, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil
}

func serialKey(n *big.Int) string { return n.Text(16) }

func serialString(n *big.Int) string { return hex.EncodeToString(n.Bytes()) }
