package pki

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"logsys/spiffeid"
)

// writeLeaf writes cert.pem (leaf then issuer), key.pem and the stores of
// a freshly issued leaf. reason is reported for files that existed.
func writeLeaf(r *Report, l Layout, now time.Time, e *envCA, root *x509.Certificate, name string,
	cert *x509.Certificate, key crypto.Signer, reason string) error {
	for _, f := range []struct {
		path  string
		write func() error
	}{
		{l.KeyFile(e.name, name), func() error { return writeKey(l, l.KeyFile(e.name, name), key) }},
		{l.CertFile(e.name, name), func() error { return writeCerts(l, l.CertFile(e.name, name), cert, e.cur.cert) }},
	} {
		existed := exists(f.path)
		if err := f.write(); err != nil {
			return err
		}
		if existed {
			r.add(l, f.path, OpReplaced, reason)
		} else {
			r.add(l, f.path, OpCreated, "")
		}
	}
	return writeStores(r, l, now, e, root, name, cert, key, true, reason)
}

// writeStores writes store.pass and the four stores unless force is false
// and they are already current.
func writeStores(r *Report, l Layout, now time.Time, e *envCA, root *x509.Certificate, name string,
	cert *x509.Certificate, key crypto.Signer, force bool, reason string) error {
	passPath := l.PassFile(e.name, name)
	pass, err := readPassword(l, passPath)
	if err != nil {
		if !isNotExist(err) && !errors.Is(err, ErrMalformed) {
			return err
		}
		existed := !isNotExist(err)
		if pass, err = newPassword(); err != nil {
			return err
		}
		if err := l.write(passPath, []byte(pass+"\n"), keyPerm); err != nil {
			return err
		}
		if existed {
			r.add(l, passPath, OpReplaced, "store.pass unreadable")
			if reason == "" {
				reason = "store.pass changed"
			}
		} else {
			r.add(l, passPath, OpCreated, "")
		}
		force = true
	} else if err := keepSecret(r, l, passPath); err != nil {
		return err
	}
	trust := e.trust()
	if !force {
		ok, why := storesCurrent(l, e.name, name, pass, cert, trust)
		if ok {
			for _, p := range []string{l.KeystoreP12(e.name, name), l.KeystoreJKS(e.name, name), l.TruststoreP12(e.name, name), l.TruststoreJKS(e.name, name)} {
				if err := keepSecret(r, l, p); err != nil {
					return err
				}
			}
			return nil
		}
		reason = why
	}
	chain := []*x509.Certificate{cert, e.cur.cert, root}
	if e.issuerOf(cert) == e.prev && e.prev != nil {
		chain[1] = e.prev.cert
	}
	ksP12, err := encodeKeystoreP12(key, chain, pass)
	if err != nil {
		return err
	}
	ksJKS, err := encodeKeystoreJKS(now, name, key, chain, pass)
	if err != nil {
		return err
	}
	tsP12, err := encodeTruststoreP12(trust, pass)
	if err != nil {
		return err
	}
	tsJKS, err := encodeTruststoreJKS(now, trust, pass)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{
		{l.KeystoreP12(e.name, name), ksP12}, {l.KeystoreJKS(e.name, name), ksJKS},
		{l.TruststoreP12(e.name, name), tsP12}, {l.TruststoreJKS(e.name, name), tsJKS},
	} {
		existed := exists(f.path)
		if err := l.write(f.path, f.data, keyPerm); err != nil {
			return err
		}
		if existed {
			r.add(l, f.path, OpReplaced, reason)
		} else {
			r.add(l, f.path, OpCreated, "")
		}
	}
	return nil
}

// leafState is what checkLeaf found on disk.
type leafState struct {
	cert   *x509.Certificate // nil when cert.pem is missing
	chain  []*x509.Certificate
	key    crypto.Signer // nil when key.pem is missing
	reason string        // non-empty: the leaf must be re-issued
}

// checkLeaf inspects DIR/<env>/<name>: damaged or foreign files are
// errors naming the file; stale but sound ones give a reason to re-issue.
func (e *envCA) checkLeaf(l Layout, td, name string, now time.Time) (leafState, error) {
	certPath, keyPath := l.CertFile(e.name, name), l.KeyFile(e.name, name)
	certs, err := ReadCertificates(certPath)
	if isNotExist(err) {
		return leafState{}, nil
	}
	if err != nil {
		return leafState{}, err
	}
	st := leafState{cert: certs[0], chain: certs}
	leaf := certs[0]
	if err := checkLeafIdentity(certPath, leaf, td, e.name, name); err != nil {
		return st, err
	}
	key, err := ReadPrivateKey(keyPath)
	switch {
	case isNotExist(err):
		st.reason = "key.pem missing"
		return st, nil
	case err != nil:
		return st, err
	case !keyMatches(leaf, key):
		return st, fileErrf(keyPath, ErrKeyMismatch, "does not match %s", certPath)
	}
	st.key = key
	iss := e.issuerOf(leaf)
	switch {
	case iss == nil && e.old != nil && leaf.CheckSignatureFrom(e.old) == nil:
		st.reason = "intermediate replaced"
	case iss == nil:
		if other := otherEnvOf(l, leaf, e.name); other != "" {
			return st, fileErrf(certPath, ErrWrongEnv, "signed by the %s intermediate, expected %s", other, e.name)
		}
		return st, fileErrf(certPath, ErrWrongIssuer, "not signed by the %s intermediate", e.name)
	case iss == e.prev:
		st.reason = "signed by the previous intermediate"
	case e.revoked(leaf):
		st.reason = "revoked"
	case !now.Before(leaf.NotAfter):
		st.reason = "expired " + leaf.NotAfter.UTC().Format(time.RFC3339)
	case NeedsRenewal(leaf, now, RenewFraction):
		st.reason = fmt.Sprintf("past %.0f%% of its lifetime, expires %s", RenewFraction*100, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return st, nil
}

// checkLeafIdentity requires exactly the URI SAN spiffe://td/env/name.
func checkLeafIdentity(path string, leaf *x509.Certificate, td, env, name string) error {
	if leaf.IsCA {
		return fileErrf(path, ErrMalformed, "holds a CA certificate, want a leaf")
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return fileErr(path, fmt.Errorf("%w: %w", ErrIdentity, err))
	}
	switch {
	case id.Env != env:
		return fileErrf(path, ErrWrongEnv, "identity %s belongs to env %s, expected %s", id, id.Env, env)
	case id.TrustDomain != td:
		return fileErrf(path, ErrIdentity, "identity %s is not in trust domain %s", id, td)
	case name != "" && id.Name != name:
		return fileErrf(path, ErrIdentity, "identity %s does not name %s", id, name)
	}
	return nil
}

// keepSecret reports a kept secret file, tightening its permissions first.
func keepSecret(r *Report, l Layout, path string) error {
	tightened, err := tightenPerm(r, l, path)
	if err != nil {
		return err
	}
	if !tightened {
		r.add(l, path, OpKept, "")
	}
	return nil
}
