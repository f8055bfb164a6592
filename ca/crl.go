package ca

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"time"

	"logsys/pki"
)

// Reasons the CA refuses a reading of the PKI directory (the `reason`
// label of logsys_ca_reload_rejections_total). It keeps the previous
// reading for its trust bundle, and refuses renewals meanwhile when the
// reason is about the CRL.
const (
	RejectCRL       = "crl"        // a CRL is missing, unparseable, unsigned, or without number or nextUpdate
	RejectCRLStale  = "crl_stale"  // a CRL is past its nextUpdate by more than crl_grace
	RejectCRLNumber = "crl_number" // a CRL number went backwards, or was reused with other content
	RejectOther     = "other"      // anything else (a certificate or key unreadable, a rotation half written)
)

var allRejects = []string{RejectCRL, RejectCRLStale, RejectCRLNumber, RejectOther}

// stateError is a refused reading of the PKI directory.
type stateError struct {
	reason string
	err    error
}

func (e *stateError) Error() string { return e.err.Error() }
func (e *stateError) Unwrap() error { return e.err }

func rejectReason(err error) string {
	if se, ok := errors.AsType[*stateError](err); ok {
		return se.reason
	}
	return RejectOther
}

// envCRL is one intermediate's CRL as loaded.
type envCRL struct {
	issuer *pki.Issuer
	path   string
	crl    *x509.RevocationList
}

// scope is what a CRL number counts within: the issuer's name and key.
func (c envCRL) scope() string {
	return string(c.crl.RawIssuer) + "\x00" + string(c.crl.AuthorityKeyId)
}

// readCRL reads the CRL of issuer at path. A missing, unparseable or
// unsigned CRL, one without number or nextUpdate, or one past nextUpdate by
// more than grace is refused: without it nothing known to be revoked could
// be told apart (fail closed).
func readCRL(path string, signer *x509.Certificate, now time.Time, grace time.Duration) (envCRL, error) {
	bad := func(reason, format string, args ...any) (envCRL, error) {
		return envCRL{}, &stateError{reason: reason, err: fmt.Errorf("%s: "+format, append([]any{path}, args...)...)}
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return bad(RejectCRL, "missing: without it the CA cannot tell which certificates are revoked")
	}
	if err != nil {
		return bad(RejectCRL, "read: %v", err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "X509 CRL" {
		return bad(RejectCRL, "no PEM X509 CRL block")
	}
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		return bad(RejectCRL, "%v", err)
	}
	if err := crl.CheckSignatureFrom(signer); err != nil {
		return bad(RejectCRL, "not signed by %q: %v", signer.Subject.CommonName, err)
	}
	switch {
	case crl.Number == nil:
		return bad(RejectCRL, "no CRL number")
	case crl.NextUpdate.IsZero():
		return bad(RejectCRL, "no nextUpdate")
	case now.After(crl.NextUpdate.Add(grace)):
		return bad(RejectCRLStale, "stale: nextUpdate %s passed more than crl_grace (%s) ago", crl.NextUpdate.UTC().Format(time.RFC3339), grace)
	}
	return envCRL{path: path, crl: crl}, nil
}

// crlMark is the highest CRL number of one scope the CA has loaded.
type crlMark struct {
	number *big.Int
	hash   [sha256.Size]byte
}

// checkNumbers refuses st when one of its CRL numbers is lower than one
// loaded before, or equal with other content.
func checkNumbers(st *envState, high map[string]crlMark) error {
	for _, c := range st.crls {
		h, ok := high[c.scope()]
		if !ok {
			continue
		}
		switch n := c.crl.Number.Cmp(h.number); {
		case n < 0:
			return &stateError{reason: RejectCRLNumber, err: fmt.Errorf("%s: crl number %s is lower than %s already loaded (an older crl replayed?)", c.path, c.crl.Number, h.number)}
		case n == 0 && sha256.Sum256(c.crl.Raw) != h.hash:
			return &stateError{reason: RejectCRLNumber, err: fmt.Errorf("%s: crl number %s reused with other content", c.path, c.crl.Number)}
		}
	}
	return nil
}

func raiseNumbers(st *envState, high map[string]crlMark) {
	for _, c := range st.crls {
		if h, ok := high[c.scope()]; !ok || c.crl.Number.Cmp(h.number) > 0 {
			high[c.scope()] = crlMark{number: c.crl.Number, hash: sha256.Sum256(c.crl.Raw)}
		}
	}
}

// crlUsable refuses renewals while the CA cannot vouch for its CRLs: the
// last reading of the directory failed on a CRL, or a loaded CRL has gone
// stale since.
func (s *Server) crlUsable(st *envState, now time.Time) error {
	if err := s.crlErr.Load(); err != nil {
		return refuse(ReasonCRLUnavailable, "renewals are refused until the crl is valid again: %v", *err)
	}
	for _, c := range st.crls {
		if now.After(c.crl.NextUpdate.Add(s.cfg.CRLGrace)) {
			return refuse(ReasonCRLUnavailable, "%s is stale since %s", c.path, c.crl.NextUpdate.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// resignCRLs re-signs every CRL of the loaded state that is at or past half
// its life, so that no CRL of the environment reaches its nextUpdate while
// the CA runs. It re-signs what it loaded and checked (never an unchecked
// file), and only while the file still holds it; then it reloads.
func (s *Server) resignCRLs(now time.Time) {
	st := s.st.Load()
	changed := false
	for _, c := range st.crls {
		if !pki.CRLNeedsResign(c.crl, now) {
			continue
		}
		next, err := c.issuer.ResignCRL(s.cfg.Dir, c.path, now, c.crl)
		if err != nil {
			s.log.Warn("crl not re-signed; will retry", "path", c.path, "err", err)
			continue
		}
		s.log.Info("crl re-signed", "path", c.path, "number", next.Number.String(), "next_update", next.NextUpdate, "revoked", len(next.RevokedCertificateEntries))
		changed = true
	}
	if changed {
		_, _ = s.reload(now) // logged inside
	}
}
