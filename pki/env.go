package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"logsys/spiffeid"
)

// envCA is the loaded state of one environment.
type envCA struct {
	name    string
	cur     *Issuer
	prev    *Issuer // nil outside an overlap window
	curCRL  *x509.RevocationList
	prevCRL *x509.RevocationList
	// old is an intermediate that init just replaced; leaves it signed
	// are re-issued rather than rejected.
	old *x509.Certificate
}

func intermediateCN(env string) string { return "logsys " + env + " intermediate CA" }

// readRoot reads the root certificate and checks it is a self-signed CA.
func readRoot(l Layout) (*x509.Certificate, error) {
	certs, err := ReadCertificates(l.RootCert())
	if err != nil {
		return nil, err
	}
	root := certs[0]
	if !root.IsCA || !root.BasicConstraintsValid {
		return nil, fileErrf(l.RootCert(), ErrMalformed, "root certificate is not a CA")
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		return nil, fileErrf(l.RootCert(), ErrMalformed, "root certificate is not self-signed: %v", err)
	}
	return root, nil
}

// checkIntermediate checks that cert (read from path) is env's
// intermediate issued by root.
func checkIntermediate(path, env string, cert, root *x509.Certificate) error {
	if !cert.IsCA {
		return fileErrf(path, ErrMalformed, "not a CA certificate")
	}
	if cn := cert.Subject.CommonName; cn != intermediateCN(env) {
		if strings.HasPrefix(cn, "logsys ") && strings.HasSuffix(cn, " intermediate CA") {
			return fileErrf(path, ErrWrongEnv, "holds %q, want the %s intermediate", cn, env)
		}
		return fileErrf(path, ErrMalformed, "unexpected subject %q", cn)
	}
	if err := cert.CheckSignatureFrom(root); err != nil {
		return fileErrf(path, ErrWrongIssuer, "not signed by the root in the PKI directory: %v", err)
	}
	return nil
}

// readAuthority reads an intermediate certificate and, with withKey, its key.
func readAuthority(env, certPath, keyPath string, root *x509.Certificate, withKey bool) (*Issuer, error) {
	var cert *x509.Certificate
	var key crypto.Signer
	var err error
	if withKey {
		cert, key, err = readCertKey(certPath, keyPath)
	} else {
		var certs []*x509.Certificate
		certs, err = ReadCertificates(certPath)
		if err == nil {
			cert = certs[0]
		}
	}
	if err != nil {
		return nil, err
	}
	if err := checkIntermediate(certPath, env, cert, root); err != nil {
		return nil, err
	}
	return &Issuer{cert: cert, key: key}, nil
}

// loadEnv reads an initialised environment: current (and previous)
// intermediate, with their keys when withKeys, and CRLs.
func loadEnv(l Layout, env string, root *x509.Certificate, withKeys bool) (*envCA, error) {
	if err := spiffeid.ValidateEnv(env); err != nil {
		return nil, err
	}
	if !exists(l.CACert(env)) {
		return nil, fmt.Errorf("environment %q is not initialised in %s (run pki init --envs %s)", env, l.Dir, env)
	}
	e := &envCA{name: env}
	var err error
	if e.cur, err = readAuthority(env, l.CACert(env), l.CAKey(env), root, withKeys); err != nil {
		return nil, err
	}
	if e.curCRL, err = readCRL(l.CRLFile(env), e.cur.cert); err != nil && !isNotExist(err) {
		return nil, err
	}
	if exists(l.PrevCACert(env)) {
		if e.prev, err = readAuthority(env, l.PrevCACert(env), l.PrevCAKey(env), root, withKeys); err != nil {
			return nil, err
		}
		if e.prevCRL, err = readCRL(l.PrevCRLFile(env), e.prev.cert); err != nil && !isNotExist(err) {
			return nil, err
		}
	}
	return e, nil
}

// trust lists the trust anchors of a member of this environment: its
// intermediate(s), never the shared root. A client holding the root would
// accept a server of any environment (Java's PKIX takes an intermediate
// as a trust anchor, so the chain need not reach the root).
func (e *envCA) trust() []trustEntry {
	t := []trustEntry{{alias: "logsys-" + e.name + "-ca", cert: e.cur.cert}}
	if e.prev != nil {
		t = append(t, trustEntry{alias: "logsys-" + e.name + "-ca-prev", cert: e.prev.cert})
	}
	return t
}

// issuerOf returns the authority of e that signed leaf, or nil.
func (e *envCA) issuerOf(leaf *x509.Certificate) *Issuer {
	if leaf.CheckSignatureFrom(e.cur.cert) == nil {
		return e.cur
	}
	if e.prev != nil && leaf.CheckSignatureFrom(e.prev.cert) == nil {
		return e.prev
	}
	return nil
}

func (e *envCA) revoked(leaf *x509.Certificate) bool {
	return isRevoked(e.curCRL, leaf.SerialNumber) || isRevoked(e.prevCRL, leaf.SerialNumber)
}

// otherEnvOf names the environment under l whose intermediate signed
// leaf, or "" when none does.
func otherEnvOf(l Layout, leaf *x509.Certificate, except string) string {
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		return ""
	}
	for _, de := range entries {
		env := de.Name()
		if !de.IsDir() || env == except || env == "root" {
			continue
		}
		for _, p := range []string{l.CACert(env), l.PrevCACert(env)} {
			certs, err := ReadCertificates(p)
			if err == nil && leaf.CheckSignatureFrom(certs[0]) == nil {
				return env
			}
		}
	}
	return ""
}

// syncFile writes data to path unless it already holds exactly data.
func syncFile(r *Report, l Layout, path string, data []byte, perm os.FileMode, reason string) error {
	old, err := os.ReadFile(path)
	switch {
	case err == nil && bytes.Equal(old, data):
		r.add(l, path, OpKept, "")
		return nil
	case err == nil:
		if err := l.write(path, data, perm); err != nil {
			return err
		}
		r.add(l, path, OpReplaced, reason)
		return nil
	}
	if err := l.write(path, data, perm); err != nil {
		return err
	}
	r.add(l, path, OpCreated, "")
	return nil
}

// tightenPerm makes a secret file 0600 if it is more open, reporting it.
func tightenPerm(r *Report, l Layout, path string) (bool, error) {
	old, err := chmodNoFollow(l.rootOf(path), path, keyPerm)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil || old == keyPerm {
		return false, err
	}
	r.add(l, path, OpKept, fmt.Sprintf("permissions tightened from %04o to 0600", old))
	return true, nil
}
