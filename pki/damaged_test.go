package pki

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"logsys/internal/testutil"
)

// TestDamagedFiles puts each malformed input of testdata in place of a PKI
// file and expects init to fail with an error naming that file.
func TestDamagedFiles(t *testing.T) {
	tests := []struct {
		testdata string
		target   func(Layout) string
	}{
		{"truncated-cert.pem", func(l Layout) string { return l.CertFile("dev", "gateway") }},
		{"trailing-garbage-cert.pem", func(l Layout) string { return l.CertFile("dev", "gateway") }},
		{"private-key-in-cert-file.pem", func(l Layout) string { return l.CertFile("dev", "gateway") }},
		{"empty.pem", func(l Layout) string { return l.CertFile("dev", "gateway") }},
		{"not-pem.pem", func(l Layout) string { return l.CACert("dev") }},
		{"bad-base64-cert.pem", func(l Layout) string { return l.RootCert() }},
		{"bad-der-cert.pem", func(l Layout) string { return l.CertFile("dev", "client") }},
		{"truncated-key.pem", func(l Layout) string { return l.KeyFile("dev", "gateway") }},
		{"sec1-key-not-pkcs8.pem", func(l Layout) string { return l.CAKey("dev") }},
		{"empty.pem", func(l Layout) string { return l.CRLFile("dev") }},
		{"not-pem.pem", func(l Layout) string { return l.MetaFile() }},
	}
	for _, tt := range tests {
		t.Run(tt.testdata, func(t *testing.T) {
			dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
			target := tt.target(Layout{Dir: dir})
			testutil.CopyFile(t, filepath.Join("testdata", tt.testdata), target)
			_, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(t0)})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("init error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), target) {
				t.Fatalf("error %q does not name %s", err, target)
			}
		})
	}
}

// TestForeignFiles covers files that parse but do not belong where they are.
func TestForeignFiles(t *testing.T) {
	tests := []struct {
		name    string
		break_  func(t *testing.T, l Layout)
		want    error
		culprit func(Layout) string
	}{
		{"key of another leaf", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.KeyFile("dev", "client"), l.KeyFile("dev", "gateway"))
		}, ErrKeyMismatch, func(l Layout) string { return l.KeyFile("dev", "gateway") }},
		{"leaf of another env", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.CertFile("prod", "gateway"), l.CertFile("dev", "gateway"))
			testutil.CopyFile(t, l.KeyFile("prod", "gateway"), l.KeyFile("dev", "gateway"))
		}, ErrWrongEnv, func(l Layout) string { return l.CertFile("dev", "gateway") }},
		{"intermediate of another env", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.CACert("prod"), l.CACert("dev"))
		}, ErrWrongEnv, func(l Layout) string { return l.CACert("dev") }},
		{"intermediate key of another env", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.CAKey("prod"), l.CAKey("dev"))
		}, ErrKeyMismatch, func(l Layout) string { return l.CAKey("dev") }},
		{"root key swapped", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.CAKey("prod"), l.RootKey())
		}, ErrKeyMismatch, func(l Layout) string { return l.RootKey() }},
		{"crl of another env", func(t *testing.T, l Layout) {
			testutil.CopyFile(t, l.CRLFile("prod"), l.CRLFile("dev"))
		}, ErrWrongIssuer, func(l Layout) string { return l.CRLFile("dev") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newPKI(t, []string{"dev", "prod"}, []string{"gateway", "client"})
			l := Layout{Dir: dir}
			tt.break_(t, l)
			_, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(t0)})
			if !errors.Is(err, tt.want) {
				t.Fatalf("init error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.culprit(l)) {
				t.Fatalf("error %q does not name %s", err, tt.culprit(l))
			}
		})
	}
}

func TestReadCertificatesMissingFile(t *testing.T) {
	_, err := ReadCertificates(filepath.Join(t.TempDir(), "nope.pem"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error = %v, want not-exist", err)
	}
}
