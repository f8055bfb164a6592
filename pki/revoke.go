package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// RevokeOptions configures Revoke: give Serial or Name.
type RevokeOptions struct {
	Dir    string
	Env    string
	Serial *big.Int
	Name   string // revoke the serial of DIR/<env>/<name>/cert.pem
	Now    func() time.Time
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

// Revoke adds a serial to the environment's CRL and re-signs it. With
// Name, the CRL of the intermediate that signed the leaf is used; with a
// bare Serial, the current CRL and, during an overlap, the previous one.
func Revoke(ctx context.Context, opts RevokeOptions) (Report, error) {
	var r Report
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if (opts.Serial == nil) == (opts.Name == "") {
		return r, errors.New("pki revoke: give exactly one of serial or name")
	}
	l, _, _, e, err := openEnv(opts.Dir, opts.Env)
	if err != nil {
		return r, fmt.Errorf("pki revoke: %w", err)
	}
	now := clock(opts.Now)
	type target struct {
		path string
		ca   *Issuer
		crl  **x509.RevocationList
	}
	targets := []target{{l.CRLFile(e.name), e.cur, &e.curCRL}}
	if e.prev != nil {
		targets = append(targets, target{l.PrevCRLFile(e.name), e.prev, &e.prevCRL})
	}
	serial := opts.Serial
	if opts.Name != "" {
		certs, err := ReadCertificates(l.CertFile(e.name, opts.Name))
		if err != nil {
			return r, fmt.Errorf("pki revoke: %w", err)
		}
		serial = certs[0].SerialNumber
		switch e.issuerOf(certs[0]) {
		case e.cur:
			targets = targets[:1]
		case nil:
			return r, fmt.Errorf("pki revoke: %w", fileErrf(l.CertFile(e.name, opts.Name), ErrWrongIssuer, "not signed by an intermediate of %s", e.name))
		default:
			targets = targets[1:]
		}
	}
	for _, t := range targets {
		if *t.crl == nil {
			if *t.crl, err = ensureCRL(&r, l, now, t.path, t.ca, false); err != nil {
				return r, err
			}
		}
		if isRevoked(*t.crl, serial) {
			r.add(l, t.path, OpKept, "serial "+FormatSerial(serial)+" already revoked")
			continue
		}
		entries := append(append([]x509.RevocationListEntry(nil), (*t.crl).RevokedCertificateEntries...),
			x509.RevocationListEntry{SerialNumber: serial, RevocationTime: now.UTC()})
		if *t.crl, err = writeCRL(l, t.path, now, t.ca, nextNumber(*t.crl), entries); err != nil {
			return r, err
		}
		r.add(l, t.path, OpReplaced, "revoked serial "+FormatSerial(serial))
	}
	return r, nil
}
