package pki

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"slices"
	"time"
)

// IssueOptions configures Issue.
type IssueOptions struct {
	Dir   string
	Env   string
	Name  string
	DNS   []string // extra DNS SANs
	IPs   []net.IP // extra IP SANs
	TTL   time.Duration
	Usage Usage
	Now   func() time.Time
}

// openEnv reads pki.json, the root and env (with CA keys) for a write.
func openEnv(dir, env string) (Layout, Meta, *x509.Certificate, *envCA, error) {
	l := Layout{Dir: dir}
	if err := refuseLinksBelow(dir); err != nil {
		return l, Meta{}, nil, nil, err
	}
	m, err := ReadMeta(dir)
	if err != nil {
		return l, m, nil, nil, err
	}
	root, err := readRoot(l)
	if err != nil {
		return l, m, nil, nil, err
	}
	e, err := loadEnv(l, env, root, true)
	return l, m, root, e, err
}

// refreshCRLs creates missing CRLs and re-signs stale ones of e.
func refreshCRLs(r *Report, l Layout, now time.Time, e *envCA) error {
	var err error
	if e.curCRL == nil {
		e.curCRL, err = ensureCRL(r, l, now, l.CRLFile(e.name), e.cur, false)
	} else {
		e.curCRL, err = refreshCRL(r, l, now, l.CRLFile(e.name), e.cur, e.curCRL)
	}
	if err != nil || e.prev == nil {
		return err
	}
	if e.prevCRL == nil {
		e.prevCRL, err = ensureCRL(r, l, now, l.PrevCRLFile(e.name), e.prev, false)
	} else {
		e.prevCRL, err = refreshCRL(r, l, now, l.PrevCRLFile(e.name), e.prev, e.prevCRL)
	}
	return err
}

// Issue issues (or re-issues, with a new key) the leaf opts.Name in
// opts.Env, with the default SANs plus opts.DNS and opts.IPs.
func Issue(ctx context.Context, opts IssueOptions) (Report, error) {
	var r Report
	if err := ctx.Err(); err != nil {
		return r, err
	}
	l, m, root, e, err := openEnv(opts.Dir, opts.Env)
	if err != nil {
		return r, fmt.Errorf("pki issue: %w", err)
	}
	now := clock(opts.Now)
	ttl := opts.TTL
	if ttl == 0 {
		ttl = m.leafTTL()
	}
	dns, ips := DefaultSANs(opts.Name, m.Hosts, opts.DNS, opts.IPs)
	spec := LeafSpec{TrustDomain: m.TrustDomain, Env: opts.Env, Name: opts.Name, DNS: dns, IPs: ips, TTL: ttl, Usage: opts.Usage}
	cert, key, err := newLeaf(now, e.cur, spec, m.KeyType)
	if err != nil {
		return r, fmt.Errorf("pki issue: %w", err)
	}
	if err := writeLeaf(&r, l, now, e, root, opts.Name, cert, key, "re-issued on request"); err != nil {
		return r, err
	}
	return r, refreshCRLs(&r, l, now, e)
}

// leafNames lists the leaf directories (those holding cert.pem) of env.
func leafNames(l Layout, env string) ([]string, error) {
	entries, err := os.ReadDir(l.EnvDir(env))
	if err != nil {
		return nil, fmt.Errorf("list leaves of %s: %w", env, err)
	}
	var names []string
	for _, de := range entries {
		if de.IsDir() && exists(l.CertFile(env, de.Name())) {
			names = append(names, de.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}
