package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"slices"
	"time"
)

// Status of a certificate in Inspect.
type Status string

// Statuses. Expiring means less than ExpiringWithin is left.
const (
	StatusOK       Status = "ok"
	StatusExpiring Status = "expiring"
	StatusExpired  Status = "expired"
	StatusRevoked  Status = "revoked"
	StatusInvalid  Status = "invalid"
)

// CertInfo is one row of Inspect.
type CertInfo struct {
	Env      string    `json:"env"`
	Name     string    `json:"name"`
	Kind     string    `json:"kind"` // root, intermediate, intermediate-prev, leaf
	Path     string    `json:"path"`
	Identity string    `json:"identity"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
	Status   Status    `json:"status"`
	ChainOK  bool      `json:"chain_ok"`
	Problem  string    `json:"problem,omitempty"`
}

// InspectOptions configures Inspect.
type InspectOptions struct {
	Dir string
	Now func() time.Time
}

// Inspect lists every certificate of the PKI directory with its status.
// Damaged files become rows with StatusInvalid and a Problem; only an
// unreadable root is an error.
func Inspect(ctx context.Context, opts InspectOptions) ([]CertInfo, error) {
	l := Layout{Dir: opts.Dir}
	now := clock(opts.Now)
	root, err := readRoot(l)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	_, rootErr := root.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now})
	rows := []CertInfo{row(l, now, "", "root", "root", l.RootCert(), root, root.Subject.CommonName, rootErr)}
	envs, err := envNames(l)
	if err != nil {
		return nil, err
	}
	for _, env := range envs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows = append(rows, inspectEnv(l, now, root, env)...)
	}
	return rows, nil
}

// envNames lists directories holding an intermediate, sorted.
func envNames(l Layout) ([]string, error) {
	entries, err := os.ReadDir(l.Dir)
	if err != nil {
		return nil, err
	}
	var envs []string
	for _, de := range entries {
		if de.IsDir() && de.Name() != "root" && exists(l.CACert(de.Name())) {
			envs = append(envs, de.Name())
		}
	}
	slices.Sort(envs)
	return envs, nil
}

func inspectEnv(l Layout, now time.Time, root *x509.Certificate, env string) []CertInfo {
	e, err := loadEnv(l, env, root, false)
	if err != nil {
		return []CertInfo{{Env: env, Name: "ca", Kind: "intermediate", Path: l.rel(l.CACert(env)), Status: StatusInvalid, Problem: err.Error()}}
	}
	roots := x509.NewCertPool()
	roots.AddCert(root)
	var rows []CertInfo
	for _, ca := range []struct {
		name, kind, path string
		a                *Issuer
	}{{"ca", "intermediate", l.CACert(env), e.cur}, {"ca-prev", "intermediate-prev", l.PrevCACert(env), e.prev}} {
		if ca.a == nil {
			continue
		}
		_, verr := ca.a.cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now})
		rows = append(rows, row(l, now, env, ca.name, ca.kind, ca.path, ca.a.cert, ca.a.cert.Subject.CommonName, verr))
	}
	names, err := leafNames(l, env)
	if err != nil {
		return rows
	}
	m, _ := ReadMeta(l.Dir)
	for _, name := range names {
		path := l.CertFile(env, name)
		certs, err := ReadCertificates(path)
		if err != nil {
			rows = append(rows, CertInfo{Env: env, Name: name, Kind: "leaf", Path: l.rel(path), Status: StatusInvalid, Problem: err.Error()})
			continue
		}
		leaf := certs[0]
		id := ""
		if len(leaf.URIs) > 0 {
			id = leaf.URIs[0].String()
		}
		verr := checkLeafIdentity(path, leaf, m.TrustDomain, env, name)
		if verr == nil {
			verr = e.verifyLeaf(l, path, leaf, root, now)
		}
		ci := row(l, now, env, name, "leaf", path, leaf, id, verr)
		if errors.Is(verr, ErrRevoked) {
			ci.Status = StatusRevoked
			ci.ChainOK = true
		}
		rows = append(rows, ci)
	}
	return rows
}

// row builds a CertInfo; verr is the chain/identity verification result.
func row(l Layout, now time.Time, env, name, kind, path string, c *x509.Certificate, id string, verr error) CertInfo {
	ci := CertInfo{Env: env, Name: name, Kind: kind, Path: l.rel(path), Identity: id, Serial: FormatSerial(c.SerialNumber),
		NotAfter: c.NotAfter.UTC(), DaysLeft: daysLeft(c, now), Status: StatusOK, ChainOK: verr == nil}
	switch {
	case !now.Before(c.NotAfter):
		ci.Status = StatusExpired
		ci.ChainOK = false
	case c.NotAfter.Sub(now) < ExpiringWithin:
		ci.Status = StatusExpiring
	}
	if verr != nil && !errors.Is(verr, ErrExpired) {
		ci.Problem = verr.Error()
		if errors.Is(verr, ErrRevoked) || errors.Is(verr, ErrStaleCRL) {
			ci.ChainOK = true
		}
	}
	return ci
}
