package store

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"logsys/pki"
)

// TestPostgresClientCertificateReloads rotates the client certificate on
// disk: the next connection presents the new one, without reopening the
// store.
func TestPostgresClientCertificateReloads(t *testing.T) {
	cfg := pgConfig(t)
	u, err := url.Parse(cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	certFile := u.Query().Get("sslcert")
	if certFile == "" {
		t.Skip("SKIPPED: the DSN names no client certificate")
	}
	// DIR/<env>/<name>/cert.pem
	name := filepath.Base(filepath.Dir(certFile))
	env := filepath.Base(filepath.Dir(filepath.Dir(certFile)))
	dir := filepath.Dir(filepath.Dir(filepath.Dir(certFile)))
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := s.(*pgStore).pool
	serialInUse := func() string {
		pool.Reset() // drop idle connections: the next query dials anew
		var serial string
		if err := pool.QueryRow(ctx, "SELECT client_serial::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&serial); err != nil {
			t.Fatalf("read the connection's client serial: %v", err)
		}
		return serial
	}
	fileSerial := func() string {
		data, err := os.ReadFile(certFile)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber.String()
	}
	if got, want := serialInUse(), fileSerial(); got != want {
		t.Fatalf("connection presents serial %s, file holds %s", got, want)
	}
	if _, err := pki.Rotate(ctx, pki.RotateOptions{Dir: dir, Env: env, Name: name}); err != nil {
		t.Fatalf("rotate %s/%s: %v", env, name, err)
	}
	if got, want := serialInUse(), fileSerial(); got != want {
		t.Fatalf("after rotation the connection presents serial %s, the file holds %s", got, want)
	}
}
