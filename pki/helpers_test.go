package pki

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"
)

// t0 is the fixed start of every test clock.
var t0 = time.Date(2030, 1, 15, 12, 0, 0, 0, time.UTC)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// newPKI initialises a small PKI at t0 and returns its directory.
func newPKI(t *testing.T, envs, names []string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := Init(context.Background(), InitOptions{Dir: dir, Envs: envs, Names: names, Now: at(t0)}); err != nil {
		t.Fatalf("init: %v", err)
	}
	return dir
}

func mustCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := ReadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func runInit(t *testing.T, dir string, now time.Time) Report {
	t.Helper()
	r, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(now)})
	if err != nil {
		t.Fatalf("init at %v: %v", now, err)
	}
	return r
}
