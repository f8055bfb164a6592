package enroll

import (
	"context"
	"crypto"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/pki"
	"logsys/tlsx"
)

const (
	testTD = "logsys.local"
	caAddr = "ca:8443"
	caURL  = "https://" + caAddr
)

// newPKI initialises a PKI with dev and prod in a temporary directory, at
// the current clock (the fake one inside a synctest bubble).
func newPKI(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, TrustDomain: testTD,
		Envs: []string{"dev", "prod"}, Names: []string{"producer", "gateway"}}); err != nil {
		t.Fatalf("pki init: %v", err)
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func newToken(t *testing.T, dir, env, name string) string {
	t.Helper()
	tok, _, err := ca.NewToken(ca.TokenOptions{Dir: dir, Env: env, Name: name, TTL: 15 * time.Minute})
	if err != nil {
		t.Fatalf("new token: %v", err)
	}
	return tok
}

// testCA is a real ca.Server of dev served on a listener of the test's
// choosing (pipes in a bubble, loopback otherwise).
type testCA struct {
	srv  *ca.Server
	stop func()
}

func newCA(t *testing.T, dir string, mod func(*ca.Config)) *ca.Server {
	t.Helper()
	cfg := ca.DefaultConfig()
	cfg.Dir, cfg.Env = dir, "dev"
	cfg.PollInterval = time.Minute
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Logger = testLogger(t)
	if mod != nil {
		mod(&cfg)
	}
	srv, err := ca.New(cfg)
	if err != nil {
		t.Fatalf("new ca: %v", err)
	}
	return srv
}

// serve runs srv on ln until stop (also called when the test ends).
func serve(t *testing.T, srv *ca.Server, ln net.Listener) *testCA {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	c := &testCA{srv: srv, stop: func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ca serve: %v", err)
			}
		})
	}}
	t.Cleanup(c.stop)
	return c
}

// renewerConfig enrolls name of dev at the CA of dir through n.
func renewerConfig(t *testing.T, n *testutil.Network, dir, name string) Config {
	t.Helper()
	cfg := Config{CAURL: caURL, TrustDomain: testTD, Env: "dev", Name: name, Token: newToken(t, dir, "dev", name),
		CABundle: pki.Layout{Dir: dir}.ChainFile("dev"), StateDir: t.TempDir(),
		Logger: testLogger(t), Registerer: prometheus.NewRegistry()}
	if n != nil {
		cfg.DialContext = n.Dial
	}
	return cfg
}

// newRenewer builds a Renewer whose random draws are all 0.5, so that its
// renewal times are exactly renewalTime(..., 0.5).
func newRenewer(t *testing.T, cfg Config) *Renewer {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("new renewer: %v", err)
	}
	r.rand = func() float64 { return 0.5 }
	return r
}

// ensure obtains r's first certificate and a Source fed by r.
func ensure(t *testing.T, r *Renewer) *tlsx.Source {
	t.Helper()
	if err := r.Ensure(context.Background()); err != nil {
		t.Fatalf("ensure %s: %v", r.cfg.Name, err)
	}
	src, err := r.NewSource(tlsx.SourceConfig{Name: r.cfg.Name, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("source %s: %v", r.cfg.Name, err)
	}
	return src
}

// run runs r until the test ends; its error is reported from the test
// goroutine.
func run(t *testing.T, r *Renewer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("renewer %s: %v", r.cfg.Name, err)
		}
	})
}

// counter reads one series of r's metrics.
func counter(t *testing.T, r *Renewer, name, label, value string) float64 {
	t.Helper()
	return testutil.MetricValue(t, r.cfg.Registerer.(prometheus.Gatherer), name, map[string]string{label: value})
}

// rejected is how many times r refused CA material for reason.
func rejected(t *testing.T, r *Renewer, reason string) float64 {
	return counter(t, r, "logsys_enroll_rejected_total", "reason", reason)
}

// signLeaf has iss sign a certificate for pub carrying uri, valid around
// now, for client and server use: what a hostile or broken CA could send.
func signLeaf(t *testing.T, iss *testpki.Issuer, pub crypto.PublicKey, uri string) []byte {
	t.Helper()
	return testpki.SignWith(t, iss, "dev", "ca", testpki.WithPublicKey(pub), testpki.WithURI(uri),
		testpki.ValidFor(time.Hour), testpki.WithIPs(net.IPv4(127, 0, 0, 1))).CertPEM
}
