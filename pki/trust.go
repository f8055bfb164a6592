package pki

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// TrustRow says, for one role that keeps its certificate in a state
// directory (a role enrolled with `logsys ca`), which of the environment's
// intermediates it trusts and which one issued its certificate. During an
// intermediate rollover it shows which roles already trust the next one.
type TrustRow struct {
	Env            string `json:"env"`
	Name           string `json:"name"`
	TrustsCurrent  bool   `json:"trustsCurrent"`  // ca.pem: the newest intermediate, the one a rollover moves to
	TrustsPrevious bool   `json:"trustsPrevious"` // ca-prev.pem, during an overlap
	LeafIssuedBy   string `json:"leafIssuedBy"`   // "current", "previous" or "other"
	Problem        string `json:"problem,omitempty"`
}

// InspectTrust reads identities/<name>/<env>/{ca.pem,bundle.pem,<name>/cert.pem}
// (the layout of `logsys all` and of ca.Renewer state directories) for
// every environment of the PKI in dir.
func InspectTrust(dir, identities string) ([]TrustRow, error) {
	l := Layout{Dir: dir}
	names, err := os.ReadDir(identities)
	if err != nil {
		return nil, fmt.Errorf("inspect trust: %w", err)
	}
	envs, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect trust: %w", err)
	}
	var rows []TrustRow
	for _, e := range envs {
		if !e.IsDir() || !exists(l.CACert(e.Name())) {
			continue
		}
		env := e.Name()
		next, err := ReadCertificates(l.CACert(env))
		if err != nil {
			return nil, err
		}
		var prev []*x509.Certificate
		if exists(l.PrevCACert(env)) {
			if prev, err = ReadCertificates(l.PrevCACert(env)); err != nil {
				return nil, err
			}
		}
		for _, n := range names {
			if !n.IsDir() || !exists(Layout{Dir: filepath.Join(identities, n.Name())}.EnvDir(env)) {
				continue
			}
			rows = append(rows, trustRow(Layout{Dir: filepath.Join(identities, n.Name())}, env, n.Name(), next[0], prev))
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Env != rows[j].Env {
			return rows[i].Env < rows[j].Env
		}
		return rows[i].Name < rows[j].Name
	})
	return rows, nil
}

// trustRow reads one role's state directory s (in the pki layout).
func trustRow(s Layout, env, name string, next *x509.Certificate, prev []*x509.Certificate) TrustRow {
	row := TrustRow{Env: env, Name: name, LeafIssuedBy: "other"}
	var anchors []*x509.Certificate
	for _, p := range []string{s.CACert(env), s.BundleFile(env)} {
		if !exists(p) {
			continue
		}
		certs, err := ReadCertificates(p)
		if err != nil {
			row.Problem = err.Error()
			return row
		}
		anchors = append(anchors, certs...)
	}
	has := func(c *x509.Certificate) bool {
		for _, a := range anchors {
			if bytes.Equal(a.Raw, c.Raw) {
				return true
			}
		}
		return false
	}
	row.TrustsCurrent = has(next)
	if len(prev) > 0 {
		row.TrustsPrevious = has(prev[0])
	}
	leaf, err := ReadCertificates(s.CertFile(env, name))
	if err != nil {
		row.Problem = err.Error()
		return row
	}
	switch {
	case leaf[0].CheckSignatureFrom(next) == nil:
		row.LeafIssuedBy = "current"
	case len(prev) > 0 && leaf[0].CheckSignatureFrom(prev[0]) == nil:
		row.LeafIssuedBy = "previous"
	}
	return row
}
