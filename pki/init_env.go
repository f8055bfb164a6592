package pki

import (
	"crypto/x509"
	"fmt"
	"time"
)

// ensureEnv keeps or creates the intermediate, chain, bundle and CRLs of env.
func ensureEnv(r *Report, l Layout, now time.Time, o InitOptions, root *x509.Certificate, rootNew bool, env string) (*envCA, error) {
	e := &envCA{name: env}
	reason, err := currentIntermediate(r, l, now, e, root, rootNew)
	if err != nil {
		return nil, err
	}
	caNew := e.cur == nil
	if caNew {
		ra, err := loadRootAuthority(l, root, o.RootKeyPath)
		if err != nil {
			return nil, fmt.Errorf("create %s intermediate: %w", env, err)
		}
		if e.cur, err = newIntermediate(now, ra, o.TrustDomain, env, o.KeyType); err != nil {
			return nil, err
		}
		if err := writeKey(l, l.CAKey(env), e.cur.key); err != nil {
			return nil, err
		}
		if err := writeCerts(l, l.CACert(env), e.cur.cert); err != nil {
			return nil, err
		}
		op := OpCreated
		if reason != "" {
			op = OpReplaced
		}
		r.add(l, l.CAKey(env), op, reason)
		r.add(l, l.CACert(env), op, reason)
	}
	if err := previousIntermediate(r, l, now, e, root, rootNew || caNew); err != nil {
		return nil, err
	}
	if err := syncFile(r, l, l.ChainFile(env), encodeCerts(e.cur.cert, root), publicPerm, "did not hold ca.pem then the root"); err != nil {
		return nil, err
	}
	if e.prev != nil {
		if err := syncFile(r, l, l.BundleFile(env), encodeCerts(e.cur.cert, e.prev.cert, root), publicPerm, "did not hold ca.pem, ca-prev.pem and the root"); err != nil {
			return nil, err
		}
	}
	if e.curCRL, err = ensureCRL(r, l, now, l.CRLFile(env), e.cur, caNew); err != nil {
		return nil, err
	}
	if e.prev != nil {
		if e.prevCRL, err = ensureCRL(r, l, now, l.PrevCRLFile(env), e.prev, false); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// currentIntermediate loads a sound ca.pem/ca-key.pem into e.cur; it
// leaves e.cur nil, with a reason when something existed, if one must be
// created.
func currentIntermediate(r *Report, l Layout, now time.Time, e *envCA, root *x509.Certificate, rootNew bool) (string, error) {
	certPath, keyPath := l.CACert(e.name), l.CAKey(e.name)
	if !exists(certPath) {
		return "", nil
	}
	certs, err := ReadCertificates(certPath)
	if err != nil {
		return "", err
	}
	cert := certs[0]
	e.old = cert
	if rootNew {
		return "root replaced", nil
	}
	if err := checkIntermediate(certPath, e.name, cert, root); err != nil {
		return "", err
	}
	key, err := ReadPrivateKey(keyPath)
	switch {
	case isNotExist(err):
		return "ca-key.pem missing", nil
	case err != nil:
		return "", err
	case !keyMatches(cert, key):
		return "", fileErrf(keyPath, ErrKeyMismatch, "does not match %s", certPath)
	case !now.Before(cert.NotAfter):
		return "expired " + cert.NotAfter.UTC().Format(time.RFC3339), nil
	}
	e.cur, e.old = &Issuer{cert: cert, key: key}, nil
	note := ""
	if NeedsRenewal(cert, now, RenewFraction) {
		note = "past 2/3 of its lifetime: run pki rotate --intermediate"
	}
	r.add(l, certPath, OpKept, note)
	return "", keepSecret(r, l, keyPath)
}

// previousIntermediate loads ca-prev.pem into e.prev, or removes the
// overlap files when the previous intermediate is expired or obsolete.
func previousIntermediate(r *Report, l Layout, now time.Time, e *envCA, root *x509.Certificate, obsolete bool) error {
	if !exists(l.PrevCACert(e.name)) {
		if exists(l.BundleFile(e.name)) {
			return removeFiles(r, l, "no previous intermediate", l.BundleFile(e.name))
		}
		return nil
	}
	why := "overlap ended: a new intermediate replaced the current one"
	if !obsolete {
		prev, err := readAuthority(e.name, l.PrevCACert(e.name), l.PrevCAKey(e.name), root, true)
		if err != nil {
			return err
		}
		if now.Before(prev.cert.NotAfter) {
			e.prev = prev
			r.add(l, l.PrevCACert(e.name), OpKept, "overlap window")
			return keepSecret(r, l, l.PrevCAKey(e.name))
		}
		why = "previous intermediate expired"
	}
	return removeFiles(r, l, why, l.PrevCACert(e.name), l.PrevCAKey(e.name), l.PrevCRLFile(e.name), l.BundleFile(e.name))
}

func removeFiles(r *Report, l Layout, why string, paths ...string) error {
	for _, p := range paths {
		if !exists(p) {
			continue
		}
		if err := RemoveFile(l.Dir, p); err != nil {
			return err
		}
		r.add(l, p, OpRemoved, why)
	}
	return nil
}

// ensureCRL keeps a fresh CRL of ca at path, re-signing it (same entries,
// next number) at half its lifetime; fresh marks a just-created CA, whose
// first CRL is created. The CRL of an existing intermediate is never
// created anew: an empty one would revoke nothing, so its absence is an
// error (fail closed).
func ensureCRL(r *Report, l Layout, now time.Time, path string, ca *Issuer, fresh bool) (*x509.RevocationList, error) {
	if !exists(path) && !fresh {
		return nil, fileErrf(path, ErrStaleCRL, "missing: an empty crl would un-revoke every certificate of %q; restore the last one "+
			"(from a backup, or from a running role's or the CA's trust bundle) or start a new intermediate with pki rotate --intermediate", ca.cert.Subject.CommonName)
	}
	if !exists(path) {
		crl, err := writeCRL(l, path, now, ca, nextNumber(nil), nil)
		if err == nil {
			r.add(l, path, OpCreated, "")
		}
		return crl, err
	}
	if fresh {
		crl, err := writeCRL(l, path, now, ca, nextNumber(nil), nil)
		if err == nil {
			r.add(l, path, OpReplaced, "intermediate replaced")
		}
		return crl, err
	}
	crl, err := readCRL(path, ca.cert)
	if err != nil {
		return nil, err
	}
	return refreshCRL(r, l, now, path, ca, crl)
}

// refreshCRL re-signs crl when it is at or past half its lifetime.
func refreshCRL(r *Report, l Layout, now time.Time, path string, ca *Issuer, crl *x509.RevocationList) (*x509.RevocationList, error) {
	if !crlNeedsResign(crl, now) {
		r.add(l, path, OpKept, "")
		return crl, nil
	}
	why := "nextUpdate " + crl.NextUpdate.UTC().Format(time.RFC3339) + " is near"
	if !now.Before(crl.NextUpdate) {
		why = "nextUpdate " + crl.NextUpdate.UTC().Format(time.RFC3339) + " passed"
	}
	n, err := writeCRL(l, path, now, ca, nextNumber(crl), crl.RevokedCertificateEntries)
	if err != nil {
		return nil, err
	}
	r.add(l, path, OpReplaced, why)
	return n, nil
}

// ensureLeaf keeps or (re-)issues the leaf name of env and its stores.
func ensureLeaf(r *Report, l Layout, now time.Time, o InitOptions, root *x509.Certificate, e *envCA, name string) error {
	st, err := e.checkLeaf(l, o.TrustDomain, name, now)
	if err != nil {
		return err
	}
	dns, ips := DefaultSANs(name, o.Hosts, nil, nil)
	if st.cert != nil && st.reason == "" && !coversSANs(st.cert, dns, ips) {
		st.reason = "SANs changed"
	}
	if st.cert == nil || st.reason != "" {
		spec := LeafSpec{TrustDomain: o.TrustDomain, Env: e.name, Name: name, DNS: dns, IPs: ips, TTL: o.LeafTTL}
		if st.cert != nil { // keep what was issued on purpose (extra SANs, usage)
			spec.DNS, spec.IPs = DefaultSANs(name, o.Hosts, st.cert.DNSNames, st.cert.IPAddresses)
			spec.Usage = usageOf(st.cert)
		}
		cert, key, err := newLeaf(now, e.cur, spec, o.KeyType)
		if err != nil {
			return err
		}
		return writeLeaf(r, l, now, e, root, name, cert, key, st.reason)
	}
	certPath := l.CertFile(e.name, name)
	if len(st.chain) != 2 || !st.chain[1].Equal(e.cur.cert) {
		if err := writeCerts(l, certPath, st.cert, e.cur.cert); err != nil {
			return err
		}
		r.add(l, certPath, OpReplaced, "chain did not hold the leaf then its intermediate")
	} else {
		r.add(l, certPath, OpKept, "")
	}
	if err := keepSecret(r, l, l.KeyFile(e.name, name)); err != nil {
		return err
	}
	return writeStores(r, l, now, e, root, name, st.cert, st.key, false, "")
}
