package ca

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// RevokeOptions configures Revoke: give exactly one of Serial, Name or
// Identity.
type RevokeOptions struct {
	Dir, Env string
	Serial   *big.Int
	// Name is short for the identity spiffe://<td>/<Env>/<Name>.
	Name     string
	Identity string
	Now      func() time.Time
}

// Revoked is one certificate Revoke put on the CRL.
type Revoked struct {
	Serial   string    `json:"serial"`
	Identity string    `json:"identity,omitempty"`
	Source   string    `json:"source"` // SourceCA, SourceFile or SourceSerial
	Why      string    `json:"why"`
	NotAfter time.Time `json:"not_after,omitzero"`
	Already  bool      `json:"already,omitempty"` // it was on the CRL before
}

// Where a revoked certificate came from.
const (
	SourceCA     = "ca"     // recorded in the ledger
	SourceFile   = "file"   // the leaf file of the identity in the PKI directory
	SourceSerial = "serial" // a serial the ledger does not know (of logsys pki, or unknown)
)

// RevokeResult is what Revoke did: the files (pki.Revoke's report) and
// every certificate it revoked.
type RevokeResult struct {
	Report  pki.Report
	Revoked []Revoked
}

// Revoke revokes, in env's CRL(s), a certificate and its lineage: with
// Serial that certificate and every unexpired certificate the CA renewed
// from it, directly or not (from the ledger); with Name or Identity every
// unexpired certificate of the identity the CA issued, the leaf file of
// the PKI directory if there is one, and their lineage. The CRLs are
// re-signed once, through pki.Revoke. A running CA and the roles pick
// the new CRL up on their next reload.
func Revoke(ctx context.Context, o RevokeOptions) (RevokeResult, error) {
	var res RevokeResult
	if n := btoi(o.Serial != nil) + btoi(o.Name != "") + btoi(o.Identity != ""); n != 1 {
		return res, errors.New("revoke: give exactly one of serial, name or identity")
	}
	if err := spiffeid.ValidateEnv(o.Env); err != nil {
		return res, fmt.Errorf("revoke: env: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	now := clock(o.Now)
	l := pki.Layout{Dir: o.Dir}
	m, err := pki.ReadMeta(o.Dir)
	if err != nil {
		return res, fmt.Errorf("revoke: %w", err)
	}
	if _, err := os.Stat(l.CACert(o.Env)); err != nil {
		return res, fmt.Errorf("revoke: environment %q is not initialised in %s: %w", o.Env, o.Dir, err)
	}
	ix, _, err := ReadLedger(o.Dir, o.Env)
	if err != nil {
		return res, fmt.Errorf("revoke: %w", err)
	}
	listed, _ := readRevoked(o.Dir, o.Env) // only to report what was revoked already
	var (
		roots []string
		name  string // the leaf file to revoke, if any
	)
	add := func(rv Revoked) {
		if !slices.ContainsFunc(res.Revoked, func(o Revoked) bool { return o.Serial == rv.Serial }) {
			rv.Already = listed[rv.Serial]
			res.Revoked = append(res.Revoked, rv)
		}
	}
	fromLedger := func(r Record, why string) Revoked {
		return Revoked{Serial: r.Serial, Identity: r.Identity, Source: SourceCA, Why: why, NotAfter: r.NotAfter}
	}
	if o.Serial != nil {
		sn := pki.FormatSerial(o.Serial)
		if r, ok := ix.Lookup(sn); ok {
			add(fromLedger(r, "requested"))
		} else {
			add(Revoked{Serial: sn, Source: SourceSerial, Why: "requested"})
		}
		roots = append(roots, sn)
	} else {
		id, err := revokeIdentity(o, m.TrustDomain)
		if err != nil {
			return res, err
		}
		for _, r := range ix.Live(id.String(), now) {
			add(fromLedger(r, "live certificate of the identity"))
			roots = append(roots, r.Serial)
		}
		if certs, err := pki.ReadCertificates(l.CertFile(o.Env, id.Name)); err == nil {
			name = id.Name
			sn := pki.FormatSerial(certs[0].SerialNumber)
			add(Revoked{Serial: sn, Identity: id.String(), Source: SourceFile, Why: "leaf file " + filepath.Join(o.Env, id.Name, "cert.pem"), NotAfter: certs[0].NotAfter})
			roots = append(roots, sn)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return res, fmt.Errorf("revoke: %w", err)
		}
		if len(res.Revoked) == 0 {
			return res, fmt.Errorf("revoke: %s holds no unexpired certificate of the CA (%s) and no leaf file (%s): nothing to revoke",
				id, l.Ledger(o.Env), l.CertFile(o.Env, id.Name))
		}
	}
	desc := ix.Descendants(roots)
	for _, r := range ix.Records() {
		if root, ok := desc[r.Serial]; ok && now.Before(r.NotAfter) {
			add(fromLedger(r, "renewed from revoked "+root))
		}
	}
	var serials []string
	for _, rv := range res.Revoked {
		if rv.Source != SourceFile {
			serials = append(serials, rv.Serial)
		}
	}
	res.Report, err = revokeSerials(o.Dir, o.Env, now, name, serials)
	return res, err
}

// revokeIdentity resolves Name or Identity to an identity of env.
func revokeIdentity(o RevokeOptions, td string) (spiffeid.ID, error) {
	if o.Name != "" {
		id, err := spiffeid.New(td, o.Env, o.Name)
		if err != nil {
			return id, fmt.Errorf("revoke: name: %w", err)
		}
		return id, nil
	}
	id, err := spiffeid.Parse(o.Identity)
	if err != nil {
		return id, fmt.Errorf("revoke: identity: %w", err)
	}
	if id.TrustDomain != td || id.Env != o.Env {
		return id, fmt.Errorf("revoke: identity %s is not in %s/%s", id, td, o.Env)
	}
	return id, nil
}

// IssuedOptions configures Issued.
type IssuedOptions struct {
	Dir string
	Env string // "" for every environment with a ledger
	// Identity keeps the certificates of one identity: a spiffe:// ID or
	// a workload name.
	Identity string
	All      bool // include expired certificates
	Now      func() time.Time
}

// Statuses of an IssuedCert.
const (
	IssuedLive    = "live"
	IssuedExpired = "expired"
	IssuedRevoked = "revoked"
)

// IssuedCert is one certificate the CA issued, with its lineage.
type IssuedCert struct {
	Env      string    `json:"env"`
	Identity string    `json:"identity"`
	Serial   string    `json:"serial"`
	Method   string    `json:"method"`
	Parent   string    `json:"parent,omitempty"` // renewed from
	Token    string    `json:"token,omitempty"`  // bootstrapped with (SHA-256 of the token)
	IssuedAt time.Time `json:"issued_at"`
	NotAfter time.Time `json:"not_after"`
	Issuer   string    `json:"issuer_serial"`
	Status   string    `json:"status"` // IssuedLive, IssuedExpired or IssuedRevoked
	// RevokedVia is the revoked serial it was renewed from, directly or not.
	RevokedVia string `json:"revoked_via,omitempty"`
}

// Issued lists what the CA of each environment issued (oldest first per
// identity), from the ledgers, with each certificate's status against
// the CRLs; it also returns what reading each ledger found (a torn last
// line is ignored and reported there).
func Issued(ctx context.Context, o IssuedOptions) ([]IssuedCert, []LedgerReport, error) {
	now := clock(o.Now)
	l := pki.Layout{Dir: o.Dir}
	envs := []string{o.Env}
	if o.Env == "" {
		entries, err := os.ReadDir(o.Dir)
		if err != nil {
			return nil, nil, fmt.Errorf("issued: %w", err)
		}
		envs = nil
		for _, de := range entries {
			if _, err := os.Stat(l.Ledger(de.Name())); de.IsDir() && err == nil {
				envs = append(envs, de.Name())
			}
		}
	} else if err := spiffeid.ValidateEnv(o.Env); err != nil {
		return nil, nil, fmt.Errorf("issued: env: %w", err)
	}
	var (
		out  []IssuedCert
		reps []LedgerReport
	)
	for _, env := range envs {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		ix, rep, err := ReadLedger(o.Dir, env)
		if err != nil {
			return nil, nil, fmt.Errorf("issued: %w", err)
		}
		reps = append(reps, rep)
		listed, err := readRevoked(o.Dir, env)
		if err != nil {
			return nil, nil, fmt.Errorf("issued: %w", err)
		}
		via := ix.Descendants(keys(listed))
		for _, r := range ix.Records() {
			if !matchIdentity(r.Identity, o.Identity) {
				continue
			}
			c := IssuedCert{Env: env, Identity: r.Identity, Serial: r.Serial, Method: r.Method, Parent: r.Parent, Token: r.Token,
				IssuedAt: r.At, NotAfter: r.NotAfter, Issuer: r.IssuerSerial, Status: IssuedLive, RevokedVia: via[r.Serial]}
			switch {
			case listed[r.Serial] || c.RevokedVia != "":
				c.Status = IssuedRevoked
			case !now.Before(r.NotAfter):
				c.Status = IssuedExpired
			}
			if c.Status != IssuedExpired || o.All {
				out = append(out, c)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b IssuedCert) int {
		return strings.Compare(a.Env+" "+a.Identity, b.Env+" "+b.Identity)
	})
	return out, reps, nil
}

func matchIdentity(id, want string) bool {
	if want == "" || id == want {
		return true
	}
	parsed, err := spiffeid.Parse(id)
	return err == nil && !strings.Contains(want, "/") && parsed.Name == want
}

// readRevoked returns the serials on env's CRLs, each checked against
// the intermediate that signed it. A stale CRL still lists what it
// revoked, so staleness does not hide it here (the CA and the roles
// refuse stale CRLs; this only reports).
func readRevoked(dir, env string) (map[string]bool, error) {
	l := pki.Layout{Dir: dir}
	st := &envState{}
	for _, p := range []struct{ cert, crl string }{{l.CACert(env), l.CRLFile(env)}, {l.PrevCACert(env), l.PrevCRLFile(env)}} {
		certs, err := pki.ReadCertificates(p.cert)
		if errors.Is(err, fs.ErrNotExist) && p.cert == l.PrevCACert(env) {
			continue
		}
		if err != nil {
			return nil, err
		}
		c, err := readCRL(p.crl, certs[0], time.Time{}, 0)
		if err != nil {
			return nil, err
		}
		st.crls = append(st.crls, c)
	}
	out := map[string]bool{}
	for _, sn := range st.crlSerials() {
		out[sn] = true
	}
	return out, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
