package tlsx

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// DefaultCRLGrace is how long past its nextUpdate a CRL still counts.
// Every CRL logsys signs lives 7 days and is re-signed at half its life
// (by `logsys ca`, `logsys all` and `logsys pki init`), so nextUpdate is
// reached only after 3.5 days without a re-sign. From nextUpdate on,
// health is DOWN and LogsysCRLStale fires; the grace is the time left to
// re-sign before every handshake is refused. A day covers a weekend
// night of an unattended CA without letting a withheld CRL count for
// long: a CRL that no longer arrives hides new revocations, so its
// authority must end.
const DefaultCRLGrace = 24 * time.Hour

// crlList is one validated CRL of the material: the newest list of one
// issuer.
type crlList struct {
	issuer     string // RawIssuer + AuthorityKeyId: the scope of the CRL number
	signer     *x509.Certificate
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	hash       [sha256.Size]byte
}

// CRLInfo describes one loaded CRL for health views and metrics.
type CRLInfo struct {
	Source     string
	Issuer     string // subject of the intermediate that signed it
	Number     string // decimal CRL number
	ThisUpdate time.Time
	NextUpdate time.Time
	Revoked    int // entries of all loaded CRLs
}

// parseCRLs parses every PEM CRL in data and returns the lists and the
// union of their revoked serials. Each CRL must be signed by one of
// anchors, carry a CRL number and a nextUpdate, and no issuer may appear
// twice; every certificate of current (the CA file: the environment's
// current intermediates) must have signed one, so that no certificate it
// issued goes unchecked. Serials are random 128-bit values: one
// environment-wide set is used regardless of which intermediate signed
// the CRL.
func parseCRLs(data []byte, anchors, current []*x509.Certificate) ([]crlList, map[string]struct{}, error) {
	var (
		lists   []crlList
		revoked = map[string]struct{}{}
		seen    = map[string]bool{}
	)
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "X509 CRL" {
			return nil, nil, fmt.Errorf("unexpected PEM block %q", b.Type)
		}
		crl, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parse: %w", err)
		}
		signer := signerOf(crl, anchors)
		switch {
		case signer == nil:
			return nil, nil, fmt.Errorf("crl from %q is not signed by a trust anchor", crl.Issuer)
		case crl.Number == nil:
			return nil, nil, fmt.Errorf("crl from %q has no CRL number", crl.Issuer)
		case crl.NextUpdate.IsZero():
			return nil, nil, fmt.Errorf("crl from %q has no nextUpdate", crl.Issuer)
		}
		l := crlList{issuer: string(crl.RawIssuer) + "\x00" + string(crl.AuthorityKeyId), signer: signer,
			number: crl.Number, thisUpdate: crl.ThisUpdate, nextUpdate: crl.NextUpdate, hash: sha256.Sum256(crl.Raw)}
		if seen[l.issuer] {
			return nil, nil, fmt.Errorf("two crls from %q", crl.Issuer)
		}
		seen[l.issuer] = true
		lists = append(lists, l)
		for _, e := range crl.RevokedCertificateEntries {
			revoked[serialKey(e.SerialNumber)] = struct{}{}
		}
	}
	if len(lists) == 0 {
		return nil, nil, errors.New("no PEM \"X509 CRL\" block found")
	}
	for _, c := range current {
		if !slices.ContainsFunc(lists, func(l crlList) bool { return l.signer.Equal(c) }) {
			return nil, nil, fmt.Errorf("no crl signed by the current intermediate %q", c.Subject)
		}
	}
	return lists, revoked, nil
}

func signerOf(crl *x509.RevocationList, anchors []*x509.Certificate) *x509.Certificate {
	for _, a := range anchors {
		if crl.CheckSignatureFrom(a) == nil {
			return a
		}
	}
	return nil
}

// staleAt is the first moment at which one of lists is past its
// nextUpdate by more than grace: from then on the material revokes
// nothing with authority, and every peer is refused.
func staleAt(lists []crlList, grace time.Duration) time.Time {
	var first time.Time
	for i, l := range lists {
		if i == 0 || l.nextUpdate.Before(first) {
			first = l.nextUpdate
		}
	}
	return first.Add(grace)
}

// checkFresh refuses lists when one of them is already stale at now.
func checkFresh(lists []crlList, now time.Time, grace time.Duration) error {
	for _, l := range lists {
		if now.After(l.nextUpdate.Add(grace)) {
			return &RejectError{Reason: RejectCRLStale, Err: fmt.Errorf("crl from %q is stale: its nextUpdate %s passed more than crl_grace (%s) ago",
				l.signer.Subject, l.nextUpdate.UTC().Format(time.RFC3339), grace)}
		}
	}
	return nil
}

// checkNumbers refuses lists whose CRL number of an issuer is lower than
// the highest one this source has loaded (an older CRL replayed), or
// equal to it with other content (a number reused).
func checkNumbers(lists []crlList, high map[string]crlList) error {
	for _, l := range lists {
		h, ok := high[l.issuer]
		if !ok {
			continue
		}
		switch c := l.number.Cmp(h.number); {
		case c < 0:
			return &RejectError{Reason: RejectCRLNumber, Err: fmt.Errorf("crl from %q has number %s, lower than %s already loaded (an older crl replayed?)",
				l.signer.Subject, l.number, h.number)}
		case c == 0 && l.hash != h.hash:
			return &RejectError{Reason: RejectCRLNumber, Err: fmt.Errorf("crl from %q reuses number %s with other content", l.signer.Subject, l.number)}
		}
	}
	return nil
}

// CRLs describes the loaded CRLs.
func (s *Source) CRLs() []CRLInfo {
	m := s.cur.Load()
	out := make([]CRLInfo, len(m.crls))
	for i, l := range m.crls {
		out[i] = CRLInfo{Source: s.cfg.Name, Issuer: l.signer.Subject.String(), Number: l.number.String(),
			ThisUpdate: l.thisUpdate, NextUpdate: l.nextUpdate, Revoked: len(m.revoked)}
	}
	return out
}

// CRLStatus reports whether every loaded CRL is before its nextUpdate;
// reasons names each that is not, and when its grace ends and every
// handshake is refused (or that it has).
func (s *Source) CRLStatus() (ok bool, reasons []string) {
	m, now := s.cur.Load(), s.now()
	env := m.id.Env
	for _, l := range m.crls {
		if !now.After(l.nextUpdate) {
			continue
		}
		end := l.nextUpdate.Add(s.cfg.CRLGrace)
		what := fmt.Sprintf("handshakes are refused from %s (crl_grace %s)", end.UTC().Format(time.RFC3339), s.cfg.CRLGrace)
		if now.After(end) {
			what = "every handshake is refused since " + end.UTC().Format(time.RFC3339)
		}
		reasons = append(reasons, fmt.Sprintf("crl for %s (%s) is stale since %s: %s; re-sign it (logsys ca does, or logsys pki init)",
			env, l.signer.Subject.CommonName, l.nextUpdate.UTC().Format(time.RFC3339), what))
	}
	return len(reasons) == 0, reasons
}
