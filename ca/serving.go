package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"logsys/pki"
)

// serving is the CA's own certificate and the TLS configuration derived
// from it and one envState.
type serving struct {
	st      *envState
	renewAt time.Time
	cfg     *tls.Config
}

// TLSConfig returns the listener configuration: TLS 1.3, the CA's own
// certificate (identity spiffe://<td>/<env>/ca, signed in memory by the
// previous intermediate while there is one, else the current one, and
// renewed at 2/3 of its lifetime) and
// VerifyClientCertIfGiven with the environment's intermediates as client
// anchors. A client certificate is thus optional at the TLS layer (the
// bootstrap needs none) but, when presented, must chain to this
// environment; the renewal handler then requires one and checks the CRL.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			sv, err := s.currentServing(s.cfg.Now())
			if err != nil {
				return nil, err
			}
			return sv.cfg, nil
		},
	}
}

// currentServing returns the serving configuration, re-issuing the CA's
// certificate when the state changed or it is due for renewal.
func (s *Server) currentServing(now time.Time) (*serving, error) {
	st := s.st.Load()
	if sv := s.serving.Load(); sv != nil && sv.st == st && now.Before(sv.renewAt) {
		return sv, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st = s.st.Load()
	if sv := s.serving.Load(); sv != nil && sv.st == st && now.Before(sv.renewAt) {
		return sv, nil
	}
	if sv := s.serving.Load(); sv != nil && sv.st.caSigner.Cert().Equal(st.caSigner.Cert()) && now.Before(sv.renewAt) {
		// Same signer: keep the certificate, take the new anchors and CRLs.
		next := &serving{st: st, renewAt: sv.renewAt, cfg: s.serverTLS(st, sv.cfg.Certificates[0])}
		s.serving.Store(next)
		return next, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca serving key: %w", err)
	}
	dns, ips := pki.DefaultSANs(CAName, slices.Concat(st.hosts, s.cfg.Hosts), nil, nil)
	spec := pki.LeafSpec{TrustDomain: st.td, Env: s.cfg.Env, DNS: dns, IPs: ips, TTL: s.cfg.LeafTTL}
	cert, err := st.caSigner.SignCAServer(now, spec, key.Public())
	if err != nil {
		return nil, fmt.Errorf("ca serving certificate: %w", err)
	}
	tc := tls.Certificate{Certificate: [][]byte{cert.Raw, st.caSigner.Cert().Raw}, PrivateKey: key, Leaf: cert}
	life := cert.NotAfter.Sub(cert.NotBefore)
	sv := &serving{st: st, renewAt: cert.NotBefore.Add(time.Duration(float64(life) * pki.RenewFraction)), cfg: s.serverTLS(st, tc)}
	s.serving.Store(sv)
	s.log.Debug("ca serving certificate issued", "serial", serialOf(cert), "not_after", cert.NotAfter)
	return sv, nil
}

func (s *Server) serverTLS(st *envState, cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    st.pool,
		NextProtos:   []string{"http/1.1"},
		Time:         s.cfg.Now,
	}
}

// serialOf prints a serial as pki inspect and the ledger do.
func serialOf(c *x509.Certificate) string { return pki.FormatSerial(c.SerialNumber) }
