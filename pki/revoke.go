package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"logsys/spiffeid"
)

// RevokeOptions configures Revoke: give Serial, Serials, Name or any
// combination; all of them go into one re-signed CRL per intermediate.
type RevokeOptions struct {
	Dir    string
	Env    string
	Serial *big.Int
	// Serials are revoked like Serial (the online CA's lineage of a
	// revoked certificate, or an identity's live certificates).
	Serials []*big.Int
	Name    string // revoke the serial of DIR/<env>/<name>/cert.pem
	Now     func() time.Time
}

// FormatSerial renders a serial as uppercase hex with an even number of
// digits, as openssl prints it.
func FormatSerial(n *big.Int) string {
	s := fmt.Sprintf("%X", n)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

// ParseSerial accepts hex with optional 0x prefix and colons.
func ParseSerial(s string) (*big.Int, error) {
	h := strings.ReplaceAll(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x"), ":", "")
	n, ok := new(big.Int).SetString(h, 16)
	if !ok || n.Sign() <= 0 {
		return nil, fmt.Errorf("invalid serial %q: want positive hex", s)
	}
	return n, nil
}

// Revoke adds serials to the environment's CRLs and re-signs them. The
// leaf of Name goes into the CRL of the intermediate that signed it; a
// bare serial into the current CRL and, during an overlap, the previous
// one. The environment is locked against other revocations (in any
// process) from reading the CRLs to writing them, so none is lost.
func Revoke(ctx context.Context, opts RevokeOptions) (Report, error) {
	var r Report
	if err := ctx.Err(); err != nil {
		return r, err
	}
	bare := slices.DeleteFunc(append([]*big.Int{opts.Serial}, opts.Serials...), func(n *big.Int) bool { return n == nil })
	if len(bare) == 0 && opts.Name == "" {
		return r, errors.New("pki revoke: give a serial or a name")
	}
	unlock, err := lockEnv(opts.Dir, opts.Env)
	if err != nil {
		return r, fmt.Errorf("pki revoke: %w", err)
	}
	defer unlock()
	l, _, _, e, err := openEnv(opts.Dir, opts.Env)
	if err != nil {
		return r, fmt.Errorf("pki revoke: %w", err)
	}
	now := clock(opts.Now)
	type target struct {
		path    string
		ca      *Issuer
		crl     **x509.RevocationList
		serials []*big.Int
	}
	targets := []*target{{l.CRLFile(e.name), e.cur, &e.curCRL, bare}}
	if e.prev != nil {
		targets = append(targets, &target{l.PrevCRLFile(e.name), e.prev, &e.prevCRL, bare})
	}
	if opts.Name != "" {
		certs, err := ReadCertificates(l.CertFile(e.name, opts.Name))
		if err != nil {
			return r, fmt.Errorf("pki revoke: %w", err)
		}
		switch e.issuerOf(certs[0]) {
		case e.cur:
			targets[0].serials = append(slices.Clip(targets[0].serials), certs[0].SerialNumber)
		case nil:
			return r, fmt.Errorf("pki revoke: %w", fileErrf(l.CertFile(e.name, opts.Name), ErrWrongIssuer, "not signed by an intermediate of %s", e.name))
		default:
			targets[1].serials = append(slices.Clip(targets[1].serials), certs[0].SerialNumber)
		}
	}
	for _, t := range targets {
		if len(t.serials) == 0 {
			continue
		}
		if *t.crl == nil {
			if *t.crl, err = ensureCRL(&r, l, now, t.path, t.ca, false); err != nil {
				return r, err
			}
		}
		entries := slices.Clone((*t.crl).RevokedCertificateEntries)
		var added, kept []string
		for _, n := range t.serials {
			if slices.ContainsFunc(entries, func(e x509.RevocationListEntry) bool { return e.SerialNumber.Cmp(n) == 0 }) {
				kept = append(kept, FormatSerial(n))
				continue
			}
			entries = append(entries, x509.RevocationListEntry{SerialNumber: n, RevocationTime: now.UTC()})
			added = append(added, FormatSerial(n))
		}
		if len(added) == 0 {
			r.add(l, t.path, OpKept, serialsPhrase(kept)+" already revoked")
			continue
		}
		if *t.crl, err = writeCRL(l, t.path, now, t.ca, nextNumber(*t.crl), entries); err != nil {
			return r, err
		}
		r.add(l, t.path, OpReplaced, "revoked "+serialsPhrase(added))
	}
	return r, nil
}

// serialsPhrase is "serial A" or "serials A, B".
func serialsPhrase(serials []string) string {
	if len(serials) == 1 {
		return "serial " + serials[0]
	}
	return "serials " + strings.Join(serials, ", ")
}

// lockEnv takes an exclusive lock on the directory of env (when it
// exists: a missing environment is reported by openEnv) until unlock.
func lockEnv(dir, env string) (unlock func(), err error) {
	if err := spiffeid.ValidateEnv(env); err != nil {
		return nil, err
	}
	d, err := os.Open(Layout{Dir: dir}.EnvDir(env))
	if errors.Is(err, fs.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", env, err)
	}
	if err := lockFile(d); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock %s: %w", Layout{Dir: dir}.EnvDir(env), err)
	}
	return func() { d.Close() }, nil
}
