package pki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
)

// interopPKI is initialised at the real time so external tools, which
// use the wall clock, accept it.
func interopPKI(t *testing.T, names []string) (string, Layout) {
	t.Helper()
	dir := t.TempDir() + "/pki"
	if _, err := Init(context.Background(), InitOptions{Dir: dir, Envs: []string{"dev", "prod"}, Names: names}); err != nil {
		t.Fatal(err)
	}
	return dir, Layout{Dir: dir}
}

func TestOpenSSLVerify(t *testing.T) {
	openssl := testutil.NeedTool(t, "openssl")
	names := []string{"gateway", "producer", "client"}
	dir, l := interopPKI(t, names)
	for _, env := range []string{"dev", "prod"} {
		for _, name := range names {
			out, err := testutil.RunTool(t, openssl, "verify", "-CAfile", l.ChainFile(env), "-crl_check", "-CRLfile", l.CRLFile(env), l.CertFile(env, name))
			if err != nil || !strings.Contains(out, ": OK") {
				t.Errorf("openssl verify %s/%s: %v\n%s", env, name, err, out)
			}
		}
	}
	if _, err := Revoke(context.Background(), RevokeOptions{Dir: dir, Env: "dev", Name: "producer"}); err != nil {
		t.Fatal(err)
	}
	out, err := testutil.RunTool(t, openssl, "verify", "-CAfile", l.ChainFile("dev"), "-crl_check", "-CRLfile", l.CRLFile("dev"), l.CertFile("dev", "producer"))
	if err == nil || !strings.Contains(out, "revoked") {
		t.Fatalf("openssl accepted a revoked leaf: %v\n%s", err, out)
	}
	out, err = testutil.RunTool(t, openssl, "verify", "-CAfile", l.ChainFile("dev"), "-crl_check", "-CRLfile", l.CRLFile("dev"), l.CertFile("dev", "gateway"))
	if err != nil {
		t.Fatalf("openssl rejected an unrevoked leaf after a revocation: %v\n%s", err, out)
	}
}

func TestOpenSSLPKCS12(t *testing.T) {
	openssl := testutil.NeedTool(t, "openssl")
	_, l := interopPKI(t, []string{"gateway", "client"})
	for _, name := range []string{"gateway", "client"} {
		for _, f := range []string{l.KeystoreP12("dev", name), l.TruststoreP12("dev", name)} {
			out, err := testutil.RunTool(t, openssl, "pkcs12", "-info", "-noout", "-in", f, "-passin", "file:"+l.PassFile("dev", name))
			if err != nil || !strings.Contains(out, "AES-256-CBC") {
				t.Errorf("openssl pkcs12 %s: %v\n%s", f, err, out)
			}
		}
	}
}

func TestKeytoolList(t *testing.T) {
	keytool := testutil.NeedTool(t, "keytool")
	_, l := interopPKI(t, []string{"gateway", "client"})
	for _, env := range []string{"dev", "prod"} {
		for _, name := range []string{"gateway", "client"} {
			pass, err := readPassword(l, l.PassFile(env, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []struct {
				path, kind, want string
				entries          int
			}{
				{l.KeystoreJKS(env, name), "JKS", "PrivateKeyEntry", 1},
				{l.KeystoreP12(env, name), "PKCS12", "PrivateKeyEntry", 1},
				// Only the environment's intermediate: never the shared root.
				{l.TruststoreJKS(env, name), "JKS", "trustedCertEntry", 1},
				{l.TruststoreP12(env, name), "PKCS12", "trustedCertEntry", 1},
			} {
				out, err := testutil.RunTool(t, keytool, "-list", "-keystore", f.path, "-storetype", f.kind, "-storepass", pass)
				if err != nil || strings.Count(out, f.want) != f.entries {
					t.Errorf("keytool -list %s: %v\n%s", f.path, err, out)
				}
			}
		}
	}
}

// tlsConfigs builds a server and a client config from the files of two
// leaves; each side trusts only its own environment's intermediate.
func tlsPair(t *testing.T, l Layout, srvEnv, srvName, cliEnv, cliName string) (*tls.Config, *tls.Config) {
	t.Helper()
	load := func(env, name string) (tls.Certificate, *x509.CertPool) {
		kp, err := tls.LoadX509KeyPair(l.CertFile(env, name), l.KeyFile(env, name))
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(mustCert(t, l.CACert(env)))
		return kp, pool
	}
	sCert, sPool := load(srvEnv, srvName)
	cCert, cPool := load(cliEnv, cliName)
	srv := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{sCert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: sPool}
	cli := &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{cCert}, RootCAs: cPool, ServerName: srvName}
	return srv, cli
}

func handshake(t *testing.T, srv, cli *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		done <- c.(*tls.Conn).Handshake()
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), cli)
	if err == nil {
		// TLS 1.3 client auth failures surface on the first read.
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil
		}
		if err != nil && strings.Contains(err.Error(), "EOF") {
			err = nil
		}
		conn.Close()
	}
	return <-done, err
}

func TestTLSHandshake(t *testing.T) {
	_, l := interopPKI(t, []string{"gateway", "producer", "client"})
	tests := []struct {
		name            string
		srvEnv, srvName string
		cliEnv, cliName string
		rejectedBy      string // "", "server" or "client"
	}{
		{"same env", "dev", "producer", "dev", "gateway", ""},
		{"client-only cert", "dev", "gateway", "dev", "client", ""},
		{"client from other env", "dev", "producer", "prod", "gateway", "server"},
		{"server from other env", "prod", "producer", "dev", "gateway", "client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, cli := tlsPair(t, l, tt.srvEnv, tt.srvName, tt.cliEnv, tt.cliName)
			if tt.rejectedBy == "server" {
				// Let the client accept the server so the server's own
				// environment check is what is tested.
				cli.RootCAs = x509.NewCertPool()
				cli.RootCAs.AddCert(mustCert(t, l.CACert(tt.srvEnv)))
				// Go's client only offers a certificate the server's CA
				// list accepts; a hostile client offers it anyway.
				own := cli.Certificates[0]
				cli.Certificates = nil
				cli.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &own, nil }
			}
			sErr, cErr := handshake(t, srv, cli)
			var ce *tls.CertificateVerificationError
			switch tt.rejectedBy {
			case "":
				if sErr != nil || cErr != nil {
					t.Fatalf("handshake failed: server %v, client %v", sErr, cErr)
				}
			case "server":
				if !errors.As(sErr, &ce) {
					t.Fatalf("server did not reject the client certificate: server %v, client %v", sErr, cErr)
				}
			case "client":
				if !errors.As(cErr, &ce) {
					t.Fatalf("client did not reject the server certificate: server %v, client %v", sErr, cErr)
				}
			}
		})
	}
}
