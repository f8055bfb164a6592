package pki

import (
	"context"
	"crypto/x509"
	"math"
	"time"

	"logsys/spiffeid"
)

// VerifyOptions configures Verify.
type VerifyOptions struct {
	Dir  string
	Env  string
	File string // PEM file whose first certificate is checked
	Now  func() time.Time
}

// VerifyResult describes a certificate that passed Verify.
type VerifyResult struct {
	File     string    `json:"file"`
	Identity string    `json:"identity"`
	Env      string    `json:"env"`
	Name     string    `json:"name"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	Issuer   string    `json:"issuer"`
}

// Verify checks a leaf against env: identity (trust domain and env of
// its SPIFFE ID), validity period, chain to the root through one of env's
// intermediates, and revocation in env's CRL (which must be fresh). It
// needs no private key. Failures wrap ErrIdentity, ErrWrongEnv,
// ErrWrongIssuer, ErrExpired, ErrNotYetValid, ErrRevoked or ErrStaleCRL.
func Verify(ctx context.Context, opts VerifyOptions) (VerifyResult, error) {
	res := VerifyResult{File: opts.File, Env: opts.Env}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	l := Layout{Dir: opts.Dir}
	m, err := ReadMeta(opts.Dir)
	if err != nil {
		return res, err
	}
	root, err := readRoot(l)
	if err != nil {
		return res, err
	}
	e, err := loadEnv(l, opts.Env, root, false)
	if err != nil {
		return res, err
	}
	certs, err := ReadCertificates(opts.File)
	if err != nil {
		return res, err
	}
	leaf := certs[0]
	res.Serial, res.NotAfter, res.Issuer = FormatSerial(leaf.SerialNumber), leaf.NotAfter, leaf.Issuer.CommonName
	if err := checkLeafIdentity(opts.File, leaf, m.TrustDomain, opts.Env, ""); err != nil {
		return res, err
	}
	id, _ := spiffeid.FromCert(leaf) // checked by checkLeafIdentity
	res.Identity, res.Name = id.String(), id.Name
	now := clock(opts.Now)
	if err := e.verifyLeaf(l, opts.File, leaf, root, now); err != nil {
		return res, err
	}
	return res, nil
}

// verifyLeaf checks time, chain and revocation of leaf read from path.
func (e *envCA) verifyLeaf(l Layout, path string, leaf, root *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(leaf.NotBefore):
		return fileErrf(path, ErrNotYetValid, "valid from %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(leaf.NotAfter):
		return fileErrf(path, ErrExpired, "expired %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	iss := e.issuerOf(leaf)
	if iss == nil {
		if other := otherEnvOf(l, leaf, e.name); other != "" {
			return fileErrf(path, ErrWrongEnv, "signed by the %s intermediate, not %s", other, e.name)
		}
		return fileErrf(path, ErrWrongIssuer, "not signed by an intermediate of %s", e.name)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root)
	inter.AddCert(iss.cert)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return fileErrf(path, ErrWrongIssuer, "chain does not verify: %v", err)
	}
	crlPath, crl := l.CRLFile(e.name), e.curCRL
	if iss == e.prev {
		crlPath, crl = l.PrevCRLFile(e.name), e.prevCRL
	}
	switch {
	case crl == nil:
		return fileErrf(crlPath, ErrStaleCRL, "missing: revocation cannot be checked (restore the last crl; a new empty one would un-revoke everything)")
	case !now.Before(crl.NextUpdate):
		return fileErrf(crlPath, ErrStaleCRL, "nextUpdate %s passed (run pki init to re-sign)", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	for _, rc := range crl.RevokedCertificateEntries {
		if rc.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			return fileErrf(path, ErrRevoked, "serial %s revoked %s", FormatSerial(leaf.SerialNumber), rc.RevocationTime.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

func daysLeft(c *x509.Certificate, now time.Time) int {
	return int(math.Floor(c.NotAfter.Sub(now).Hours() / 24))
}
