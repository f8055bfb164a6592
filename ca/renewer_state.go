package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"logsys/pki"
	"logsys/spiffeid"
)

// loadDisk installs the certificate and key found in StateDir when they
// match each other and our identity. Trust is checked by whoever uses them.
func (r *Renewer) loadDisk() error {
	certPath, keyPath := r.l.CertFile(r.cfg.Env, r.cfg.Name), r.l.KeyFile(r.cfg.Env, r.cfg.Name)
	certs, err := pki.ReadCertificates(certPath)
	if err != nil {
		return err
	}
	key, err := pki.ReadPrivateKey(keyPath)
	if err != nil {
		return err
	}
	cert, err := r.pair(certs, key)
	if err != nil {
		return fmt.Errorf("%s: %w", certPath, err)
	}
	r.install(cert)
	return nil
}

// pair checks that certs[0] belongs to key and carries our identity.
func (r *Renewer) pair(certs []*x509.Certificate, key crypto.Signer) (*tls.Certificate, error) {
	leaf := certs[0]
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return nil, errors.New("certificate does not match our key")
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return nil, err
	}
	if id.Env != r.cfg.Env || id.Name != r.cfg.Name {
		return nil, fmt.Errorf("certificate identity %s is not <td>/%s/%s", id, r.cfg.Env, r.cfg.Name)
	}
	r.mu.Lock()
	old := r.cert
	r.mu.Unlock()
	if old != nil {
		if oid, err := spiffeid.FromCert(old.Leaf); err == nil && oid != id {
			return nil, fmt.Errorf("certificate identity %s differs from our current %s", id, oid)
		}
	}
	tc := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range certs {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc, nil
}

// checkIssued validates an issue response before anything is written:
// our key, our identity, and a chain to the trust bundle it came with.
func (r *Renewer) checkIssued(resp issueResponse, key *ecdsa.PrivateKey) (*tls.Certificate, error) {
	certs, err := parseCerts([]byte(resp.Certificate))
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	cert, err := r.pair(certs, key)
	if err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if err := checkTrust(resp.Trust, cert); err != nil {
		return nil, err
	}
	return cert, nil
}

// checkTrust verifies that cert chains to the intermediates of t and that
// every CRL of t is signed by one of them: what a tlsx.Source will check.
func checkTrust(t Trust, cert *tls.Certificate) error {
	anchors, err := intermediates([]byte(t.CA + t.Bundle))
	if err != nil {
		return fmt.Errorf("trust bundle: %w", err)
	}
	pool, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	for _, der := range cert.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		CurrentTime: cert.Leaf.NotBefore.Add(cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore) / 2),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fmt.Errorf("certificate does not chain to the trust bundle: %w", err)
	}
	rest, n := []byte(t.CRL), 0
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return fmt.Errorf("trust bundle crl: %w", err)
		}
		signed := false
		for _, a := range anchors {
			signed = signed || crl.CheckSignatureFrom(a) == nil
		}
		if !signed {
			return fmt.Errorf("trust bundle crl of %q is not signed by an intermediate of the bundle", crl.Issuer.CommonName)
		}
		n++
	}
	if n == 0 {
		return errors.New("trust bundle holds no crl")
	}
	return nil
}

// anchorPool is what verifies the CA server: the intermediates of
// CABundle and of the trust bundle in StateDir.
func (r *Renewer) anchorPool() (*x509.CertPool, error) {
	var data []byte
	for i, p := range []string{r.cfg.CABundle, r.l.CACert(r.cfg.Env), r.l.BundleFile(r.cfg.Env)} {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil && (i == 0 || !errors.Is(err, fs.ErrNotExist)) {
			return nil, fmt.Errorf("read trust bundle: %w", err)
		}
		data = append(append(data, b...), '\n')
	}
	anchors, err := intermediates(data)
	if err != nil {
		return nil, fmt.Errorf("no anchors to verify the ca (set the ca bundle): %w", err)
	}
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	return pool, nil
}

// writeState writes the trust bundle, then the new key and certificate
// (renamed back to back), then removes bundle.pem when the overlap ended.
// Each step leaves a set of files a tlsx.Source accepts.
func (r *Renewer) writeState(t Trust, cert *tls.Certificate, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	var certPEM []byte
	for _, der := range cert.Certificate {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return r.writeTrust(t, func() error {
		k, err := pki.Stage(r.l.Dir, r.l.KeyFile(r.cfg.Env, r.cfg.Name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), pki.SecretPerm)
		if err != nil {
			return err
		}
		c, err := pki.Stage(r.l.Dir, r.l.CertFile(r.cfg.Env, r.cfg.Name), certPEM, pki.PublicPerm)
		if err != nil {
			k.Discard()
			return err
		}
		return pki.Commit(k, c)
	})
}

// writeTrust writes bundle.pem (when present), ca.pem, ca-chain.pem and
// crl.pem, runs between (if any), and finally removes a stale bundle.pem.
func (r *Renewer) writeTrust(t Trust, between func() error) error {
	env := r.cfg.Env
	files := []struct {
		path string
		data string
	}{{r.l.BundleFile(env), t.Bundle}, {r.l.CACert(env), t.CA}, {r.l.ChainFile(env), t.Chain}, {r.l.CRLFile(env), t.CRL}}
	var staged []*pki.Staged
	for _, f := range files {
		if f.data == "" {
			continue
		}
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, []byte(f.data)) {
			continue // unchanged: no rename, no reload
		}
		s, err := pki.Stage(r.l.Dir, f.path, []byte(f.data), pki.PublicPerm)
		if err != nil {
			for _, x := range staged {
				x.Discard()
			}
			return err
		}
		staged = append(staged, s)
	}
	if err := pki.Commit(staged...); err != nil {
		return err
	}
	if between != nil {
		if err := between(); err != nil {
			return err
		}
	}
	if t.Bundle == "" {
		return pki.RemoveFile(r.l.Dir, r.l.BundleFile(env))
	}
	return nil
}

// intermediates returns the CA certificates of data that are not
// self-signed; roots are never anchors (they would admit other envs).
func intermediates(data []byte) ([]*x509.Certificate, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, c := range certs {
		if c.IsCA && !(bytes.Equal(c.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(c) == nil) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no intermediate CA certificate")
	}
	return out, nil
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
