package ca

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"logsys/spiffeid"
)

// RefusedError is a request the CA answered with a refusal.
type RefusedError struct {
	Status int
	Reason string // e.g. token_used, token_expired, revoked, wrong_env
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("ca refused the request: %s (HTTP %d)", e.Reason, e.Status)
}

func refused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re) && re.Status < 500
}

// obtain gets a new certificate for a new key: by renewal with the
// current certificate when it is valid, else (or when the renewal is
// refused) with the bootstrap token. The outcome is recorded and logged.
func (r *Renewer) obtain(ctx context.Context) error {
	err := r.obtainOnce(ctx)
	r.record(err)
	if err != nil {
		r.log.Warn("certificate renewal failed", "err", err, "retry_in", time.Until(r.retryAtOrNow()).Round(time.Millisecond))
	}
	return err
}

func (r *Renewer) retryAtOrNow() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.retryAt
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
	method := MethodRenew
	var resp issueResponse
	if r.valid(r.cfg.Now()) {
		err = r.call(ctx, http.MethodPost, PathRenew, issueRequest{CSR: csr}, true, &resp)
		if err == nil || !refused(err) {
			return r.accept(resp, key, method, err)
		}
		r.log.Warn("renewal refused; trying the bootstrap token", "err", err)
	}
	tok, err := r.token()
	if err != nil {
		return err
	}
	method = MethodBootstrap
	err = r.call(ctx, http.MethodPost, PathBootstrap, issueRequest{Token: tok, CSR: csr}, false, &resp)
	if err == nil || refused(err) {
		r.mu.Lock()
		r.spent[tokenHash(tok)] = true // spent either way: the CA claims a token before checking it
		r.mu.Unlock()
	}
	return r.accept(resp, key, method, err)
}

// accept checks and writes an issued certificate.
func (r *Renewer) accept(resp issueResponse, key *ecdsa.PrivateKey, method string, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	cert, err := r.checkIssued(resp, key)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	if err := r.writeState(resp.Trust, cert, key); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	r.install(cert)
	r.log.Info("certificate obtained", "method", method, "serial", serialOf(cert.Leaf),
		"not_after", cert.Leaf.NotAfter, "issuer", cert.Leaf.Issuer.CommonName)
	return nil
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

// refreshTrust fetches the trust bundle. When it still validates our
// certificate it is written; otherwise (our intermediate left the
// bundle) a renewal is due at once, which writes it.
func (r *Renewer) refreshTrust(ctx context.Context) error {
	var t Trust
	if err := r.call(ctx, http.MethodGet, PathTrust, nil, true, &t); err != nil {
		r.log.Warn("trust bundle refresh failed", "err", err)
		return err
	}
	r.mu.Lock()
	cert := r.cert
	r.mu.Unlock()
	if cert == nil {
		return nil
	}
	if err := checkTrust(t, cert); err != nil {
		r.log.Info("trust bundle no longer covers our certificate; renewing now", "err", err)
		r.mu.Lock()
		r.renewAt = r.cfg.Now()
		r.mu.Unlock()
		return nil
	}
	return r.writeTrust(t, nil)
}

// call sends one JSON request to the CA over TLS 1.3, verifying that the
// server is spiffe://<td>/<env>/ca of our environment, and decodes the
// answer into out. withCert presents the current certificate.
func (r *Renewer) call(ctx context.Context, method, path string, in any, withCert bool, out any) error {
	anchors, err := r.anchorPool()
	if err != nil {
		return err
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    anchors,
		NextProtos: []string{"http/1.1"},
		Time:       r.cfg.Now,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if withCert && r.valid(r.cfg.Now()) {
				r.mu.Lock()
				defer r.mu.Unlock()
				return r.cert, nil
			}
			return &tls.Certificate{}, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := spiffeid.FromCert(cs.PeerCertificates[0])
			if err != nil {
				return fmt.Errorf("ca server identity: %w", err)
			}
			if id.Env != r.cfg.Env || id.Name != CAName {
				return fmt.Errorf("ca server identity %s: want <td>/%s/%s", id, r.cfg.Env, CAName)
			}
			return nil
		},
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, TLSHandshakeTimeout: 10 * time.Second}
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
		return fmt.Errorf("ca request %s: %w", path, err)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode != http.StatusOK {
		var e errorResponse
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
