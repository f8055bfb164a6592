package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"logsys/spiffeid"
)

// Defaults used by Init for empty options when pki.json records nothing.
var (
	DefaultTrustDomain = "logsys.local"
	DefaultEnvs        = []string{"dev", "staging", "prod"}
	DefaultNames       = []string{"gateway", "producer", "consumer", "kafka", "postgres", "prometheus", "client", "operator"}
)

// InitOptions configures Init. Empty fields take the values recorded in
// DIR/pki.json, then the package defaults.
type InitOptions struct {
	Dir         string
	TrustDomain string
	Envs        []string
	Names       []string
	Hosts       []string // extra SANs of every leaf: DNS names or IP literals
	KeyType     KeyType
	LeafTTL     time.Duration
	// RootKeyPath is where the root key is written when the root is
	// created and read when an intermediate must be signed; default
	// DIR/root/ca-key.pem. Keep it elsewhere to hold the root key offline.
	RootKeyPath string
	Now         func() time.Time
}

// resolve fills empty options from meta and defaults and validates them.
func (o InitOptions) resolve(m Meta, haveMeta bool) (InitOptions, error) {
	if haveMeta && o.TrustDomain != "" && o.TrustDomain != m.TrustDomain {
		return o, fmt.Errorf("trust domain %q differs from %q recorded in pki.json: identities would change; use a new directory", o.TrustDomain, m.TrustDomain)
	}
	pick := func(a, b, c []string) []string {
		if len(a) > 0 {
			return a
		}
		if len(b) > 0 {
			return b
		}
		return c
	}
	if o.TrustDomain == "" {
		o.TrustDomain = m.TrustDomain
	}
	if o.TrustDomain == "" {
		o.TrustDomain = DefaultTrustDomain
	}
	o.Envs = pick(o.Envs, m.Envs, DefaultEnvs)
	o.Names = pick(o.Names, m.Names, DefaultNames)
	o.Hosts = pick(o.Hosts, m.Hosts, nil)
	if o.KeyType == "" {
		o.KeyType = m.KeyType
	}
	kt, err := ParseKeyType(string(o.KeyType))
	if err != nil {
		return o, err
	}
	o.KeyType = kt
	if o.LeafTTL == 0 {
		o.LeafTTL = m.leafTTL()
	}
	if o.LeafTTL < MinLeafTTL {
		return o, fmt.Errorf("leaf ttl %v is below the minimum %v", o.LeafTTL, MinLeafTTL)
	}
	if err := spiffeid.ValidateTrustDomain(o.TrustDomain); err != nil {
		return o, err
	}
	for _, e := range o.Envs {
		if err := spiffeid.ValidateEnv(e); err != nil {
			return o, err
		}
		if e == "root" {
			return o, errors.New(`invalid env "root": the name is taken by the root CA directory`)
		}
	}
	for _, n := range o.Names {
		if err := spiffeid.ValidateWorkloadName(n); err != nil {
			return o, err
		}
	}
	if o.RootKeyPath == "" {
		o.RootKeyPath = Layout{Dir: o.Dir}.RootKey()
	}
	return o, nil
}

// Init creates or completes the PKI in opts.Dir. It keeps every file that
// exists and is valid, fills in what is missing, replaces what is stale
// (reporting why) and fails, naming the file, on damaged or foreign files.
func Init(ctx context.Context, opts InitOptions) (Report, error) {
	var r Report
	if opts.Dir == "" {
		return r, errors.New("pki init: no directory given")
	}
	l := Layout{Dir: opts.Dir}
	if err := refuseLinksBelow(opts.Dir); err != nil {
		return r, fmt.Errorf("pki init: %w", err)
	}
	m, err := ReadMeta(opts.Dir)
	haveMeta := err == nil
	if err != nil && !isNotExist(err) {
		return r, err
	}
	if opts, err = opts.resolve(m, haveMeta); err != nil {
		return r, fmt.Errorf("pki init: %w", err)
	}
	now := clock(opts.Now)
	if err := os.MkdirAll(opts.Dir, dirPerm); err != nil {
		return r, fmt.Errorf("pki init: %w", err)
	}
	root, rootNew, err := ensureRoot(&r, l, now, opts)
	if err != nil {
		return r, err
	}
	if err := ensureRootCRL(&r, l, now, opts, root); err != nil {
		return r, err
	}
	for _, env := range opts.Envs {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		e, err := ensureEnv(&r, l, now, opts, root, rootNew, env)
		if err != nil {
			return r, err
		}
		for _, name := range opts.Names {
			if err := ctx.Err(); err != nil {
				return r, err
			}
			if err := ensureLeaf(&r, l, now, opts, root, e, name); err != nil {
				return r, err
			}
		}
	}
	nm := Meta{Version: 1, TrustDomain: opts.TrustDomain, KeyType: opts.KeyType, LeafTTL: opts.LeafTTL.String(),
		Envs: union(m.Envs, opts.Envs), Names: union(m.Names, opts.Names), Hosts: opts.Hosts}
	data, err := metaBytes(nm)
	if err != nil {
		return r, err
	}
	return r, syncFile(&r, l, l.MetaFile(), data, publicPerm, "settings changed")
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		out = appendStr(out, s)
	}
	return out
}

// ensureRoot keeps a valid root or creates one. It reports whether the root
// is new (so every intermediate must be re-signed).
func ensureRoot(r *Report, l Layout, now time.Time, o InitOptions) (*x509.Certificate, bool, error) {
	reason := ""
	if exists(l.RootCert()) {
		root, err := readRoot(l)
		if err != nil {
			return nil, false, err
		}
		if now.Before(root.NotAfter) {
			if !exists(o.RootKeyPath) {
				r.add(l, l.RootCert(), OpKept, "root key not present: kept offline")
				return root, false, nil
			}
			key, err := ReadPrivateKey(o.RootKeyPath)
			if err != nil {
				return nil, false, err
			}
			if !keyMatches(root, key) {
				return nil, false, fileErrf(o.RootKeyPath, ErrKeyMismatch, "does not match %s", l.RootCert())
			}
			r.add(l, l.RootCert(), OpKept, "")
			return root, false, keepSecret(r, l, o.RootKeyPath)
		}
		reason = "expired " + root.NotAfter.UTC().Format(time.RFC3339)
	} else if exists(o.RootKeyPath) {
		return nil, false, fileErrf(o.RootKeyPath, ErrMalformed, "root key present but %s is missing; restore the certificate or remove the key to start a new root", l.RootCert())
	}
	ra, err := newRoot(now, o.TrustDomain, o.KeyType)
	if err != nil {
		return nil, false, err
	}
	if err := writeKey(l, o.RootKeyPath, ra.key); err != nil {
		return nil, false, err
	}
	if err := writeCerts(l, l.RootCert(), ra.cert); err != nil {
		return nil, false, err
	}
	op := OpCreated
	if reason != "" {
		op = OpReplaced
	}
	r.add(l, o.RootKeyPath, op, reason)
	r.add(l, l.RootCert(), op, reason)
	return ra.cert, true, nil
}

// loadRootAuthority reads the root certificate's key for signing.
func loadRootAuthority(l Layout, root *x509.Certificate, keyPath string) (*Issuer, error) {
	if keyPath == "" {
		keyPath = l.RootKey()
	}
	if !exists(keyPath) {
		return nil, fmt.Errorf("%w: an intermediate must be signed but %s does not exist (pass the offline root key path)", ErrRootKeyNeeded, keyPath)
	}
	key, err := ReadPrivateKey(keyPath)
	if err != nil {
		return nil, err
	}
	if !keyMatches(root, key) {
		return nil, fileErrf(keyPath, ErrKeyMismatch, "does not match %s", l.RootCert())
	}
	return &Issuer{cert: root, key: key}, nil
}
