//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// bareCmd serves the bare handler: the physical limit of Go's net/http
// and crypto/tls on this machine. TLS 1.3, a client certificate verified
// against the environment's intermediate; the handler reads the body and
// answers 202.
func bareCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	pki := fs.String("pki", "", "PKI directory (`logsys pki init`)")
	env := fs.String("env", "dev", "PKI environment")
	name := fs.String("name", "gateway", "identity whose certificate the server presents")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir := filepath.Join(*pki, *env)
	tc, err := bareTLS(filepath.Join(dir, *name, "cert.pem"), filepath.Join(dir, *name, "key.pem"), filepath.Join(dir, "ca.pem"))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("bare: listen: %w", err)
	}
	srv := newBareServer(tc)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bare: %w", err)
	}
	return nil
}

// bareTLS is crypto/tls with nothing added: TLS 1.3 and a verified
// client certificate.
func bareTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bare: load certificate: %w", err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("bare: read trust anchor: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("bare: no certificate in %s", caFile)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}, nil
}

func newBareServer(tc *tls.Config) *http.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"accepted":1}`+"\n")
	})
	return &http.Server{Handler: h, TLSConfig: tc, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
}
