package tlsx_test

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

const failures = "logsys_tls_handshake_failures_total"

func mustServerConfig(t testing.TB, src *tlsx.Source, authz tlsx.Authorizer, opts tlsx.Options) *tls.Config {
	t.Helper()
	cfg, err := tlsx.ServerConfig(src, authz, opts)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func mustDialer(t testing.TB, f *fixture, src *tlsx.Source, authz tlsx.Authorizer, opts tlsx.Options, name string) *tlsx.Dialer {
	t.Helper()
	d, err := tlsx.NewDialer(src, authz, opts, f.m, name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMutualTLSHandshake(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	gateway := f.source("dev", "gateway")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeNames(td, "dev", "gateway"), tlsx.Options{}), "producer")
	d := mustDialer(t, f, gateway, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, "gateway->producer")

	line, cs, err := call(d, addr)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if want := "spiffe://logsys.local/dev/gateway"; !strings.HasPrefix(line, want+" ") {
		t.Errorf("server saw %q, want %s", line, want)
	}
	if cs.Version != tls.VersionTLS13 {
		t.Errorf("version %#x, want TLS 1.3", cs.Version)
	}
	if got := cs.PeerCertificates[0].URIs[0].String(); got != "spiffe://logsys.local/dev/producer" {
		t.Errorf("client saw server %s", got)
	}
	waitMetric(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "server", "listener": "producer", "resumed": "false"}, 1)
	waitMetric(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "client", "listener": "gateway->producer", "resumed": "false"}, 1)
	waitMetric(t, f.reg, failures, map[string]string{"listener": "producer"}, 0)
}

// TestServerRefusals presents bad client certificates to a dev producer
// that accepts only the dev gateway, and checks each refusal's reason.
func TestServerRefusals(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeNames(td, "dev", "gateway"), tlsx.Options{}), "producer")
	pool := f.ca.Pool("dev")

	revoked := f.ca.Leaf("dev", "gateway")
	f.ca.Revoke("dev", revoked.Serial)
	f.ca.WriteEnv(f.dir, "dev")
	if err := producer.Reload(); err != nil {
		t.Fatalf("reload crl: %v", err)
	}

	tests := []struct {
		name   string
		client *tls.Config
		want   tlsx.Reason
	}{
		{"no certificate", &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}, tlsx.ReasonNoCert},
		{"staging gateway", f.ca.Leaf("staging", "gateway").ClientConfig(pool, "localhost"), tlsx.ReasonUnknownCA},
		{"expired gateway", f.ca.Leaf("dev", "gateway", testpki.Expired()).ClientConfig(pool, "localhost"), tlsx.ReasonExpired},
		{"not yet valid gateway", f.ca.Leaf("dev", "gateway", testpki.NotYetValid()).ClientConfig(pool, "localhost"), tlsx.ReasonExpired},
		{"revoked gateway", revoked.ClientConfig(pool, "localhost"), tlsx.ReasonRevoked},
		{"consumer is not allowed", f.ca.Leaf("dev", "consumer").ClientConfig(pool, "localhost"), tlsx.ReasonUnauthorized},
		{"dev-signed cert claiming staging", f.ca.Leaf("dev", "gateway", testpki.WithURI("spiffe://logsys.local/staging/gateway")).ClientConfig(pool, "localhost"), tlsx.ReasonUnauthorized},
		{"other trust domain", f.ca.Leaf("dev", "gateway", testpki.WithURI("spiffe://evil.example/dev/gateway")).ClientConfig(pool, "localhost"), tlsx.ReasonUnauthorized},
		{"no spiffe id", f.ca.Leaf("dev", "gateway", testpki.NoURI()).ClientConfig(pool, "localhost"), tlsx.ReasonUnauthorized},
		{"tls 1.2 client", tls12Client(f.ca.Leaf("dev", "gateway"), pool), tlsx.ReasonProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"side": "server", "listener": "producer", "reason": string(tc.want)}
			before := testutil.MetricValue(t, f.reg, failures, labels)
			if line, _, err := callRaw(tc.client, addr); err == nil {
				t.Fatalf("accepted, server answered %q", line)
			}
			waitMetric(t, f.reg, failures, labels, before+1)
		})
	}
	// A valid gateway still gets in afterwards.
	if _, _, err := callRaw(f.ca.Leaf("dev", "gateway").ClientConfig(pool, "localhost"), addr); err != nil {
		t.Fatalf("valid gateway refused: %v", err)
	}
	waitMetric(t, f.reg, failures, map[string]string{"side": "server", "listener": "producer", "reason": "other"}, 0)
}

func tls12Client(l *testpki.Leaf, pool *x509.CertPool) *tls.Config {
	c := l.ClientConfig(pool, "localhost")
	c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	return c
}

// TestClientRefusals dials servers a dev gateway must not trust.
func TestClientRefusals(t *testing.T) {
	f := newFixture(t)
	gateway := f.source("dev", "gateway")

	revokedProducer := f.ca.Leaf("dev", "producer")
	f.ca.Revoke("dev", revokedProducer.Serial)
	f.ca.WriteEnv(f.dir, "dev")
	if err := gateway.Reload(); err != nil {
		t.Fatalf("reload crl: %v", err)
	}
	server := func(l *testpki.Leaf, maxVersion uint16) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{l.TLS}, MinVersion: tls.VersionTLS12, MaxVersion: maxVersion}
	}
	tests := []struct {
		name   string
		server *tls.Config
		want   tlsx.Reason
	}{
		{"staging producer", server(f.ca.Leaf("staging", "producer"), 0), tlsx.ReasonUnknownCA},
		{"expired producer", server(f.ca.Leaf("dev", "producer", testpki.Expired()), 0), tlsx.ReasonExpired},
		{"revoked producer", server(revokedProducer, 0), tlsx.ReasonRevoked},
		{"consumer posing as producer", server(f.ca.Leaf("dev", "consumer"), 0), tlsx.ReasonUnauthorized},
		{"wrong host name", server(f.ca.Leaf("dev", "producer", testpki.WithDNS("producer"), testpki.WithIPs()), 0), tlsx.ReasonUnauthorized},
		{"tls 1.2 only server", server(f.ca.Leaf("dev", "producer"), tls.VersionTLS12), tlsx.ReasonProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "gateway->" + strings.ReplaceAll(tc.name, " ", "_")
			d := mustDialer(t, f, gateway, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, name)
			addr := serveRaw(t, tc.server)
			if _, _, err := call(d, addr); err == nil {
				t.Fatal("dial succeeded")
			}
			labels := map[string]string{"side": "client", "listener": name}
			for _, r := range []tlsx.Reason{tlsx.ReasonNoCert, tlsx.ReasonUnknownCA, tlsx.ReasonExpired, tlsx.ReasonRevoked, tlsx.ReasonUnauthorized, tlsx.ReasonProtocol, tlsx.ReasonOther} {
				labels["reason"] = string(r)
				want := 0.0
				if r == tc.want {
					want = 1
				}
				if got := testutil.MetricValue(t, f.reg, failures, labels); got != want {
					t.Errorf("failures{reason=%s} = %v, want %v", r, got, want)
				}
			}
		})
	}
}

func TestSessionResumption(t *testing.T) {
	for _, opts := range []tlsx.Options{{}, {KeyExchange: tlsx.KeyExchangeX25519}} {
		f := newFixture(t)
		producer := f.source("dev", "producer")
		addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeAny(), opts), "producer")
		d := mustDialer(t, f, f.source("dev", "gateway"), tlsx.AuthorizeAny(), opts, "gw")
		for i, wantResumed := range []bool{false, true, true} {
			_, cs, err := call(d, addr)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if cs.DidResume != wantResumed || cs.Version != tls.VersionTLS13 {
				t.Fatalf("call %d: resumed=%v version=%#x, want resumed=%v on TLS 1.3", i, cs.DidResume, cs.Version, wantResumed)
			}
		}
		waitMetric(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "client", "resumed": "true"}, 2)
		waitMetric(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "server", "resumed": "true"}, 2)
	}
}

func TestTLS12OnlyWhenConfigured(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	gw := f.ca.Leaf("dev", "gateway")
	pool := f.ca.Pool("dev")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeAny(), tlsx.Options{MinVersion: tls.VersionTLS12}), "producer12")

	c := gw.ClientConfig(pool, "localhost")
	c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	_, cs, err := callRaw(c, addr)
	if err != nil {
		t.Fatalf("tls 1.2 client refused by a server allowing 1.2: %v", err)
	}
	if cs.Version != tls.VersionTLS12 || cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 && cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 && cs.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Fatalf("negotiated %s %s", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))
	}

	cbc := gw.ClientConfig(pool, "localhost")
	cbc.MinVersion, cbc.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
	cbc.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	labels := map[string]string{"listener": "producer12", "reason": "protocol"}
	if _, _, err := callRaw(cbc, addr); err == nil {
		t.Fatal("CBC suite accepted")
	}
	waitMetric(t, f.reg, failures, labels, 1)

	if _, err := tlsx.ServerConfig(producer, tlsx.AuthorizeAny(), tlsx.Options{MinVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 accepted as minimum version")
	}
}

// TestRootIsNeverAnAnchor points the server at ca-chain.pem, which also
// holds the shared root: a staging client chaining to that root must still
// be refused as an unknown CA, not merely by the identity check.
func TestRootIsNeverAnAnchor(t *testing.T) {
	f := newFixture(t)
	f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "producer"))
	cfg := f.sourceConfig("dev", "producer")
	cfg.CAFile = testpki.Paths(f.dir, "dev", "producer").Chain
	producer, err := tlsx.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(producer.Certificates()); got != 2 {
		t.Fatalf("%d certificates loaded from leaf + ca-chain.pem, want leaf + intermediate", got)
	}
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeAny(), tlsx.Options{}), "producer")
	staging := f.ca.Leaf("staging", "gateway", testpki.WithURI("spiffe://logsys.local/dev/gateway"))
	if _, _, err := callRaw(staging.ClientConfig(f.ca.Pool("dev"), "localhost"), addr); err == nil {
		t.Fatal("staging certificate accepted")
	}
	waitMetric(t, f.reg, failures, map[string]string{"listener": "producer", "reason": "unknown_ca"}, 1)

	// Even AuthorizeAny refuses a dev-issued certificate naming another env.
	claims := f.ca.Leaf("dev", "gateway", testpki.WithURI("spiffe://logsys.local/staging/gateway"))
	if _, _, err := callRaw(claims.ClientConfig(f.ca.Pool("dev"), "localhost"), addr); err == nil {
		t.Fatal("certificate naming staging accepted by a dev server")
	}
	waitMetric(t, f.reg, failures, map[string]string{"listener": "producer", "reason": "unauthorized"}, 1)
}
