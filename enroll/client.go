package enroll

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"logsys/ca/wire"
	"logsys/spiffeid"
)

// maxResponse bounds what is read of a CA answer.
const maxResponse = 1 << 20

// RefusedError is a request the CA answered with a refusal.
type RefusedError struct {
	Status int
	Reason string // e.g. token_used, token_expired, revoked, wrong_env; no_token when none is left
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("ca refused the request: %s (HTTP %d)", e.Reason, e.Status)
}

// refused reports a definitive refusal, not worth retrying.
func refused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re) && re.Status < 500
}

// obtain gets a new certificate for a new key: by renewal with the
// current certificate when it is valid, else (or when the renewal is
// refused) with the bootstrap token. The outcome is recorded, counted and
// logged.
func (r *Renewer) obtain(ctx context.Context) error {
	err := r.obtainOnce(ctx)
	r.record(err)
	if err != nil {
		r.count(err)
		r.log.Warn("certificate renewal failed", "err", err, "retry_in", r.nextRenewal(r.cfg.Now()).Sub(r.cfg.Now()).Round(time.Millisecond))
	}
	return err
}

func (r *Renewer) obtainOnce(ctx context.Context) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.cfg.Name}}, key)
	if err != nil {
		return fmt.Errorf("create csr: %w", err)
	}
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	var resp wire.IssueResponse
	if r.valid(r.cfg.Now()) {
		rep := r.report()
		err = r.call(ctx, http.MethodPost, wire.PathRenew, wire.IssueRequest{CSR: csr, Report: rep}, true, &resp)
		if err == nil {
			r.reportedOK(rep)
		}
		if err == nil || !refused(err) {
			return r.accept(resp, key, methodRenew, err)
		}
		r.log.Warn("renewal refused; trying the bootstrap token", "err", err)
	}
	tok, err := r.token()
	if err != nil {
		return err
	}
	err = r.call(ctx, http.MethodPost, wire.PathBootstrap, wire.IssueRequest{Token: tok, CSR: csr}, false, &resp)
	if err == nil || refused(err) {
		r.mu.Lock()
		r.spent[tokenHash(tok)] = true // spent either way: the CA claims a token before checking it
		r.mu.Unlock()
	}
	return r.accept(resp, key, methodBootstrap, err)
}

// accept checks an issued certificate, pushes it into the sources, then
// writes it to the state directory and makes it current.
func (r *Renewer) accept(resp wire.IssueResponse, key *ecdsa.PrivateKey, method string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	h, err := r.checkIssued(resp, key)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := r.push(h); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	r.install(h)
	r.m.certificates.WithLabelValues(method).Inc()
	r.log.Info("certificate obtained", "method", method, "serial", serialOf(h.cert.Leaf),
		"not_after", h.cert.Leaf.NotAfter, "issuer", h.cert.Leaf.Issuer.CommonName)
	if err := r.writeState(h); err != nil {
		// In use already; only a restart would miss it. Retried with backoff.
		return fmt.Errorf("%s: save state for restarts: %w", method, err)
	}
	return nil
}

// checkIssued validates an issue response before anything is used:
// parseable, our key, exactly our identity, and a chain to a trust bundle
// that itself passes the pin.
func (r *Renewer) checkIssued(resp wire.IssueResponse, key *ecdsa.PrivateKey) (*held, error) {
	certs, err := parseCerts([]byte(resp.Certificate))
	if err != nil {
		return nil, reject(ReasonMalformed, "issued certificate: %v", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	h := &held{certPEM: encodeCerts(certs), keyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), trust: resp.Trust}
	if h.cert, err = r.pair(h.certPEM, h.keyPEM); err != nil {
		return nil, fmt.Errorf("issued certificate: %w", err)
	}
	if h.anchors, err = r.pin.verifyTrust(resp.Trust); err != nil {
		return nil, err
	}
	if err := covers(h.anchors, h.cert); err != nil {
		return nil, err
	}
	return h, nil
}

// pair checks that the certificate belongs to the key and carries
// exactly our identity.
func (r *Renewer) pair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	tc, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, reject(ReasonKey, "%v", err)
	}
	if tc.Leaf == nil {
		if tc.Leaf, err = x509.ParseCertificate(tc.Certificate[0]); err != nil {
			return nil, reject(ReasonMalformed, "%v", err)
		}
	}
	id, err := spiffeid.FromCert(tc.Leaf)
	if err != nil {
		return nil, reject(ReasonIdentity, "%v", err)
	}
	if id != r.want {
		return nil, reject(ReasonIdentity, "certificate identity %s is not %s", id, r.want)
	}
	return &tc, nil
}

// token returns an unspent bootstrap token from Token or TokenFile.
func (r *Renewer) token() (string, error) {
	var cands []string
	if r.cfg.TokenFile != "" {
		data, err := os.ReadFile(r.cfg.TokenFile)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read token file: %w", err)
		}
		cands = append(cands, strings.TrimSpace(string(data)))
	}
	cands = append(cands, strings.TrimSpace(r.cfg.Token))
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range cands {
		if t != "" && !r.spent[tokenHash(t)] {
			return t, nil
		}
	}
	return "", &RefusedError{Status: http.StatusUnauthorized, Reason: "no_token"}
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// refreshTrust fetches the trust bundle: with a valid certificate by
// POST, reporting what the sources hold, else by GET. A bundle that fails
// the pin is refused and counted. One that still covers our certificate
// is pushed and written; otherwise (our intermediate left the bundle) a
// renewal is due at once, which brings both.
func (r *Renewer) refreshTrust(ctx context.Context) error {
	var t wire.Trust
	var err error
	if rep := r.report(); rep != nil && r.valid(r.cfg.Now()) {
		err = r.call(ctx, http.MethodPost, wire.PathTrust, wire.TrustRequest{Report: *rep}, true, &t)
		if err == nil {
			r.reportedOK(rep)
		}
	} else {
		err = r.call(ctx, http.MethodGet, wire.PathTrust, nil, true, &t)
	}
	var anchors []*x509.Certificate
	if err == nil {
		anchors, err = r.pin.verifyTrust(t)
	}
	if err != nil {
		r.count(err)
		r.log.Warn("trust bundle refresh failed; keeping the current bundle", "err", err)
		return err
	}
	r.mu.Lock()
	cur := r.cur
	r.mu.Unlock()
	if cur == nil {
		return nil
	}
	if err := covers(anchors, cur.cert); err != nil {
		r.log.Info("trust bundle no longer covers our certificate; renewing now", "err", err)
		r.mu.Lock()
		r.renewAt = r.cfg.Now()
		r.mu.Unlock()
		return nil
	}
	next := &held{cert: cur.cert, certPEM: cur.certPEM, keyPEM: cur.keyPEM, trust: t, anchors: anchors}
	if err := r.push(next); err != nil {
		r.count(err)
		r.log.Warn("trust bundle refused by the tls source; keeping the current bundle", "err", err)
		return err
	}
	r.mu.Lock()
	if r.cur == cur { // not replaced by a renewal meanwhile
		r.cur = next
	}
	r.mu.Unlock()
	return r.writeTrust(t, nil)
}

// call sends one JSON request to the CA over TLS 1.3 and decodes the
// answer into out. The server must chain to the pinned root through an
// intermediate we accept, and be spiffe://<td>/<env>/ca. withCert
// presents the current certificate.
func (r *Renewer) call(ctx context.Context, method, path string, in any, withCert bool, out any) error {
	anchors := r.anchors()
	if len(anchors) == 0 {
		return errors.New("no intermediates to verify the ca (set the ca bundle)")
	}
	pool := x509.NewCertPool()
	for _, a := range anchors {
		pool.AddCert(a)
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    pool,
		NextProtos: []string{"http/1.1"},
		Time:       r.cfg.Now,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			now := r.cfg.Now()
			r.mu.Lock()
			defer r.mu.Unlock()
			if withCert && r.cur != nil && !now.Before(r.cur.cert.Leaf.NotBefore) && now.Before(r.cur.cert.Leaf.NotAfter) {
				return r.cur.cert, nil
			}
			return &tls.Certificate{}, nil // none: an expired one would fail the handshake
		},
		VerifyConnection: func(cs tls.ConnectionState) error { return r.verifyCA(cs, anchors) },
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, TLSHandshakeTimeout: 10 * time.Second, DialContext: r.cfg.DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: r.cfg.Timeout}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.cfg.CAURL, "/")+path, body)
	if err != nil {
		return fmt.Errorf("ca request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		var ve *tls.CertificateVerificationError
		if errors.As(err, &ve) {
			return &RejectedError{Reason: ReasonCAUntrusted, Err: fmt.Errorf("ca request %s: %w", path, err)}
		}
		return fmt.Errorf("ca request %s: %w", path, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(io.LimitReader(res.Body, maxResponse))
	if res.StatusCode != http.StatusOK {
		var e wire.ErrorResponse
		_ = dec.Decode(&e)
		if e.Reason == "" {
			e.Reason = http.StatusText(res.StatusCode)
		}
		return &RefusedError{Status: res.StatusCode, Reason: e.Reason}
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("ca response %s: %w", path, err)
	}
	return nil
}

// anchors verify the CA: the intermediates of the current trust bundle,
// and those of CABundle, re-read each time (the ones read before stay when
// it has become unreadable or fails the pin).
func (r *Renewer) anchors() []*x509.Certificate {
	if r.cfg.CABundle != "" {
		inter, err := r.readBundle()
		if err != nil {
			r.count(err)
			r.log.Warn("ca bundle unusable; keeping the intermediates read before", "err", err)
		}
		r.mu.Lock()
		if err == nil {
			r.bootstrap = inter
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]*x509.Certificate(nil), r.bootstrap...)
	if r.cur != nil {
		out = append(out, r.cur.anchors...)
	}
	return out
}

// verifyCA runs after Go verified the server's chain against anchors:
// the chain must also reach the pinned root, and the server must be
// exactly spiffe://<td>/<env>/ca.
func (r *Renewer) verifyCA(cs tls.ConnectionState, anchors []*x509.Certificate) error {
	leaf := cs.PeerCertificates[0]
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(r.pin.root)
	for _, c := range slices.Concat(anchors, cs.PeerCertificates[1:]) {
		if r.pin.check(c) == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: r.cfg.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return reject(ReasonCAUntrusted, "ca server certificate does not chain to the pinned root: %v", err)
	}
	id, err := spiffeid.FromCert(leaf)
	if err != nil {
		return reject(ReasonCAIdentity, "ca server identity: %v", err)
	}
	if want := (spiffeid.ID{TrustDomain: r.want.TrustDomain, Env: r.want.Env, Name: wire.CAName}); id != want {
		return reject(ReasonCAIdentity, "ca server identity %s, want %s", id, want)
	}
	return nil
}
