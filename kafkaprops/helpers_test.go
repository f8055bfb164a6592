package kafkaprops

import (
	"context"
	"crypto"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"logsys/pki"
)

// newPKI initialises a small PKI at a fixed time and returns its directory.
func newPKI(t *testing.T, envs, names []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	t0 := time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: envs, Names: names, Now: func() time.Time { return t0 }}); err != nil {
		t.Fatalf("init: %v", err)
	}
	return dir
}

// interopPKI is initialised at the real time so external tools, which
// use the wall clock, accept it.
func interopPKI(t *testing.T, names []string) (string, pki.Layout) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: []string{"dev", "prod"}, Names: names}); err != nil {
		t.Fatal(err)
	}
	return dir, pki.Layout{Dir: dir}
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := pki.ReadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func keyMatches(c *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(c.PublicKey)
}
