package tlsx_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

const td = testpki.DefaultTrustDomain

// fixture is a dev+staging CA written to disk with a metrics registry.
type fixture struct {
	t   testing.TB
	ca  *testpki.CA
	dir string
	reg *prometheus.Registry
	m   *tlsx.Metrics
	// entered and release hold requests for /hold of serveHTTP.
	entered, release chan struct{}
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ca := testpki.New(t, testpki.Options{Envs: []string{"dev", "staging"}})
	reg := prometheus.NewRegistry()
	m, err := tlsx.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ca: ca, dir: t.TempDir(), reg: reg, m: m, entered: make(chan struct{}), release: make(chan struct{})}
	for _, env := range ca.Envs() {
		ca.WriteEnv(f.dir, env)
	}
	return f
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// source issues (unless already on disk) and loads name's files in env.
func (f *fixture) source(env, name string, opts ...testpki.LeafOption) *tlsx.Source {
	f.t.Helper()
	f.ca.WriteLeaf(f.dir, f.ca.Leaf(env, name, opts...))
	return f.load(env, name)
}

func (f *fixture) sourceConfig(env, name string) tlsx.SourceConfig {
	cfg := tlsx.LayoutSource(f.dir, env, name)
	cfg.Metrics = f.m
	cfg.Logger = quietLogger()
	return cfg
}

func (f *fixture) load(env, name string) *tlsx.Source {
	f.t.Helper()
	src, err := tlsx.NewSource(f.sourceConfig(env, name))
	if err != nil {
		f.t.Fatalf("new source %s/%s: %v", env, name, err)
	}
	return src
}

// serve starts a tlsx listener whose connections receive one line naming
// the client's identity and serial.
func (f *fixture) serve(cfg *tls.Config, name string) string {
	f.t.Helper()
	return f.serveWithName(cfg, f.m, name)
}

// serveWith is serve with a chosen (possibly nil) *Metrics.
func (f *fixture) serveWith(cfg *tls.Config, m *tlsx.Metrics) string {
	f.t.Helper()
	return f.serveWithName(cfg, m, "unmetered")
}

func (f *fixture) serveWithName(cfg *tls.Config, m *tlsx.Metrics, name string) string {
	f.t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	ln := tlsx.NewListener(inner, cfg, m, name, tlsx.WithLogger(quietLogger()), tlsx.WithHandshakeTimeout(5*time.Second))
	f.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				cs := c.(*tls.Conn).ConnectionState()
				leaf := cs.PeerCertificates[0]
				fmt.Fprintf(c, "%s %x\n", leaf.URIs[0], leaf.SerialNumber)
			}()
		}
	}()
	return inner.Addr().String()
}

// serveRaw starts a plain crypto/tls server (for peers tlsx would never
// build, such as an expired server certificate).
func serveRaw(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
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
			go func() {
				defer c.Close()
				if c.(*tls.Conn).Handshake() == nil {
					io.WriteString(c, "hello\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// call dials with d and returns the server's line.
func call(d *tlsx.Dialer, addr string) (string, tls.ConnectionState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer c.Close()
	return readLine(c)
}

// callRaw dials with a hand-made client config.
func callRaw(cfg *tls.Config, addr string) (string, tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return "", tls.ConnectionState{}, err
	}
	defer c.Close()
	return readLine(c)
}

func readLine(c net.Conn) (string, tls.ConnectionState, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), c.(*tls.Conn).ConnectionState(), err
}

// waitMetric polls (bounded) until the metric reaches want; server-side
// failures are recorded by the listener's handshake goroutine.
func waitMetric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string, want float64) {
	t.Helper()
	var got float64
	for range 250 {
		if got = testutil.MetricValue(t, reg, name, labels); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
}

// discardLog silences http.Server's error log (TLS and closed-connection noise).
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
