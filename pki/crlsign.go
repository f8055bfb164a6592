package pki

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// CRLNeedsResign reports whether crl is at or past half its lifetime, the
// point at which `pki init`, `logsys ca` and `logsys all` re-sign it.
func CRLNeedsResign(crl *x509.RevocationList, now time.Time) bool { return crlNeedsResign(crl, now) }

// ResignCRL re-signs crl, a CRL of is, with the same entries, the next
// CRL number and a fresh CRLLifetime, and writes it to path (a CRL file
// of the layout under dir) — provided path still holds crl exactly, so
// that a revocation written meanwhile (`pki revoke`) is never replaced by
// a list that lacks it; the caller re-reads the file and tries again.
func (is *Issuer) ResignCRL(dir, path string, now time.Time, crl *x509.RevocationList) (*x509.RevocationList, error) {
	if err := crl.CheckSignatureFrom(is.cert); err != nil {
		return nil, fileErrf(path, ErrWrongIssuer, "crl not signed by %q: %v", is.cert.Subject.CommonName, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("re-sign crl: %w", err)
	}
	if b, _ := pem.Decode(data); b == nil || !bytes.Equal(b.Bytes, crl.Raw) {
		return nil, fileErrf(path, ErrMalformed, "changed since it was read; not re-signed")
	}
	return writeCRL(Layout{Dir: dir}, path, now, is, nextNumber(crl), crl.RevokedCertificateEntries)
}

// RefreshCRLs re-signs the CRLs of env (the current intermediate's and,
// during an overlap, the previous one's) that are at or past half their
// life, as `pki init` does, and touches nothing else. A missing CRL is an
// error: it is never created anew (see ensureCRL).
func RefreshCRLs(ctx context.Context, dir, env string, now time.Time) (Report, error) {
	var r Report
	if err := ctx.Err(); err != nil {
		return r, err
	}
	l, _, _, e, err := openEnv(dir, env)
	if err != nil {
		return r, fmt.Errorf("pki refresh crls: %w", err)
	}
	return r, refreshCRLs(&r, l, now, e)
}
