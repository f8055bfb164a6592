package ca

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// handleIssue serves POST /v1/bootstrap and /v1/renew.
func (s *Server) handleIssue(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		from := []any{"method", method, "remote", r.RemoteAddr}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		res, err := s.issue(r, method, &from)
		if err != nil {
			s.writeRefusal(w, err, from)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// issue authorizes a bootstrap (token) or renewal (presented
// certificate), signs the CSR's key, records the certificate in the
// ledger and returns it. Attributes for the log are added to from.
func (s *Server) issue(r *http.Request, method string, from *[]any) (*issueResponse, error) {
	now := s.cfg.Now()
	st, _ := s.reload(now) // fresh CRLs and intermediates; the last good state on error
	var req issueRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, refuse(ReasonBadRequest, "decode request: %v", err)
	}
	var (
		spec            pki.LeafSpec
		pub             crypto.PublicKey
		err             error
		parent, tokenID string
	)
	if method == MethodBootstrap {
		if req.Report != nil {
			return nil, refuse(ReasonBadRequest, "a bootstrap carries no trust report: the role holds no anchors of its own yet")
		}
		// Check the request before spending the token on it.
		if pub, err = parseCSR([]byte(req.CSR)); err != nil {
			return nil, refuse(ReasonBadCSR, "%v", err)
		}
		if spec, err = s.authorizeToken(st, req.Token, now); err != nil {
			return nil, err
		}
		tokenID = tokenHash(req.Token)
	} else {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			c := r.TLS.PeerCertificates[0]
			*from = append(*from, "presented_serial", serialOf(c), "presented_uris", fmt.Sprint(c.URIs))
			parent = serialOf(c)
		}
		if err := s.crlUsable(st, now); err != nil { // fail closed: no renewal without a valid CRL
			return nil, err
		}
		if spec, err = s.authorizeCert(st, r.TLS, now); err != nil {
			return nil, err
		}
		if pub, err = parseCSR([]byte(req.CSR)); err != nil {
			return nil, refuse(ReasonBadCSR, "%v", err)
		}
		if req.Report != nil {
			if err := s.report(r.TLS.PeerCertificates[0], *req.Report, MethodRenew, now); err != nil {
				return nil, err
			}
			st = s.st.Load() // the report may have activated the next intermediate
		}
	}
	cert, err := st.signer.SignLeaf(now, spec, pub)
	if err != nil {
		return nil, err
	}
	rec := issuedRecord(now, method, cert, st.signer.Cert())
	rec.Parent, rec.Token = parent, tokenID
	if err := s.record(rec); err != nil {
		return nil, err
	}
	s.m.issue(spec.Env, spec.Name, method)
	s.log.Info("certificate issued", append(*from, "id", rec.Identity, "serial", serialOf(cert),
		"not_after", cert.NotAfter, "issuer", cert.Issuer.CommonName, "issuer_serial", serialOf(st.signer.Cert()))...)
	return &issueResponse{Certificate: string(pki.EncodeCerts(cert, st.signer.Cert())), Trust: st.trust()}, nil
}

// authorizeToken spends the bootstrap token and returns the identity it grants.
func (s *Server) authorizeToken(st *envState, tok string, now time.Time) (pki.LeafSpec, error) {
	if tok == "" {
		return pki.LeafSpec{}, refuse(ReasonTokenMissing, "no bootstrap token")
	}
	rec, err := consumeToken(s.cfg.Dir, s.cfg.Env, tok, now)
	if err != nil {
		return pki.LeafSpec{}, err
	}
	dns, ips := pki.DefaultSANs(rec.Name, slices.Concat(st.hosts, rec.Hosts), nil, nil)
	return pki.LeafSpec{TrustDomain: st.td, Env: s.cfg.Env, Name: rec.Name, DNS: dns, IPs: ips, TTL: s.cfg.LeafTTL, Usage: pki.UsageDefault}, nil
}

// authenticate checks the presented client certificate: it must be
// current, chain to this environment's intermediates (checked again
// here, beyond the handshake), not be revoked nor renewed from a revoked
// one, and carry an identity of this trust domain and environment. It
// returns the certificate, its identity and its verified chains.
func (s *Server) authenticate(st *envState, cs *tls.ConnectionState, now time.Time) (*x509.Certificate, spiffeid.ID, [][]*x509.Certificate, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return nil, spiffeid.ID{}, nil, refuse(ReasonNoClientCert, "this request requires the current certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: st.pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return nil, spiffeid.ID{}, nil, refuse(ReasonExpired, "certificate expired or not yet valid: %v", err)
		}
		return nil, spiffeid.ID{}, nil, refuse(ReasonUnknownIssuer, "certificate does not chain to this environment: %v", err)
	}
	if root, bad := st.revokedLineage(leaf.SerialNumber); bad {
		if root == serialOf(leaf) {
			return nil, spiffeid.ID{}, nil, refuse(ReasonRevoked, "certificate serial %s is revoked", root)
		}
		return nil, spiffeid.ID{}, nil, refuse(ReasonRevoked, "certificate serial %s was renewed from revoked %s", serialOf(leaf), root)
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return nil, spiffeid.ID{}, nil, refuse(ReasonIdentity, "%v", err)
	}
	if id.TrustDomain != st.td || id.Env != s.cfg.Env {
		return nil, spiffeid.ID{}, nil, refuse(ReasonWrongEnv, "%s is not in %s/%s", id, st.td, s.cfg.Env)
	}
	return leaf, id, chains, nil
}

// authorizeCert accepts a renewal for exactly the identity of the
// presented certificate (authenticate), when it names a workload.
func (s *Server) authorizeCert(st *envState, cs *tls.ConnectionState, now time.Time) (pki.LeafSpec, error) {
	leaf, id, _, err := s.authenticate(st, cs, now)
	if err != nil {
		return pki.LeafSpec{}, err
	}
	switch {
	case spiffeid.ValidateWorkloadName(id.Name) != nil:
		return pki.LeafSpec{}, refuse(ReasonIdentity, "%s cannot be renewed here", id)
	}
	usage, ok := pki.UsageOf(leaf) // a renewal never widens the usage
	if !ok {
		return pki.LeafSpec{}, refuse(ReasonIdentity, "%s carries no TLS usage", id)
	}
	dns, ips := pki.DefaultSANs(id.Name, st.hosts, leaf.DNSNames, leaf.IPAddresses)
	return pki.LeafSpec{TrustDomain: st.td, Env: s.cfg.Env, Name: id.Name, DNS: dns, IPs: ips, TTL: s.cfg.LeafTTL, Usage: usage}, nil
}

// trust handles GET /v1/trust.
func (s *Server) trust(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.st.Load().trust())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
