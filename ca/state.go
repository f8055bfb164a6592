package ca

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"slices"
	"time"

	"logsys/pki"
)

// envState is one consistent reading of the environment from the PKI
// directory. It is immutable once loaded.
type envState struct {
	td    string
	hosts []string
	root  *x509.Certificate
	cur   *pki.Issuer
	prev  *pki.Issuer // nil outside an overlap window
	// signer issues new leaves: prev until the rollover to cur is
	// activated (PlanRollover), cur otherwise. caSigner issues the CA's
	// own certificate: prev while it exists, since every member trusts
	// it until it is retired, also one that missed the next intermediate.
	signer, caSigner *pki.Issuer
	crls             []envCRL
	crlPEM           []byte
	pool             *x509.CertPool // the env's intermediates: client trust anchors
	// tainted maps every certificate of the ledger that was renewed,
	// directly or not, from a serial on crls to that serial (Server.adopt).
	tainted map[string]string
}

// loadState reads the environment env of the PKI directory dir. Every
// certificate, key and CRL is checked; any inconsistency (for example a
// rotation half written, a CRL missing or stale beyond grace) is an
// error, and the caller keeps its old state.
func loadState(dir, env string, now time.Time, grace time.Duration) (*envState, error) {
	l := pki.Layout{Dir: dir}
	m, err := pki.ReadMeta(dir)
	if err != nil {
		return nil, err
	}
	roots, err := pki.ReadCertificates(l.RootCert())
	if err != nil {
		return nil, err
	}
	s := &envState{td: m.TrustDomain, hosts: m.Hosts, root: roots[0], pool: x509.NewCertPool()}
	if s.cur, err = readAuthority(l.CACert(env), l.CAKey(env), s.root, now); err != nil {
		return nil, err
	}
	if s.cur == nil {
		return nil, fmt.Errorf("%s: the current intermediate of %s has expired", l.CACert(env), env)
	}
	if _, err := os.Stat(l.PrevCACert(env)); err == nil {
		if s.prev, err = readAuthority(l.PrevCACert(env), l.PrevCAKey(env), s.root, now); err != nil {
			return nil, err
		}
	}
	s.signer, s.caSigner = s.cur, s.cur
	if s.prev != nil {
		s.signer, s.caSigner = s.prev, s.prev
	}
	s.pool.AddCert(s.cur.Cert())
	if err := s.addCRL(l.CRLFile(env), s.cur, now, grace); err != nil {
		return nil, err
	}
	if s.prev != nil {
		s.pool.AddCert(s.prev.Cert())
		if err := s.addCRL(l.PrevCRLFile(env), s.prev, now, grace); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// readAuthority reads an intermediate and its key, checks that they match
// and that the root signed the certificate. An expired intermediate is
// returned as nil.
func readAuthority(certPath, keyPath string, root *x509.Certificate, now time.Time) (*pki.Issuer, error) {
	certs, err := pki.ReadCertificates(certPath)
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, fmt.Errorf("%s: not a CA certificate", certPath)
	}
	if err := cert.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%s: not signed by the root: %w", certPath, err)
	}
	if !now.Before(cert.NotAfter) {
		return nil, nil
	}
	key, err := pki.ReadPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	iss, err := pki.NewIssuer(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s: does not match %s: %w", keyPath, certPath, err)
	}
	return iss, nil
}

// addCRL reads and checks the CRL of issuer at path (see readCRL).
func (s *envState) addCRL(path string, issuer *pki.Issuer, now time.Time, grace time.Duration) error {
	c, err := readCRL(path, issuer.Cert(), now, grace)
	if err != nil {
		return err
	}
	c.issuer = issuer
	s.crls = append(s.crls, c)
	s.crlPEM = append(s.crlPEM, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: c.crl.Raw})...)
	return nil
}

// same reports whether o holds the same certificates, signer, CRLs and
// hosts as s.
func (s *envState) same(o *envState) bool {
	eq := func(a, b *pki.Issuer) bool { return (a == nil) == (b == nil) && (a == nil || a.Cert().Equal(b.Cert())) }
	return s.td == o.td && slices.Equal(s.hosts, o.hosts) && s.root.Equal(o.root) &&
		eq(s.cur, o.cur) && eq(s.prev, o.prev) && eq(s.signer, o.signer) && eq(s.caSigner, o.caSigner) && bytes.Equal(s.crlPEM, o.crlPEM)
}

func (s *envState) revoked(serial *big.Int) bool {
	for _, c := range s.crls {
		for _, e := range c.crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(serial) == 0 {
				return true
			}
		}
	}
	return false
}

// crlSerials lists the serials on the environment's CRLs.
func (s *envState) crlSerials() []string {
	var out []string
	for _, crl := range s.crls {
		for _, e := range crl.crl.RevokedCertificateEntries {
			out = append(out, pki.FormatSerial(e.SerialNumber))
		}
	}
	return out
}

// revokedLineage reports whether the certificate of serial is on a CRL or
// descends from one that is, and names the revoked serial.
func (s *envState) revokedLineage(serial *big.Int) (string, bool) {
	if s.revoked(serial) {
		return pki.FormatSerial(serial), true
	}
	root, ok := s.tainted[pki.FormatSerial(serial)]
	return root, ok
}

// intermediate describes a.
func intermediateOf(a *pki.Issuer) Intermediate {
	c := a.Cert()
	return Intermediate{Serial: serialOf(c), SHA256: fingerprint(c), NotAfter: c.NotAfter}
}

// fingerprint is the SHA-256 of c's DER in lowercase hex: how reports
// and the ledger name a trust anchor.
func fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// intermediate returns our intermediate that signed c, or nil.
func (s *envState) intermediate(c *x509.Certificate) *pki.Issuer {
	for _, a := range []*pki.Issuer{s.cur, s.prev} {
		if a != nil && c.CheckSignatureFrom(a.Cert()) == nil {
			return a
		}
	}
	return nil
}

// trust is what every member of the environment should trust now, in the
// pki layout: ca.pem is the current intermediate, ca-chain.pem adds the
// root, bundle.pem (only during an overlap) holds both intermediates and
// the root, crl.pem holds every CRL of the environment.
func (s *envState) trust() Trust {
	t := Trust{CA: string(pki.EncodeCerts(s.cur.Cert())), Chain: string(pki.EncodeCerts(s.cur.Cert(), s.root)), CRL: string(s.crlPEM)}
	if s.prev != nil {
		t.Bundle = string(pki.EncodeCerts(s.cur.Cert(), s.prev.Cert(), s.root))
	}
	return t
}
