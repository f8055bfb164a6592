package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"logsys/spiffeid"
)

// verifyPeer runs after Go has verified the peer's chain against our
// anchors (and, on clients, the host name), on resumed handshakes too.
// Resumption restores the chain verified when the session was made, so a
// resumed peer's chain is verified again here against the current
// anchors: a ticket from an intermediate removed since never resumes.
func (s *Source) verifyPeer(cs tls.ConnectionState, side string, authz Authorizer) error {
	return s.checkPeer(s.cur.Load(), cs.PeerCertificates, cs.VerifiedChains, side, authz, cs.DidResume)
}

// checkPeer checks a peer's certificates (leaf first) against m: the
// CRL, that our CRL is not stale, the chain against m's anchors (when
// reverify is set; chains holds Go's verified chains otherwise), that the
// peer is in our own trust domain and environment, and authz. Refusals are
// *VerifyError.
func (s *Source) checkPeer(m *material, certs []*x509.Certificate, chains [][]*x509.Certificate, side string, authz Authorizer, reverify bool) error {
	if len(certs) == 0 {
		return &VerifyError{Reason: ReasonNoCert, Err: errors.New("peer presented no certificate")}
	}
	leaf, now := certs[0], s.now()
	if _, ok := m.revoked[serialKey(leaf.SerialNumber)]; ok {
		return &VerifyError{Reason: ReasonRevoked, Err: fmt.Errorf("peer certificate serial %s is revoked", serialString(leaf.SerialNumber))}
	}
	if !now.Before(m.staleAt) {
		return &VerifyError{Reason: ReasonCRLStale, Err: fmt.Errorf("our crl is stale since %s (nextUpdate passed by more than crl_grace): no peer can be checked for revocation",
			m.staleAt.UTC().Format(time.RFC3339))}
	}
	if reverify {
		usage := x509.ExtKeyUsageClientAuth
		if side == SideClient {
			usage = x509.ExtKeyUsageServerAuth
		}
		var err error
		if chains, err = verifyChain(m.anchors, leaf, certs[1:], now, usage); err != nil {
			r := Classify(err)
			if r != ReasonExpired && r != ReasonUnauthorized {
				r = ReasonUnknownCA
			}
			return &VerifyError{Reason: r, Err: fmt.Errorf("peer chain does not verify against the current anchors: %w", err)}
		}
	}
	if len(chains) == 0 {
		return &VerifyError{Reason: ReasonUnknownCA, Err: errors.New("peer certificate was not verified")}
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return &VerifyError{Reason: ReasonUnauthorized, Err: fmt.Errorf("%w: %w", ErrUnauthorized, err)}
	}
	if own := m.id; !id.MemberOf(own.TrustDomain, own.Env) {
		return &VerifyError{Reason: ReasonUnauthorized, Err: fmt.Errorf("%w: %s is outside our environment %s/%s", ErrUnauthorized, id, own.TrustDomain, own.Env)}
	}
	if err := authz(id, chains); err != nil {
		return &VerifyError{Reason: ReasonUnauthorized, Err: err}
	}
	return nil
}

// verifyChain verifies leaf, with the intermediates it came with, against
// pool at now for usage.
func verifyChain(pool *x509.CertPool, leaf *x509.Certificate, rest []*x509.Certificate, now time.Time, usage x509.ExtKeyUsage) ([][]*x509.Certificate, error) {
	inter := x509.NewCertPool()
	for _, c := range rest {
		inter.AddCert(c)
	}
	return leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{usage}})
}
