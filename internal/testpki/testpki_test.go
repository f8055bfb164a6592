package testpki_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/pki"
)

func TestLeafChainsToItsEnvOnly(t *testing.T) {
	ca := testpki.New(t, testpki.Options{Envs: []string{"dev", "staging"}})
	l := ca.Leaf("dev", "gateway")
	if l.ID != "spiffe://logsys.local/dev/gateway" {
		t.Fatalf("ID = %q", l.ID)
	}
	if len(l.Cert.URIs) != 1 || l.Cert.URIs[0].String() != l.ID {
		t.Fatalf("URI SANs = %v", l.Cert.URIs)
	}
	if err := l.Cert.VerifyHostname("gateway"); err != nil {
		t.Fatal(err)
	}
	if err := l.Cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := l.Cert.VerifyHostname("::1"); err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool("dev"), CurrentTime: ca.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := l.Cert.Verify(opts); err != nil {
		t.Fatalf("dev leaf against dev anchors: %v", err)
	}
	opts.Roots = ca.Pool("staging")
	if _, err := l.Cert.Verify(opts); !errors.As(err, &x509.UnknownAuthorityError{}) {
		t.Fatalf("dev leaf against staging anchors: got %v, want unknown authority", err)
	}
	opts.Roots = ca.RootPool()
	opts.Intermediates = x509.NewCertPool()
	opts.Intermediates.AddCert(l.Chain[1])
	if _, err := l.Cert.Verify(opts); err != nil {
		t.Fatalf("dev leaf against root: %v", err)
	}
}

func TestLeafOptions(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ca := testpki.New(t, testpki.Options{Now: now})
	tests := []struct {
		name        string
		opts        []testpki.LeafOption
		valid       bool
		checkKey    func(any) bool
		wantNotAftr time.Time
	}{
		{"default", nil, true, isECDSA, now.Add(testpki.DefaultLeafTTL)},
		{"ttl", []testpki.LeafOption{testpki.ValidFor(3 * time.Hour)}, true, isECDSA, now.Add(3 * time.Hour)},
		{"expired", []testpki.LeafOption{testpki.Expired()}, false, isECDSA, now.Add(-time.Hour)},
		{"not yet valid", []testpki.LeafOption{testpki.NotYetValid()}, false, isECDSA, now.Add(25 * time.Hour)},
		{"ed25519", []testpki.LeafOption{testpki.WithKeyType(testpki.Ed25519)}, true, isEd25519, now.Add(testpki.DefaultLeafTTL)},
		{"rsa", []testpki.LeafOption{testpki.WithKeyType(testpki.RSA2048)}, true, isRSA, now.Add(testpki.DefaultLeafTTL)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := ca.Leaf("dev", "svc", tc.opts...)
			if !l.Cert.NotAfter.Equal(tc.wantNotAftr) {
				t.Errorf("NotAfter = %v, want %v", l.Cert.NotAfter, tc.wantNotAftr)
			}
			if !tc.checkKey(l.Key) {
				t.Errorf("key type %T", l.Key)
			}
			_, err := l.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool("dev"), CurrentTime: now})
			if (err == nil) != tc.valid {
				t.Errorf("verify err = %v, want valid=%v", err, tc.valid)
			}
			pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
			if err != nil {
				t.Fatalf("pem pair: %v", err)
			}
			if len(pair.Certificate) != 2 {
				t.Errorf("cert.pem holds %d certs, want leaf+intermediate", len(pair.Certificate))
			}
		})
	}
}

func isECDSA(k any) bool   { _, ok := k.(*ecdsa.PrivateKey); return ok }
func isEd25519(k any) bool { _, ok := k.(ed25519.PrivateKey); return ok }
func isRSA(k any) bool     { _, ok := k.(*rsa.PrivateKey); return ok }

func TestCRLListsRevokedSerials(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	a, b := ca.Leaf("dev", "a"), ca.Leaf("dev", "b")
	ca.Revoke("dev", a.Serial)
	block, _ := pem.Decode(ca.CRLPEM("dev"))
	if block == nil || block.Type != "X509 CRL" {
		t.Fatal("CRLPEM is not a PEM CRL")
	}
	crl, err := x509.ParseRevocationList(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(ca.Intermediate("dev").Cert); err != nil {
		t.Fatalf("crl signature: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(a.Serial) != 0 {
		t.Fatalf("revoked = %v, want only %v (not %v)", crl.RevokedCertificateEntries, a.Serial, b.Serial)
	}
}

func TestRolloverBundle(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	old := ca.Intermediate("dev")
	next := ca.RolloverIntermediate("dev")
	if ca.Intermediate("dev") != next || old == next {
		t.Fatal("rollover did not switch the current intermediate")
	}
	if got := countCerts(t, ca.BundlePEM("dev")); got != 3 {
		t.Fatalf("bundle holds %d certs, want 3", got)
	}
	if l := ca.Leaf("dev", "x"); l.Chain[1] != next.Cert {
		t.Fatal("new leaf not issued by the next intermediate")
	}
	ca.DropIntermediate("dev")
	if got := countCerts(t, ca.BundlePEM("dev")); got != 2 {
		t.Fatalf("bundle after drop holds %d certs, want 2", got)
	}
}

func TestWriteLayout(t *testing.T) {
	ca := testpki.New(t, testpki.Options{Envs: []string{"dev", "prod"}})
	ca.Leaf("dev", "gateway")
	ca.Leaf("prod", "producer")
	dir := t.TempDir()
	ca.WriteLayout(dir)
	f := testpki.Paths(dir, "dev", "gateway")
	for _, p := range []string{f.CA, f.Chain, f.CRL, f.Cert, f.Key, testpki.Paths(dir, "prod", "producer").Key} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if _, err := os.Stat(f.Bundle); !os.IsNotExist(err) {
		t.Errorf("bundle.pem written without a rollover: %v", err)
	}
	st, err := os.Stat(f.Key)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := tls.LoadX509KeyPair(f.Cert, f.Key); err != nil {
		t.Errorf("load pair: %v", err)
	}
	if got := countCerts(t, mustRead(t, f.Chain)); got != 2 {
		t.Errorf("ca-chain.pem holds %d certs, want 2", got)
	}
	ca.RolloverIntermediate("dev")
	ca.WriteEnv(dir, "dev")
	if got := countCerts(t, mustRead(t, f.Bundle)); got != 3 {
		t.Errorf("bundle.pem holds %d certs, want 3", got)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func countCerts(t *testing.T, data []byte) int {
	t.Helper()
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return n
		}
		if b.Type != "CERTIFICATE" {
			t.Fatalf("unexpected PEM block %q", b.Type)
		}
		n++
	}
}

// TestSignWithAForeignIssuer: SignWith signs with an issuer read from a
// `logsys pki init` layout, for a public key the test does not hold.
func TestSignWithAForeignIssuer(t *testing.T) {
	dir := t.TempDir()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: []string{"dev"}, Names: []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	iss := testpki.IssuerFromLayout(t, dir, "dev")
	other := testpki.New(t, testpki.Options{}).Leaf("dev", "other")
	l := testpki.SignWith(t, iss, "dev", "client", testpki.WithPublicKey(other.Key.Public()), testpki.WithURI("spiffe://logsys.local/dev/%63lient"))
	if err := l.Cert.CheckSignatureFrom(iss.Cert); err != nil {
		t.Fatalf("not signed by the layout's intermediate: %v", err)
	}
	if l.Key != nil || l.KeyPEM != nil || l.TLS.PrivateKey != nil {
		t.Fatal("a leaf for a foreign public key carries a private key")
	}
	if !other.Key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(l.Cert.PublicKey) {
		t.Fatal("the leaf does not certify the given public key")
	}
	if l.ID != "spiffe://logsys.local/dev/%63lient" || len(l.Cert.URIs) != 1 {
		t.Fatalf("URI SAN %v, id %q", l.Cert.URIs, l.ID)
	}
}
