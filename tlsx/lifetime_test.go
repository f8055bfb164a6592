package tlsx_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

// bubble is a CA, a producer source and a tlsx listener on an in-memory
// network, all made inside a synctest bubble so that certificates, CRLs
// and the listener's timers share its fake clock.
type bubble struct {
	t   *testing.T
	ca  *testpki.CA
	reg *prometheus.Registry
	m   *tlsx.Metrics
	src *tlsx.Source
	mem *testutil.MemListener
	ln  *tlsx.Listener
}

func newBubble(t *testing.T, serverLeaf []testpki.LeafOption, opts ...tlsx.ListenerOption) *bubble {
	t.Helper()
	b := &bubble{t: t, ca: testpki.New(t, testpki.Options{}), reg: prometheus.NewRegistry()}
	var err error
	if b.m, err = tlsx.NewMetrics(b.reg); err != nil {
		t.Fatal(err)
	}
	l := b.ca.Leaf("dev", "producer", serverLeaf...)
	b.src, err = tlsx.NewSourceFromPEM(tlsx.SourceConfig{Name: "producer", Metrics: b.m, Logger: quietLogger()},
		tlsx.PEM{Cert: l.CertPEM, Key: l.KeyPEM, CA: b.ca.CAPEM("dev"), CRL: b.ca.CRLPEM("dev")})
	if err != nil {
		t.Fatal(err)
	}
	authz := tlsx.AuthorizeNames(td, "dev", "gateway")
	cfg, err := tlsx.ServerConfig(b.src, authz, tlsx.Options{NextProtos: tlsx.ProtosHTTP})
	if err != nil {
		t.Fatal(err)
	}
	b.mem = testutil.NewMemListener("producer:443")
	opts = append([]tlsx.ListenerOption{tlsx.WithLogger(quietLogger()), tlsx.WithPeerChecks(b.src, authz)}, opts...)
	b.ln = tlsx.NewListener(b.mem, cfg, b.m, "producer", opts...)
	t.Cleanup(func() { b.ln.Close() })
	return b
}

// echo answers each line of every accepted connection with "ok".
func (b *bubble) echo() {
	go func() {
		for {
			c, err := b.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if _, err := io.WriteString(c, "ok\n"); err != nil {
						return
					}
				}
			}()
		}
	}()
}

// dial opens a TLS connection to the listener as leaf.
func (b *bubble) dial(l *testpki.Leaf) (*tls.Conn, error) {
	raw, err := b.mem.Dial(context.Background(), "mem", "producer:443")
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, l.ClientConfig(b.ca.Pool("dev"), "localhost"))
	if err := c.Handshake(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// roundTrip sends one line and reads the answer.
func roundTrip(c *tls.Conn) error {
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err == nil && line != "ok\n" {
		err = fmt.Errorf("answer %q", line)
	}
	return err
}

func (b *bubble) closes(reason string) float64 {
	return testutil.MetricValue(b.t, b.reg, closedConns, map[string]string{"side": "server", "reason": reason})
}

// TestConnectionClosedAtPeerNotAfter: a connection whose client
// certificate expires is closed at its NotAfter, not a second later, and
// nothing gets through it afterwards.
func TestConnectionClosedAtPeerNotAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, nil, tlsx.WithMaxConnAge(48*time.Hour))
		b.echo()
		client := b.ca.Leaf("dev", "gateway", testpki.ValidFor(2*time.Hour))
		c, err := b.dial(client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		time.Sleep(time.Until(client.Cert.NotAfter) - time.Second)
		synctest.Wait()
		if err := roundTrip(c); err != nil {
			t.Fatalf("a second before NotAfter: %v", err)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if err := roundTrip(c); err == nil {
			t.Fatal("a request got through after the client certificate expired")
		}
		if got := b.closes("expired"); got != 1 {
			t.Fatalf("closes{reason=expired} = %v, want 1", got)
		}
	})
}

// TestConnectionClosedAtMaxAge: an idle connection is closed at its
// maximum age (drawn in [0.9, 1] of it), however valid its peer.
func TestConnectionClosedAtMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge = 10 * time.Minute
		b := newBubble(t, nil, tlsx.WithMaxConnAge(maxAge))
		b.echo()
		c, err := b.dial(b.ca.Leaf("dev", "gateway"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		time.Sleep(maxAge*9/10 - time.Second)
		synctest.Wait()
		if err := roundTrip(c); err != nil {
			t.Fatalf("before 0.9 of the maximum age: %v", err)
		}
		time.Sleep(maxAge / 10)
		synctest.Wait()
		if err := roundTrip(c); err == nil {
			t.Fatal("a request got through after the maximum age")
		}
		if got := b.closes("max_age"); got != 1 {
			t.Fatalf("closes{reason=max_age} = %v, want 1", got)
		}
	})
}

// TestMaxAgeLetsInFlightRequestsFinish: with an http.Server attached, a
// request in flight when the maximum age is reached completes; the
// connection closes once idle and the next request handshakes anew.
func TestMaxAgeLetsInFlightRequestsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge = 10 * time.Minute
		b := newBubble(t, nil, tlsx.WithMaxConnAge(maxAge), tlsx.WithDrainTimeout(5*time.Minute))
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				time.Sleep(2 * time.Minute)
			}
			io.WriteString(w, "done")
		}), ErrorLog: discardLog()}
		b.ln.Attach(srv)
		go srv.Serve(b.ln)
		defer srv.Close()

		client := b.ca.Leaf("dev", "gateway")
		tr := &http.Transport{DialTLSContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return b.dial(client)
		}}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		// POST: net/http never retries it on a new connection, so a
		// connection cut under it fails the request.
		post := func(path string) error {
			resp, err := hc.Post("https://producer"+path, "text/plain", strings.NewReader("event"))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err == nil && string(body) != "done" {
				err = fmt.Errorf("body %q", body)
			}
			return err
		}
		if err := post("/"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(maxAge*9/10 - time.Minute)
		if err := post("/slow"); err != nil { // runs across the maximum age
			t.Fatalf("request in flight at the maximum age: %v", err)
		}
		synctest.Wait()
		if got := b.closes("max_age"); got != 1 {
			t.Fatalf("closes{reason=max_age} = %v, want 1", got)
		}
		if err := post("/"); err != nil {
			t.Fatalf("request after the close: %v", err)
		}
		if got := testutil.MetricValue(t, b.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "server"}); got != 2 {
			t.Fatalf("%v handshakes, want 2 (one per connection)", got)
		}
	})
}

// TestStaleCRLFailsClosed: within crl_grace past nextUpdate connections
// stay and health reports the stale CRL; after it, every connection is
// closed and every handshake refused as crl_stale.
func TestStaleCRLFailsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		month := []testpki.LeafOption{testpki.ValidFor(30 * 24 * time.Hour)}
		b := newBubble(t, month, tlsx.WithMaxConnAge(30*24*time.Hour))
		b.echo()
		client := b.ca.Leaf("dev", "gateway", month...)
		c, err := b.dial(client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		nextUpdate := b.src.CRLs()[0].NextUpdate
		if ok, reasons := b.src.CRLStatus(); !ok {
			t.Fatalf("fresh crl reported stale: %v", reasons)
		}

		time.Sleep(time.Until(nextUpdate) + time.Hour)
		synctest.Wait()
		ok, reasons := b.src.CRLStatus()
		if ok || !strings.Contains(strings.Join(reasons, "\n"), "crl for dev") {
			t.Fatalf("crl past nextUpdate: status %v %q, want a reason naming the environment", ok, reasons)
		}
		if got := testutil.MetricValue(t, b.reg, "logsys_tls_crl_next_update_seconds", nil); got != -3600 {
			t.Fatalf("crl next update gauge = %v, want -3600", got)
		}
		if err := roundTrip(c); err != nil {
			t.Fatalf("within the grace: %v", err)
		}

		time.Sleep(tlsx.DefaultCRLGrace)
		synctest.Wait()
		if err := roundTrip(c); err == nil {
			t.Fatal("a request got through after the crl went stale")
		}
		if got := b.closes("crl_stale"); got != 1 {
			t.Fatalf("closes{reason=crl_stale} = %v, want 1", got)
		}
		// A TLS 1.3 client finishes before the server verified it: the
		// refusal arrives on the first read.
		if c2, err := b.dial(client); err == nil {
			err = roundTrip(c2)
			c2.Close()
			if err == nil {
				t.Fatal("a new connection got through with a stale crl")
			}
		}
		synctest.Wait()
		if got := testutil.MetricValue(t, b.reg, failures, map[string]string{"side": "server", "reason": "crl_stale"}); got != 1 {
			t.Fatalf("handshake failures{reason=crl_stale} = %v, want 1", got)
		}
	})
}
