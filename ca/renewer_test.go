package ca

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"logsys/pki"
	"logsys/tlsx"
)

// startRenewer bootstraps name in dev and runs its Renewer until the test ends.
func startRenewer(t *testing.T, ctx context.Context, dir, caURL, name string, mod func(*RenewerConfig)) *Renewer {
	t.Helper()
	cfg := RenewerConfig{CAURL: caURL, Env: "dev", Name: name, Token: newToken(t, dir, "dev", name, nil),
		CABundle: pki.Layout{Dir: dir}.ChainFile("dev"), StateDir: t.TempDir(),
		TrustRefresh: 300 * time.Millisecond, RetryMin: 100 * time.Millisecond, Logger: testLogger(t)}
	if mod != nil {
		mod(&cfg)
	}
	r, err := NewRenewer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := r.Ensure(ectx); err != nil {
		t.Fatalf("ensure %s: %v", name, err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("renewer %s: %v", name, err)
		}
	})
	return r
}

// startSource loads the renewer's files into a reloading tlsx.Source.
func startSource(t *testing.T, ctx context.Context, r *Renewer) *tlsx.Source {
	t.Helper()
	sc := r.SourceConfig()
	sc.PollInterval = 200 * time.Millisecond
	sc.Debounce = 50 * time.Millisecond
	sc.Logger = testLogger(t)
	src, err := tlsx.NewSource(sc)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = src.Run(ctx) }()
	return src
}

// serials collects the certificates seen on one side of the connections.
type serials struct {
	mu   sync.Mutex
	seen map[string]*x509.Certificate
}

func (s *serials) add(c *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]*x509.Certificate{}
	}
	s.seen[serialOf(c)] = c
}

// count returns how many distinct certificates were seen, and how many
// of them issuer signed.
func (s *serials) count(issuer *x509.Certificate) (all, byIssuer int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.seen {
		all++
		if issuer != nil && c.CheckSignatureFrom(issuer) == nil {
			byIssuer++
		}
	}
	return all, byIssuer
}

func TestRenewerRotatesUnderLoadAcrossIntermediateRollover(t *testing.T) {
	t.Parallel()
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	_, caURL := startCA(t, dir, "dev", func(c *Config) {
		c.LeafTTL = 6 * time.Second
		c.PublishDelay = 1500 * time.Millisecond
		c.PollInterval = 100 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(newToken(t, dir, "dev", "gateway", nil)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	serverR := startRenewer(t, ctx, dir, caURL, "producer", nil)
	clientR := startRenewer(t, ctx, dir, caURL, "gateway", func(c *RenewerConfig) { c.Token, c.TokenFile = "", tokenFile })
	serverSrc, clientSrc := startSource(t, ctx, serverR), startSource(t, ctx, clientR)

	var fromServer, fromClient serials
	tcfg, err := tlsx.ServerConfig(serverSrc, tlsx.AuthorizeNames(testTD, "dev", "gateway"), tlsx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fromClient.add(r.TLS.PeerCertificates[0])
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = hs.Serve(tlsx.NewListener(ln, tcfg, nil, "test")) }()
	t.Cleanup(func() { _ = hs.Close() })
	dialer, err := tlsx.NewDialer(clientSrc, tlsx.AuthorizeNames(testTD, "dev", "producer"), tlsx.Options{}, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialTLSContext: dialer.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	target := "https://" + ln.Addr().String() + "/"

	var (
		requests, failures int
		next               *x509.Certificate // the next intermediate, once rotated
		deadline           = time.Now().Add(45 * time.Second)
	)
	for time.Now().Before(deadline) {
		requests++
		res, err := client.Get(target)
		if err == nil {
			_, err = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if err == nil && res.StatusCode != http.StatusOK {
				err = errors.New(res.Status)
			}
			if err == nil {
				fromServer.add(res.TLS.PeerCertificates[0])
			}
		}
		if err != nil {
			failures++
			t.Errorf("request %d failed: %v", requests, err)
		}
		srvAll, srvNew := fromServer.count(next)
		cliAll, cliNew := fromClient.count(next)
		if next == nil && srvAll >= 2 && cliAll >= 2 {
			// Mid-run: the operator rolls the dev intermediate over.
			if _, err := pki.Rotate(ctx, pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
				t.Fatalf("rotate intermediate: %v", err)
			}
			cur, err := pki.ReadCertificates(l.CACert("dev"))
			if err != nil {
				t.Fatal(err)
			}
			next = cur[0]
		}
		if next != nil && srvAll >= 4 && cliAll >= 4 && srvNew >= 2 && cliNew >= 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	srvAll, srvNew := fromServer.count(next)
	cliAll, cliNew := fromClient.count(next)
	t.Logf("%d requests, %d failed; server certificates %d (%d from the new intermediate), client certificates %d (%d)",
		requests, failures, srvAll, srvNew, cliAll, cliNew)
	if next == nil || srvAll < 4 || cliAll < 4 || srvNew < 2 || cliNew < 2 {
		t.Fatalf("not enough rotations before the deadline")
	}
	for _, r := range []*Renewer{serverR, clientR} {
		if err := r.Healthy(); err != nil {
			t.Errorf("renewer unhealthy after the run: %v", err)
		}
		if _, err := os.Stat(filepath.Join(r.cfg.StateDir, "dev", "bundle.pem")); err != nil {
			t.Errorf("the overlap bundle did not reach the role: %v", err)
		}
	}
}

func TestRenewerHealthGoesDownBeforeExpiryAndRecovers(t *testing.T) {
	t.Parallel()
	dir := newPKI(t)
	cfg := DefaultConfig()
	cfg.Dir, cfg.Env, cfg.LeafTTL, cfg.PollInterval, cfg.Logger = dir, "dev", 12*time.Second, 100*time.Millisecond, testLogger(t)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	caCtx, stopCA := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(caCtx, ln) }()

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r := startRenewer(t, ctx, dir, "https://"+addr, "producer", func(c *RenewerConfig) { c.RetryMax = 300 * time.Millisecond })
	first, _ := r.Status()

	stopCA()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "health DOWN", func() bool { return r.Healthy() != nil })
	notAfter, lastErr := r.Status()
	if lastErr == nil || !time.Now().Before(notAfter) {
		t.Fatalf("health went down with last error %v at %v, certificate NotAfter %v: want a failing renewal before expiry",
			lastErr, time.Now(), notAfter)
	}

	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, srv, ln2)
	eventually(t, 10*time.Second, "renewal after the CA returned", func() bool {
		na, err := r.Status()
		return err == nil && na.After(first) && r.Healthy() == nil
	})
}

func TestRenewerRefusesAnotherIdentity(t *testing.T) {
	dir := newPKI(t)
	_, caURL := startCA(t, dir, "dev", nil)
	state := t.TempDir()
	r, err := NewRenewer(RenewerConfig{CAURL: caURL, Env: "dev", Name: "producer", Token: newToken(t, dir, "dev", "gateway", nil),
		CABundle: pki.Layout{Dir: dir}.ChainFile("dev"), StateDir: state, RetryMin: 50 * time.Millisecond, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = r.Ensure(ctx)
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != "no_token" {
		t.Errorf("Ensure = %v, want a refusal once the only token was spent on a foreign identity", err)
	}
	if _, err := os.Stat(pki.Layout{Dir: state}.CertFile("dev", "producer")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a certificate was written for a foreign identity: %v", err)
	}
}
