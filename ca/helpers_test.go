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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/pki"
)

const testTD = "logsys.local"

// newPKI initialises a PKI with dev and prod in a temporary directory.
func newPKI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, TrustDomain: testTD,
		Envs: []string{"dev", "prod"}, Names: []string{"producer"}}); err != nil {
		t.Fatalf("pki init: %v", err)
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startCA serves a CA for env of dir on a loopback port until the test ends.
func startCA(t *testing.T, dir, env string, mod func(*Config)) (*Server, string) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir, cfg.Env = dir, env
	cfg.PollInterval = 200 * time.Millisecond
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Logger = testLogger(t)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("new ca: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return srv, serveOn(t, srv, ln)
}

// serveOn runs srv on ln until the test ends (or the returned stop is used
// through t.Cleanup) and returns the CA URL.
func serveOn(t *testing.T, srv *Server, ln net.Listener) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ca serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String()
}

// csrPEM makes a CSR for key asking for far more than any CA may grant.
func csrPEM(t *testing.T, key crypto.Signer) string {
	t.Helper()
	evil, _ := url.Parse("spiffe://" + testTD + "/prod/gateway")
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"evil"}},
		DNSNames:    []string{"evil.example", "gateway"},
		IPAddresses: []net.IP{net.ParseIP("10.9.9.9")},
		URIs:        []*url.URL{evil},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// rawClient talks to the CA like a hand-written client would: it trusts
// the intermediates of anchorFile and presents cert when non-nil.
type rawClient struct {
	t      *testing.T
	url    string
	pool   *x509.CertPool
	cert   *tls.Certificate
	result *issueResponse
}

func newRawClient(t *testing.T, caURL, anchorFile string, cert *tls.Certificate) *rawClient {
	t.Helper()
	data, err := os.ReadFile(anchorFile)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		if c.IsCA && !bytes.Equal(c.RawSubject, c.RawIssuer) { // intermediates only: roots would admit other envs
			pool.AddCert(c)
		}
	}
	return &rawClient{t: t, url: caURL, pool: pool, cert: cert}
}

// post sends req to path and returns the HTTP status and refusal reason;
// on success c.result holds the answer.
func (c *rawClient) post(path string, req issueRequest) (int, string, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.pool}
	if c.cert != nil {
		// Present the certificate even when the server does not list its
		// issuer as acceptable, as a hostile client would.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return c.cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	body, _ := json.Marshal(req)
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(c.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var e errorResponse
		if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
			return res.StatusCode, "", err
		}
		return res.StatusCode, e.Reason, nil
	}
	c.result = &issueResponse{}
	if err := json.NewDecoder(res.Body).Decode(c.result); err != nil {
		return res.StatusCode, "", err
	}
	return res.StatusCode, "", nil
}

// issued parses the last answer into a tls.Certificate for key.
func (c *rawClient) issued(key crypto.Signer) *tls.Certificate {
	c.t.Helper()
	if c.result == nil {
		c.t.Fatal("no certificate was issued")
	}
	certs, err := parseCerts([]byte(c.result.Certificate))
	if err != nil {
		c.t.Fatal(err)
	}
	tc := &tls.Certificate{PrivateKey: key, Leaf: certs[0]}
	for _, x := range certs {
		tc.Certificate = append(tc.Certificate, x.Raw)
	}
	return tc
}

// parseCerts parses every PEM certificate of data.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

func newToken(t *testing.T, dir, env, name string, mod func(*TokenOptions)) string {
	t.Helper()
	o := TokenOptions{Dir: dir, Env: env, Name: name, TTL: 15 * time.Minute}
	if mod != nil {
		mod(&o)
	}
	tok, _, err := NewToken(o)
	if err != nil {
		t.Fatalf("new token: %v", err)
	}
	return tok
}

func readDirFiles(dir string) (map[string][]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, e := range entries {
		p := dir + "/" + e.Name()
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out[p] = b
	}
	return out, nil
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
