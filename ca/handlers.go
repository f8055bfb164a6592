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

// issue handles POST /v1/bootstrap and /v1/renew.
func (s *Server) issue(w http.ResponseWriter, r *http.Request, method string) {
	now := s.cfg.Now()
	st, _ := s.reload(now) // fresh CRLs and intermediates; the last good state on error
	var req issueRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var (
		spec pki.LeafSpec
		pub  crypto.PublicKey
		err  error
		from = []any{"method", method, "remote", r.RemoteAddr}
	)
	if derr := dec.Decode(&req); derr != nil {
		err = refuse(http.StatusBadRequest, "bad_request", "decode request: %v", derr)
	} else if method == MethodBootstrap {
		// Check the request before spending the token on it.
		if pub, err = parseCSR([]byte(req.CSR)); err != nil {
			err = refuse(http.StatusBadRequest, "bad_csr", "%v", err)
		} else {
			spec, err = s.authorizeToken(st, req.Token, now)
		}
	} else {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			c := r.TLS.PeerCertificates[0]
			from = append(from, "presented_serial", serialOf(c), "presented_uris", fmt.Sprint(c.URIs))
		}
		err = s.crlUsable(st, now) // fail closed: no renewal without a valid CRL
		if err == nil {
			spec, err = s.authorizeCert(st, r.TLS, now)
		}
		if err == nil {
			if pub, err = parseCSR([]byte(req.CSR)); err != nil {
				err = refuse(http.StatusBadRequest, "bad_csr", "%v", err)
			}
		}
	}
	var cert *x509.Certificate
	if err == nil {
		cert, err = st.signer.SignLeaf(now, spec, pub)
	}
	if err != nil {
		s.refused(w, err, from)
		return
	}
	s.m.issue(spec.Env, spec.Name, method)
	s.log.Info("certificate issued", append(from, "id", cert.URIs[0].String(), "serial", serialOf(cert),
		"not_after", cert.NotAfter, "issuer", cert.Issuer.CommonName, "issuer_serial", serialOf(st.signer.Cert()))...)
	writeJSON(w, http.StatusOK, issueResponse{Certificate: string(pki.EncodeCerts(cert, st.signer.Cert())), Trust: st.trust()})
}

// authorizeToken spends the bootstrap token and returns the identity it grants.
func (s *Server) authorizeToken(st *envState, tok string, now time.Time) (pki.LeafSpec, error) {
	if tok == "" {
		return pki.LeafSpec{}, refuse(http.StatusUnauthorized, "token_missing", "no bootstrap token")
	}
	rec, err := consumeToken(s.cfg.Dir, s.cfg.Env, tok, now)
	if err != nil {
		return pki.LeafSpec{}, err
	}
	dns, ips := pki.DefaultSANs(rec.Name, slices.Concat(st.hosts, rec.Hosts), nil, nil)
	return pki.LeafSpec{TrustDomain: st.td, Env: s.cfg.Env, Name: rec.Name, DNS: dns, IPs: ips, TTL: s.cfg.LeafTTL, Usage: pki.UsageDefault}, nil
}

// authorizeCert accepts a renewal for exactly the identity of the
// presented certificate: it must be current, chain to this environment's
// intermediates (checked again here, beyond the handshake), not be
// revoked, and name a workload of this trust domain and environment.
func (s *Server) authorizeCert(st *envState, cs *tls.ConnectionState, now time.Time) (pki.LeafSpec, error) {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return pki.LeafSpec{}, refuse(http.StatusUnauthorized, "no_client_cert", "renewal requires the current certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: st.pool, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return pki.LeafSpec{}, refuse(http.StatusUnauthorized, "expired", "certificate expired or not yet valid: %v", err)
		}
		return pki.LeafSpec{}, refuse(http.StatusUnauthorized, "unknown_issuer", "certificate does not chain to this environment: %v", err)
	}
	if st.revoked(leaf.SerialNumber) {
		return pki.LeafSpec{}, refuse(http.StatusForbidden, "revoked", "certificate serial %s is revoked", serialOf(leaf))
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return pki.LeafSpec{}, refuse(http.StatusForbidden, "identity", "%v", err)
	}
	switch {
	case id.TrustDomain != st.td || id.Env != s.cfg.Env:
		return pki.LeafSpec{}, refuse(http.StatusForbidden, "wrong_env", "%s is not in %s/%s", id, st.td, s.cfg.Env)
	case spiffeid.ValidateWorkloadName(id.Name) != nil:
		return pki.LeafSpec{}, refuse(http.StatusForbidden, "identity", "%s cannot be renewed here", id)
	}
	usage, ok := pki.UsageOf(leaf) // a renewal never widens the usage
	if !ok {
		return pki.LeafSpec{}, refuse(http.StatusForbidden, "identity", "%s carries no TLS usage", id)
	}
	dns, ips := pki.DefaultSANs(id.Name, st.hosts, leaf.DNSNames, leaf.IPAddresses)
	return pki.LeafSpec{TrustDomain: st.td, Env: s.cfg.Env, Name: id.Name, DNS: dns, IPs: ips, TTL: s.cfg.LeafTTL, Usage: usage}, nil
}

// refused logs and counts a refusal and answers it; internal errors get a
// generic answer.
func (s *Server) refused(w http.ResponseWriter, err error, from []any) {
	var rf *refusal
	if !errors.As(err, &rf) {
		rf = &refusal{reason: "internal", status: http.StatusInternalServerError, err: err}
	}
	s.m.refuse(s.cfg.Env, rf.reason)
	s.log.Warn("certificate request refused", append(from, "reason", rf.reason, "err", rf.err)...)
	msg := "refused"
	if rf.status == http.StatusInternalServerError {
		msg = "internal error"
	}
	writeJSON(w, rf.status, errorResponse{Error: msg, Reason: rf.reason})
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
