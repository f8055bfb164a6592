package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/ca/wire"
	"logsys/internal/testpki"
	"logsys/pki"
	"logsys/tlsx"
)

// The attack tests in this file run over real TLS on loopback. Each makes
// one request (no retry loop, no waiting) and counts what got through.

// tamper rewrites a successful CA answer to path; req is the request body.
type tamper func(path string, req, resp []byte) []byte

// serveTampered serves srv's own TLS configuration and API on loopback,
// with answers rewritten by the current tamper (none while it is nil): a
// compromised CA, or one impersonated with the CA's own key.
func serveTampered(t *testing.T, srv *ca.Server, cur *atomic.Pointer[tamper]) string {
	t.Helper()
	inner := srv.Handler()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(req))
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if tp := cur.Load(); tp != nil && rec.Code == http.StatusOK {
			body = (*tp)(r.URL.Path, req, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
	return serveTLS(t, srv.TLSConfig(), h)
}

// serveTLS serves h with cfg on a loopback port until the test ends.
func serveTLS(t *testing.T, cfg *tls.Config, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = hs.Close(); <-done })
	return "https://" + ln.Addr().String()
}

// rewriteTrust applies mod to the trust bundle of a trust or issue answer.
func rewriteTrust(mod func(*wire.Trust)) tamper {
	return func(path string, _, resp []byte) []byte {
		if path == wire.PathTrust {
			var tr wire.Trust
			_ = json.Unmarshal(resp, &tr)
			mod(&tr)
			out, _ := json.Marshal(tr)
			return out
		}
		var ir wire.IssueResponse
		_ = json.Unmarshal(resp, &ir)
		mod(&ir.Trust)
		out, _ := json.Marshal(ir)
		return out
	}
}

// reissue replaces an issued certificate by what sign makes for the
// request's public key, and applies mod (if any) to the trust bundle.
func reissue(sign func(pub crypto.PublicKey) []byte, mod func(*wire.Trust)) tamper {
	return func(_ string, req, resp []byte) []byte {
		var in wire.IssueRequest
		_ = json.Unmarshal(req, &in)
		b, _ := pem.Decode([]byte(in.CSR))
		csr, err := x509.ParseCertificateRequest(b.Bytes)
		if err != nil {
			return resp
		}
		var ir wire.IssueResponse
		_ = json.Unmarshal(resp, &ir)
		ir.Certificate = string(sign(csr.PublicKey))
		if mod != nil {
			mod(&ir.Trust)
		}
		out, _ := json.Marshal(ir)
		return out
	}
}

// snapshot reads every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// anchorSerials lists the anchors a source trusts.
func anchorSerials(src *tlsx.Source) string {
	var s []string
	for _, ci := range src.Certificates() {
		if ci.Kind == tlsx.KindAnchor {
			s = append(s, ci.Serial)
		}
	}
	return strings.Join(s, ",")
}

func newKeyPair(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRefusesMaterialNotUnderThePinnedRoot: an enrolled role asks a CA
// that rewrites its answers (trust refreshes and renewals) with
// intermediates, chains, roots and CRLs of another root, and with
// certificates for the wrong key, identity or chain. Every answer is
// refused and counted under its reason; the source keeps serving the old
// certificate and anchors, and nothing reaches the state directory.
func TestRefusesMaterialNotUnderThePinnedRoot(t *testing.T) {
	dir := newPKI(t)
	srv := newCA(t, dir, nil)
	var cur atomic.Pointer[tamper]
	cfg := renewerConfig(t, nil, dir, "producer")
	cfg.CAURL = serveTampered(t, srv, &cur)
	r := newRenewer(t, cfg)
	src := ensure(t, r)
	ctx := context.Background()

	rogue := testpki.New(t, testpki.Options{TrustDomain: testTD, Envs: []string{"dev"}})
	rogueIss := rogue.Intermediate("dev")
	devIss := testpki.IssuerFromLayout(t, dir, "dev")
	producer := "spiffe://" + testTD + "/dev/producer"
	other := newKeyPair(t)

	tests := []struct {
		name   string
		renew  bool // attack a renewal rather than a trust refresh
		tamper tamper
		reason string
	}{
		{"bundle adds an intermediate of another root", false,
			rewriteTrust(func(tr *wire.Trust) { tr.Bundle = tr.CA + string(rogue.CAPEM("dev")) }), ReasonForeignRoot},
		{"current intermediate of another root, with its crl", false,
			rewriteTrust(func(tr *wire.Trust) { tr.CA, tr.CRL = string(rogue.CAPEM("dev")), string(rogue.CRLPEM("dev")) }), ReasonForeignRoot},
		{"bundle carries another root", false,
			rewriteTrust(func(tr *wire.Trust) { tr.Bundle = tr.CA + string(rogue.Root().PEM) }), ReasonForeignRoot},
		{"chain ends at another root", false,
			rewriteTrust(func(tr *wire.Trust) { tr.Chain = tr.CA + string(rogue.Root().PEM) }), ReasonForeignRoot},
		{"crl signed by an intermediate of another root", false,
			rewriteTrust(func(tr *wire.Trust) { tr.CRL += string(rogue.CRLPEM("dev")) }), ReasonCRL},
		{"no crl", false, rewriteTrust(func(tr *wire.Trust) { tr.CRL = "" }), ReasonCRL},
		{"a leaf in the bundle", false,
			rewriteTrust(func(tr *wire.Trust) { tr.Bundle = tr.CA + string(rogue.Leaf("dev", "ca").CertPEM) }), ReasonMalformed},
		{"renewal from an intermediate of another root, with its bundle", true,
			reissue(func(pub crypto.PublicKey) []byte { return signLeaf(t, rogueIss, pub, producer) }, func(tr *wire.Trust) {
				tr.CA, tr.Bundle, tr.CRL = string(rogue.CAPEM("dev")), "", string(rogue.CRLPEM("dev"))
			}), ReasonForeignRoot},
		{"renewal with a bad chain", true,
			reissue(func(pub crypto.PublicKey) []byte { return signLeaf(t, rogueIss, pub, producer) }, nil), ReasonChain},
		{"renewal for another key", true,
			reissue(func(crypto.PublicKey) []byte { return signLeaf(t, devIss, other.Public(), producer) }, nil), ReasonKey},
		{"renewal for another identity", true,
			reissue(func(pub crypto.PublicKey) []byte { return signLeaf(t, devIss, pub, "spiffe://"+testTD+"/dev/gateway") }, nil), ReasonIdentity},
		{"renewal for another trust domain", true,
			reissue(func(pub crypto.PublicKey) []byte {
				return signLeaf(t, devIss, pub, "spiffe://evil.example/dev/producer")
			}, nil), ReasonIdentity},
		{"renewal that is not a certificate", true,
			reissue(func(crypto.PublicKey) []byte { return []byte("garbage") }, nil), ReasonMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			leaf, anchors, files := src.Certificate().Leaf, anchorSerials(src), snapshot(t, cfg.StateDir)
			before := rejected(t, r, tc.reason)
			cur.Store(&tc.tamper)
			defer cur.Store(nil)
			var err error
			if tc.renew {
				err = r.obtain(ctx)
			} else {
				err = r.refreshTrust(ctx)
			}
			var re *RejectedError
			if !errors.As(err, &re) || re.Reason != tc.reason {
				t.Fatalf("got %v, want a refusal for %s", err, tc.reason)
			}
			if got := rejected(t, r, tc.reason); got != before+1 {
				t.Errorf("rejected{reason=%s} = %v, want %v", tc.reason, got, before+1)
			}
			if !src.Certificate().Leaf.Equal(leaf) || anchorSerials(src) != anchors {
				t.Errorf("the source changed: anchors %s, want %s", anchorSerials(src), anchors)
			}
			if got := snapshot(t, cfg.StateDir); len(got) != len(files) {
				t.Errorf("state directory changed: %d files, had %d", len(got), len(files))
			} else {
				for p, b := range files {
					if got[p] != b {
						t.Errorf("%s was rewritten", p)
					}
				}
			}
		})
	}
	// The honest CA still gets through.
	if err := r.obtain(ctx); err != nil {
		t.Fatalf("honest renewal after the attacks: %v", err)
	}
	if err := r.refreshTrust(ctx); err != nil {
		t.Fatalf("honest trust refresh after the attacks: %v", err)
	}
}

// TestRefusesAServerThatIsNotTheCA: a new role contacts servers that are
// not its environment's CA — `.../dev/ca` under a rogue intermediate (one
// with the same subject as ours included), a real dev leaf, the CA name in
// another trust domain or environment. Each handshake is refused and
// counted, the token is not spent and nothing is written; the real CA is
// accepted.
func TestRefusesAServerThatIsNotTheCA(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	srv := newCA(t, dir, nil)
	rogue := testpki.New(t, testpki.Options{TrustDomain: testTD, Envs: []string{"dev"}})
	devIss, prodIss := testpki.IssuerFromLayout(t, dir, "dev"), testpki.IssuerFromLayout(t, dir, "prod")
	lookalike := lookalikeIntermediate(t, devIss.Cert, rogue.Root())

	withKey := func(iss *testpki.Issuer, uri string) tls.Certificate {
		key := newKeyPair(t)
		c, err := tls.X509KeyPair(signLeaf(t, iss, key.Public(), uri), mustPEMKey(t, key))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	gateway, err := tls.LoadX509KeyPair(l.CertFile("dev", "gateway"), l.KeyFile("dev", "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	devCA := "spiffe://" + testTD + "/dev/ca"
	tests := []struct {
		name   string
		cert   tls.Certificate
		reason string // "" for the real CA
	}{
		{"dev/ca under a rogue root's intermediate", withKey(rogue.Intermediate("dev"), devCA), ReasonCAUntrusted},
		{"dev/ca under a rogue intermediate named like ours", withKey(lookalike, devCA), ReasonCAUntrusted},
		{"a dev leaf that is not the ca", gateway, ReasonCAIdentity},
		{"the ca name in another trust domain", withKey(devIss, "spiffe://evil.example/dev/ca"), ReasonCAIdentity},
		{"the prod ca", withKey(prodIss, "spiffe://"+testTD+"/prod/ca"), ReasonCAUntrusted},
		{"the real ca", tls.Certificate{}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tcfg := srv.TLSConfig()
			if tc.reason != "" {
				tcfg = &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{tc.cert}, NextProtos: []string{"http/1.1"}}
			}
			cfg := renewerConfig(t, nil, dir, "producer")
			cfg.CAURL = serveTLS(t, tcfg, srv.Handler()) // the real API behind a false identity
			r := newRenewer(t, cfg)
			err := r.obtain(context.Background())
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("the real ca was refused: %v", err)
				}
				return
			}
			var re *RejectedError
			if !errors.As(err, &re) || re.Reason != tc.reason {
				t.Fatalf("got %v, want a refusal for %s", err, tc.reason)
			}
			if got := rejected(t, r, tc.reason); got != 1 {
				t.Errorf("rejected{reason=%s} = %v, want 1", tc.reason, got)
			}
			if len(r.spent) != 0 {
				t.Error("the token was spent on a server that is not the ca")
			}
			if files := snapshot(t, cfg.StateDir); len(files) != 0 {
				t.Errorf("files written: %v", files)
			}
		})
	}
}

// lookalikeIntermediate copies the subject and constraints of ours onto a
// new key signed by root.
func lookalikeIntermediate(t *testing.T, ours *x509.Certificate, root *testpki.Issuer) *testpki.Issuer {
	t.Helper()
	key := newKeyPair(t)
	tmpl := *ours
	tmpl.PublicKey, tmpl.Signature, tmpl.Raw = nil, nil, nil
	tmpl.AuthorityKeyId = root.Cert.SubjectKeyId
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, root.Cert, key.Public(), root.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testpki.Issuer{Cert: c, Key: key, PEM: testpki.CertPEM(c)}
}

func mustPEMKey(t *testing.T, k crypto.Signer) []byte {
	t.Helper()
	b, err := testpki.KeyPEM(k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRefusesBadBundlesAndTamperedState: the pin is settled before any
// contact. A CA bundle with two roots, with an intermediate of another
// root, or with another root than the one already pinned is an error
// naming the file; a bundle without a root and no state cannot pin. A
// state directory whose ca.pem was replaced by a foreign intermediate is
// not loaded (and counted).
func TestRefusesBadBundlesAndTamperedState(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	rogue := testpki.New(t, testpki.Options{TrustDomain: testTD, Envs: []string{"dev"}})
	chain, err := os.ReadFile(l.ChainFile("dev"))
	if err != nil {
		t.Fatal(err)
	}
	intermediate, err := os.ReadFile(l.CACert("dev"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(data ...[]byte) string {
		p := filepath.Join(t.TempDir(), "bundle.pem")
		if err := os.WriteFile(p, bytes.Join(data, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, bundle, want string
	}{
		{"two roots", write(chain, rogue.Root().PEM), "two roots"},
		{"an intermediate of another root", write(chain, rogue.CAPEM("dev")), "not signed by the pinned root"},
		{"no root", write(intermediate), "no root to pin"},
		{"missing file", filepath.Join(t.TempDir(), "absent.pem"), "ca bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := renewerConfig(t, nil, dir, "producer")
			cfg.CABundle = tc.bundle
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}

	srv := newCA(t, dir, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln)
	cfg := renewerConfig(t, nil, dir, "producer")
	cfg.CAURL = "https://" + ln.Addr().String()
	ensure(t, newRenewer(t, cfg))
	sl := pki.Layout{Dir: cfg.StateDir}

	t.Run("another root than the pinned one", func(t *testing.T) {
		c := cfg
		c.CABundle, c.Registerer = write(rogue.ChainPEM("dev")), prometheus.NewRegistry()
		if _, err := New(c); err == nil || !strings.Contains(err.Error(), filepath.Join(sl.EnvDir("dev"), "root.pem")) {
			t.Fatalf("New = %v, want an error naming the pinned root file", err)
		}
	})
	t.Run("state with a foreign intermediate", func(t *testing.T) {
		if err := os.WriteFile(sl.CACert("dev"), rogue.CAPEM("dev"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := cfg
		c.Token, c.CABundle, c.Registerer = "", "", prometheus.NewRegistry()
		r := newRenewer(t, c)
		if got := rejected(t, r, ReasonForeignRoot); got != 1 {
			t.Errorf("rejected{reason=foreign_root} = %v, want 1", got)
		}
		if _, err := r.NewSource(tlsx.SourceConfig{Name: "producer"}); err == nil {
			t.Fatal("tampered state was loaded")
		}
	})
}

// TestCABundleIsReReadAndPinned: the CA bundle is read before each
// request. A role given a bundle from before a completed rollover (the CA
// now serves under the new intermediate only) cannot verify the CA; the
// updated bundle lets it bootstrap; a bundle later replaced by another
// root's chain is refused and counted, and the intermediates read before
// stay.
func TestCABundleIsReReadAndPinned(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	srv := newCA(t, dir, func(c *ca.Config) { c.PublishDelay = 0 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, srv, ln)
	bundle := filepath.Join(t.TempDir(), "ca-chain.pem")
	copyFile := func(from string) {
		t.Helper()
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bundle, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(l.ChainFile("dev"))
	ctx := context.Background()
	prev := testpki.IssuerFromLayout(t, dir, "dev").Cert
	if _, err := pki.Rotate(ctx, pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.RetirePrevious(ctx, pki.RetireOptions{Dir: dir, Env: "dev", Previous: prev}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg := renewerConfig(t, nil, dir, "producer")
	cfg.CAURL, cfg.CABundle = "https://"+ln.Addr().String(), bundle
	r := newRenewer(t, cfg)
	if err := r.obtain(ctx); err == nil {
		t.Fatal("verified a CA signed by an intermediate it never saw")
	}
	copyFile(l.ChainFile("dev"))
	if err := r.obtain(ctx); err != nil {
		t.Fatalf("bootstrap with the updated bundle: %v", err)
	}
	src, err := r.NewSource(tlsx.SourceConfig{Name: "producer", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	next := testpki.IssuerFromLayout(t, dir, "dev").Cert
	if err := src.Certificate().Leaf.CheckSignatureFrom(next); err != nil {
		t.Fatalf("the source does not serve a certificate of the new intermediate: %v", err)
	}

	rogue := testpki.New(t, testpki.Options{TrustDomain: testTD, Envs: []string{"dev"}})
	if err := os.WriteFile(bundle, rogue.ChainPEM("dev"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := rejected(t, r, ReasonForeignRoot)
	if err := r.obtain(ctx); err != nil {
		t.Fatalf("renewal with a replaced bundle (the trust bundle still verifies the CA): %v", err)
	}
	if got := rejected(t, r, ReasonForeignRoot); got != before+1 {
		t.Errorf("rejected{reason=foreign_root} = %v, want %v", got, before+1)
	}
	for _, a := range r.anchors() {
		if a.Equal(rogue.Intermediate("dev").Cert) {
			t.Fatal("the replaced bundle's intermediate became an anchor")
		}
	}
}
