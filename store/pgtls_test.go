package store

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

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

// TestPostgresPoolMovesToRotatedCertificate rotates the client certificate
// while the pool holds an idle and a busy connection: neither presents the
// old certificate for another query. The idle one is replaced before it
// is handed out, the busy one is closed when released.
func TestPostgresPoolMovesToRotatedCertificate(t *testing.T) {
	cfg := pgConfig(t)
	u, err := url.Parse(cfg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	certFile := u.Query().Get("sslcert")
	if certFile == "" {
		t.Skip("SKIPPED: the DSN names no client certificate")
	}
	name := filepath.Base(filepath.Dir(certFile))
	env := filepath.Base(filepath.Dir(filepath.Dir(certFile)))
	dir := filepath.Dir(filepath.Dir(filepath.Dir(certFile)))
	ctx := context.Background()
	cfg.MaxConns = 4
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pool := s.(*pgStore).pool
	serialOf := func(q interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) (serial string, pid int32) {
		t.Helper()
		if err := q.QueryRow(ctx, "SELECT client_serial::text, pg_backend_pid() FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&serial, &pid); err != nil {
			t.Fatalf("read the connection's client serial: %v", err)
		}
		return serial, pid
	}
	oldSerial, _ := serialOf(pool) // leaves an idle connection
	busy, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := serialOf(busy); got != oldSerial {
		t.Fatalf("busy connection presents %s, want %s", got, oldSerial)
	}
	_, busyPID := serialOf(busy)

	if _, err := pki.Rotate(ctx, pki.RotateOptions{Dir: dir, Env: env, Name: name}); err != nil {
		t.Fatalf("rotate %s/%s: %v", env, name, err)
	}
	kp := s.(*pgStore).certs
	kp.mu.Lock()
	kp.checkEvery = 0 // look at the files on every acquire (no waiting in the test)
	kp.mu.Unlock()

	for i := range 3 {
		if got, pid := serialOf(pool); got == oldSerial || pid == busyPID {
			t.Fatalf("query %d after the rotation ran on a connection with the old certificate (serial %s, pid %d)", i, got, pid)
		}
	}
	busy.Release()
	for i := range 4 {
		if got, pid := serialOf(pool); got == oldSerial || pid == busyPID {
			t.Fatalf("query %d after releasing the busy connection ran with the old certificate (serial %s, pid %d)", i, got, pid)
		}
	}
}
