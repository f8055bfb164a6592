package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// RotateOptions configures Rotate.
type RotateOptions struct {
	Dir  string
	Env  string
	Name string // only this leaf; empty: every leaf of Env
	// Intermediate first creates the next intermediate of Env: the current
	// one becomes ca-prev.pem (with ca-prev-key.pem and crl-prev.pem), the
	// new one becomes ca.pem, bundle.pem holds both plus the root for the
	// overlap window, and every leaf is re-issued by the new intermediate.
	// The overlap ends when the previous intermediate expires (pki init
	// then removes the ca-prev files and bundle.pem) or at the next
	// intermediate rotation.
	Intermediate bool
	// KeepLeaves, with Intermediate, only prepares the next intermediate:
	// the leaf files keep their certificates and keys (signed by what is
	// now ca-prev.pem) and only their truststores gain the next
	// intermediate. An online CA moves its own certificates over once
	// every member trusts the next one (package ca); the leaf files are
	// re-issued by a later Rotate without Intermediate.
	KeepLeaves  bool
	RootKeyPath string // default DIR/root/ca-key.pem
	Now         func() time.Time
}

// Rotate re-issues leaves with new keys and, with Intermediate, moves the
// environment to a new intermediate first.
func Rotate(ctx context.Context, opts RotateOptions) (Report, error) {
	var r Report
	if opts.Intermediate && opts.Name != "" {
		return r, errors.New("pki rotate: an intermediate rotation moves every leaf; do not name one")
	}
	if opts.KeepLeaves && !opts.Intermediate {
		return r, errors.New("pki rotate: keep leaves applies to an intermediate rotation only")
	}
	l, m, root, e, err := openEnv(opts.Dir, opts.Env)
	if err != nil {
		return r, fmt.Errorf("pki rotate: %w", err)
	}
	now := clock(opts.Now)
	if opts.Intermediate {
		if err := rotateIntermediate(&r, l, now, m, e, root, opts.RootKeyPath); err != nil {
			return r, fmt.Errorf("pki rotate: %w", err)
		}
	}
	names := []string{opts.Name}
	if opts.Name == "" {
		if names, err = leafNames(l, e.name); err != nil {
			return r, err
		}
	}
	if opts.KeepLeaves {
		return r, refreshTruststores(ctx, &r, l, now, e, root, names, "next intermediate published")
	}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		certs, err := ReadCertificates(l.CertFile(e.name, name))
		if err != nil {
			return r, fmt.Errorf("pki rotate: %w", err)
		}
		if err := checkLeafIdentity(l.CertFile(e.name, name), certs[0], m.TrustDomain, e.name, name); err != nil {
			return r, fmt.Errorf("pki rotate: %w", err)
		}
		spec, err := specOf(certs[0])
		if err != nil {
			return r, fmt.Errorf("pki rotate: %s: %w", l.CertFile(e.name, name), err)
		}
		cert, key, err := newLeaf(now, e.cur, spec, m.KeyType)
		if err != nil {
			return r, err
		}
		if err := writeLeaf(&r, l, now, e, root, name, cert, key, "rotated"); err != nil {
			return r, err
		}
	}
	if opts.Intermediate {
		return r, nil // both CRLs were just signed
	}
	return r, refreshCRLs(&r, l, now, e)
}

// rotateIntermediate makes the next intermediate current and keeps the
// old one as ca-prev for the overlap window. Files are written so that an
// interruption leaves either the old or the new state readable: the
// previous files first, then the new key before the new certificate.
func rotateIntermediate(r *Report, l Layout, now time.Time, m Meta, e *envCA, root *x509.Certificate, rootKeyPath string) error {
	ra, err := loadRootAuthority(l, root, rootKeyPath)
	if err != nil {
		return err
	}
	next, err := newIntermediate(now, ra, m.TrustDomain, e.name, m.KeyType)
	if err != nil {
		return err
	}
	why := "previous intermediate superseded"
	if e.prev == nil {
		why = ""
	}
	add := func(path string, existed bool, reason string) {
		if existed {
			r.add(l, path, OpReplaced, reason)
		} else {
			r.add(l, path, OpCreated, "")
		}
	}
	existed := exists(l.PrevCAKey(e.name))
	if err := writeKey(l, l.PrevCAKey(e.name), e.cur.key); err != nil {
		return err
	}
	add(l.PrevCAKey(e.name), existed, why)
	existed = exists(l.PrevCACert(e.name))
	if err := writeCerts(l, l.PrevCACert(e.name), e.cur.cert); err != nil {
		return err
	}
	add(l.PrevCACert(e.name), existed, why)
	var entries []x509.RevocationListEntry
	if e.curCRL != nil {
		entries = e.curCRL.RevokedCertificateEntries
	}
	existed = exists(l.PrevCRLFile(e.name))
	prevCRL, err := writeCRL(l, l.PrevCRLFile(e.name), now, e.cur, nextNumber(e.curCRL), entries)
	if err != nil {
		return err
	}
	add(l.PrevCRLFile(e.name), existed, why)
	if err := writeKey(l, l.CAKey(e.name), next.key); err != nil {
		return err
	}
	r.add(l, l.CAKey(e.name), OpReplaced, "next intermediate")
	if err := writeCerts(l, l.CACert(e.name), next.cert); err != nil {
		return err
	}
	r.add(l, l.CACert(e.name), OpReplaced, "next intermediate")
	curCRL, err := writeCRL(l, l.CRLFile(e.name), now, next, nextNumber(nil), nil)
	if err != nil {
		return err
	}
	r.add(l, l.CRLFile(e.name), OpReplaced, "next intermediate")
	e.prev, e.prevCRL, e.cur, e.curCRL = e.cur, prevCRL, next, curCRL
	if err := syncFile(r, l, l.ChainFile(e.name), encodeCerts(e.cur.cert, root), publicPerm, "next intermediate"); err != nil {
		return err
	}
	return syncFile(r, l, l.BundleFile(e.name), encodeCerts(e.cur.cert, e.prev.cert, root), publicPerm, "next intermediate")
}
