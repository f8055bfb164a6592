package pki

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"logsys/internal/testutil"
)

// trustedAnchor writes env's intermediate as an OpenSSL "TRUSTED
// CERTIFICATE" trusted for TLS server and client authentication, the
// recipe docs/security.md gives for OpenSSL-based clients.
func trustedAnchor(t *testing.T, openssl string, l Layout, env string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), env+"-anchor.pem")
	if o, err := testutil.RunTool(t, openssl, "x509", "-in", l.CACert(env), "-addtrust", "serverAuth", "-addtrust", "clientAuth", "-out", out); err != nil {
		t.Fatalf("openssl x509 -addtrust: %v\n%s", err, o)
	}
	return out
}

// TestOpenSSLPinning states, with openssl itself, what docs/security.md
// says OpenSSL-based clients can and cannot pin.
func TestOpenSSLPinning(t *testing.T) {
	openssl := testutil.NeedTool(t, "openssl")
	_, l := interopPKI(t, []string{"gateway"}) // dev and prod
	devLeaf := l.CertFile("dev", "gateway")    // leaf then dev intermediate
	verify := func(args ...string) (string, bool) {
		out, err := testutil.RunTool(t, openssl, append([]string{"verify", "-purpose", "sslserver", "-untrusted", devLeaf}, append(args, devLeaf)...)...)
		return out, err == nil && strings.Contains(out, ": OK")
	}
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"intermediate alone is no anchor without partial chain", []string{"-CAfile", l.CACert("dev")}, false},
		{"partial chain makes it one", []string{"-partial_chain", "-CAfile", l.CACert("dev")}, true},
		{"prod ca-chain.pem accepts a dev server: the shared root", []string{"-CAfile", l.ChainFile("prod")}, true},
		{"dev trusted anchor accepts the dev server", []string{"-CAfile", trustedAnchor(t, openssl, l, "dev")}, true},
		{"prod trusted anchor refuses the dev server", []string{"-CAfile", trustedAnchor(t, openssl, l, "prod")}, false},
	}
	for _, tt := range tests {
		if out, ok := verify(tt.args...); ok != tt.ok {
			t.Errorf("%s: verified=%v, want %v\n%s", tt.name, ok, tt.ok, out)
		}
	}
}

// fakePostgres answers libpq's SSLRequest, completes the TLS handshake
// with the dev gateway's certificate and replies with a FATAL error that
// proves the handshake succeeded.
func fakePostgres(t *testing.T, l Layout) string {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(l.CertFile("dev", "gateway"), l.KeyFile("dev", "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				if _, err := io.ReadFull(c, make([]byte, 8)); err != nil { // SSLRequest
					return
				}
				if _, err := c.Write([]byte("S")); err != nil {
					return
				}
				tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
				hdr := make([]byte, 4)
				if _, err := io.ReadFull(tc, hdr); err != nil { // startup message
					return
				}
				_, _ = io.CopyN(io.Discard, tc, int64(binary.BigEndian.Uint32(hdr))-4)
				msg := []byte("SFATAL\x00Mhandshake ok\x00\x00")
				out := append([]byte{'E', 0, 0, 0, 0}, msg...)
				binary.BigEndian.PutUint32(out[1:5], uint32(len(msg)+4))
				_, _ = tc.Write(out)
			}(c)
		}
	}()
	return ln.Addr().String()
}

// TestLibpqPinning connects psql (libpq, OpenSSL) with sslmode=verify-full
// to a server holding a dev certificate, once per sslrootcert.
func TestLibpqPinning(t *testing.T) {
	psql := testutil.NeedTool(t, "psql")
	openssl := testutil.NeedTool(t, "openssl")
	_, l := interopPKI(t, []string{"gateway"})
	_, port, err := net.SplitHostPort(fakePostgres(t, l))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, rootcert string
		ok             bool
	}{
		{"dev ca.pem: libpq sets no partial chain", l.CACert("dev"), false},
		{"prod ca-chain.pem accepts dev: the shared root", l.ChainFile("prod"), true},
		{"dev trusted anchor", trustedAnchor(t, openssl, l, "dev"), true},
		{"prod trusted anchor refuses dev", trustedAnchor(t, openssl, l, "prod"), false},
	}
	for _, tt := range tests {
		conn := "host=localhost port=" + port + " user=probe dbname=probe connect_timeout=10 sslmode=verify-full sslrootcert=" + tt.rootcert
		out, _ := testutil.RunTool(t, psql, "-X", "-w", conn, "-c", "select 1")
		handshook := strings.Contains(out, "handshake ok")
		if handshook != tt.ok || (!tt.ok && !strings.Contains(out, "certificate verify failed")) {
			t.Errorf("%s: handshake=%v, want %v\n%s", tt.name, handshook, tt.ok, out)
		}
	}
}
