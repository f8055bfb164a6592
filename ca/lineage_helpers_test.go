package ca

import (
	"bytes"
	"context"
	"crypto"
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
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"logsys/pki"
	"logsys/tlsx"
)

// enrollee obtains certificates from one CA with plain HTTP requests,
// safe for use by several goroutines (nothing here calls t.Fatal).
type enrollee struct {
	url  string
	pool *x509.CertPool
}

func newEnrollee(t *testing.T, caURL, dir, env string) *enrollee {
	t.Helper()
	inter, err := pki.ReadCertificates(pki.Layout{Dir: dir}.CACert(env))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(inter[0])
	return &enrollee{url: caURL, pool: pool}
}

// refusedErr is an answer other than 200.
type refusedErr struct {
	status int
	reason string
}

func (e *refusedErr) Error() string { return fmt.Sprintf("refused: %d %s", e.status, e.reason) }

// obtain asks for a certificate for a new key: a bootstrap with tok, or a
// renewal presenting cur.
func (e *enrollee) obtain(tok string, cur *tls.Certificate) (*tls.Certificate, error) {
	key, err := newKeyErr()
	if err != nil {
		return nil, err
	}
	csr, err := csrFor(key)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: e.pool}
	path := PathBootstrap
	if cur != nil {
		path = PathRenew
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cur, nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	body, _ := json.Marshal(issueRequest{Token: tok, CSR: csr})
	res, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Post(e.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		var er errorResponse
		_ = json.Unmarshal(data, &er)
		return nil, &refusedErr{status: res.StatusCode, reason: er.Reason}
	}
	var ir issueResponse
	if err := json.Unmarshal(data, &ir); err != nil {
		return nil, err
	}
	certs, err := parseCerts([]byte(ir.Certificate))
	if err != nil {
		return nil, err
	}
	out := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, c := range certs {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// mustObtain is obtain for the test's goroutine.
func (e *enrollee) mustObtain(t *testing.T, tok string, cur *tls.Certificate) *tls.Certificate {
	t.Helper()
	c, err := e.obtain(tok, cur)
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	return c
}

// renewRefused checks that renewing with cur is refused as revoked.
func (e *enrollee) renewRefused(cur *tls.Certificate) error {
	_, err := e.obtain("", cur)
	var re *refusedErr
	switch {
	case err == nil:
		return errors.New("renewed")
	case !errors.As(err, &re):
		return err
	case re.status != http.StatusForbidden || re.reason != string(ReasonRevoked):
		return fmt.Errorf("refused %d %s, want 403 revoked", re.status, re.reason)
	}
	return nil
}

// gateway is a real tlsx server of env loading the PKI directory's
// files (the leaf `producer`, the environment's intermediate and CRL) and
// admitting any member of the environment: what a role would do.
type gateway struct {
	src  *tlsx.Source
	addr string
	pool *x509.CertPool
}

func startGateway(t *testing.T, dir, env string) *gateway {
	t.Helper()
	cfg := tlsx.LayoutSource(dir, env, "producer")
	cfg.Logger = testLogger(t)
	src, err := tlsx.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tlsx.ServerConfig(src, tlsx.AuthorizeMemberOf(testTD, env), tlsx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() == nil {
					_, _ = io.WriteString(c, "ok\n")
				}
			}()
		}
	}()
	return &gateway{src: src, addr: ln.Addr().String(), pool: src.Anchors()}
}

// admits reports whether a handshake presenting cert gets through to the
// application.
func (g *gateway) admits(cert *tls.Certificate) bool {
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", g.addr, &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: g.pool, ServerName: "localhost",
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }})
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 3)
	_, err = io.ReadFull(c, buf)
	return err == nil && string(buf) == "ok\n"
}

// ledgerRecords reads env's ledger file as it is on disk.
func ledgerRecords(t *testing.T, dir, env string) []Record {
	t.Helper()
	ix, _, err := ReadLedger(dir, env)
	if err != nil {
		t.Fatal(err)
	}
	return ix.Records()
}

func serial(c *tls.Certificate) string { return pki.FormatSerial(c.Leaf.SerialNumber) }

func appendRaw(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.WriteString(f, text); err != nil {
		t.Fatal(err)
	}
}

func newKeyErr() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func csrFor(key crypto.Signer) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "anything"}}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// newPKIWith initialises dev and prod with the given leaf names.
func newPKIWith(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, TrustDomain: testTD,
		Envs: []string{"dev", "prod"}, Names: names}); err != nil {
		t.Fatalf("pki init: %v", err)
	}
	return dir
}

// loadFileLeaf reads the leaf of name from the PKI directory.
func loadFileLeaf(t *testing.T, dir, env, name string) *tls.Certificate {
	t.Helper()
	certs, key, err := pki.ReadLeaf(pki.Layout{Dir: dir}, env, name)
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, x := range certs {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}
