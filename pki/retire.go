package pki

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"
)

// LeafFile is the certificate of one leaf directory of an environment.
type LeafFile struct {
	Name string
	Path string
	Cert *x509.Certificate
}

// LeafFiles reads the certificate of every leaf directory of env
// (DIR/<env>/<name>/cert.pem), sorted by name.
func LeafFiles(dir, env string) ([]LeafFile, error) {
	l := Layout{Dir: dir}
	names, err := leafNames(l, env)
	if err != nil {
		return nil, err
	}
	out := make([]LeafFile, 0, len(names))
	for _, name := range names {
		certs, err := ReadCertificates(l.CertFile(env, name))
		if err != nil {
			return nil, err
		}
		out = append(out, LeafFile{Name: name, Path: l.CertFile(env, name), Cert: certs[0]})
	}
	return out, nil
}

// RetireOptions configures RetirePrevious.
type RetireOptions struct {
	Dir, Env string
	// Previous is the intermediate to retire: ca-prev.pem must hold it.
	Previous *x509.Certificate
	Now      func() time.Time
}

// RetirePrevious ends an overlap window before the previous intermediate
// expires: it removes ca-prev.pem, its key, crl-prev.pem and bundle.pem,
// and rewrites the truststores of the leaf files without it. It refuses
// while a leaf file it signed has not expired, and does nothing when
// there is no previous intermediate any more. The environment is locked
// against CRL writers meanwhile.
func RetirePrevious(ctx context.Context, o RetireOptions) (Report, error) {
	var r Report
	unlock, err := lockEnv(o.Dir, o.Env)
	if err != nil {
		return r, fmt.Errorf("pki retire: %w", err)
	}
	defer unlock()
	l, _, root, e, err := openEnv(o.Dir, o.Env)
	if err != nil {
		return r, fmt.Errorf("pki retire: %w", err)
	}
	if e.prev == nil {
		return r, nil
	}
	if o.Previous == nil || !e.prev.cert.Equal(o.Previous) {
		return r, fmt.Errorf("pki retire: %s does not hold the intermediate to retire", l.PrevCACert(e.name))
	}
	now := clock(o.Now)
	names, err := leafNames(l, e.name)
	if err != nil {
		return r, err
	}
	for _, name := range names {
		certs, err := ReadCertificates(l.CertFile(e.name, name))
		if err != nil {
			return r, fmt.Errorf("pki retire: %w", err)
		}
		if now.Before(certs[0].NotAfter) && certs[0].CheckSignatureFrom(e.prev.cert) == nil {
			return r, fmt.Errorf("pki retire: %s is signed by the previous intermediate and valid until %s",
				l.CertFile(e.name, name), certs[0].NotAfter.UTC().Format(time.RFC3339))
		}
	}
	if err := removeFiles(&r, l, "previous intermediate retired", l.PrevCACert(e.name), l.PrevCAKey(e.name),
		l.PrevCRLFile(e.name), l.BundleFile(e.name)); err != nil {
		return r, err
	}
	e.prev, e.prevCRL = nil, nil
	return r, refreshTruststores(ctx, &r, l, now, e, root, names, "previous intermediate retired")
}

// refreshTruststores rewrites the stores of the named leaves whose
// truststores no longer hold exactly e's intermediates.
func refreshTruststores(ctx context.Context, r *Report, l Layout, now time.Time, e *envCA, root *x509.Certificate, names []string, reason string) error {
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		cert, key, err := readCertKey(l.CertFile(e.name, name), l.KeyFile(e.name, name))
		if err != nil {
			return fmt.Errorf("pki: %w", err)
		}
		if err := writeStores(r, l, now, e, root, name, cert, key, false, reason); err != nil {
			return err
		}
	}
	return nil
}
