package tlsx_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

const closedConns = "logsys_tls_connections_closed_total"

// serveHTTP serves HTTPS through a tlsx listener with peer checks against
// src, answering every request with the client's serial (hex). Requests
// for /hold first signal f.entered, then wait for f.release.
func (f *fixture) serveHTTP(src *tlsx.Source, authz tlsx.Authorizer, name string, opts ...tlsx.ListenerOption) (*tlsx.Listener, string) {
	f.t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatal(err)
	}
	o := tlsx.Options{NextProtos: tlsx.ProtosHTTP}
	opts = append([]tlsx.ListenerOption{tlsx.WithLogger(quietLogger()), tlsx.WithPeerChecks(src, authz)}, opts...)
	ln := tlsx.NewListener(inner, mustServerConfig(f.t, src, authz, o), f.m, name, opts...)
	entered, release := f.entered, f.release
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
		}
		fmt.Fprintf(w, "%x", r.TLS.PeerCertificates[0].SerialNumber)
	}), ErrorLog: discardLog()}
	ln.Attach(srv)
	go srv.Serve(ln)
	f.t.Cleanup(func() { srv.Close() })
	return ln, "https://" + inner.Addr().String() + "/"
}

// httpClient is a keep-alive HTTP/1.1 client through a tlsx dialer of src
// that accepts only the named server.
func (f *fixture) httpClient(src *tlsx.Source, server string, http2 bool) (*http.Client, *tlsx.Dialer) {
	f.t.Helper()
	protos := []string{"http/1.1"}
	if http2 {
		protos = tlsx.ProtosHTTP
	}
	d := mustDialer(f.t, f, src, tlsx.AuthorizeNames(td, "dev", server), tlsx.Options{NextProtos: protos}, "client->"+server)
	d.WithLogger(quietLogger())
	tr := &http.Transport{ForceAttemptHTTP2: http2, MaxIdleConnsPerHost: 4}
	if !http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	c := &http.Client{Transport: d.Transport(tr), Timeout: 5 * time.Second}
	f.t.Cleanup(c.CloseIdleConnections)
	return c, d
}

// get sends one request and returns the body of a 200 answer.
func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), nil
}

// TestRevokedKeepAliveConnectionIsCut replays issue 12, item 3: a client
// keeps one connection alive and sends 40 requests; after the 20th its
// serial is revoked and the new CRL pushed into the server's source. The
// connection must be closed before Update returns, and none of the 20
// requests after it may get through (reconnects are refused as revoked).
func TestRevokedKeepAliveConnectionIsCut(t *testing.T) {
	f := newFixture(t)
	producer := f.ca.Leaf("dev", "producer")
	server := f.pushed("producer", producer)
	client := f.source("dev", "gateway")
	ln, url := f.serveHTTP(server, tlsx.AuthorizeNames(td, "dev", "gateway"), "revoke-push")
	hc, _ := f.httpClient(client, "producer", false)

	const n, revokeAt = 40, 20
	var before, after int
	for i := range n {
		if i == revokeAt {
			if got := ln.Open(); got != 1 {
				t.Fatalf("%d live connections before the revocation, want 1 (keep-alive)", got)
			}
			f.ca.Revoke("dev", client.Certificate().Leaf.SerialNumber)
			if err := server.Update(f.pemOf(producer)); err != nil {
				t.Fatal(err)
			}
			if got := ln.Open(); got != 0 {
				t.Fatalf("%d connections still open when Update returned", got)
			}
		}
		if _, err := get(hc, url); err == nil {
			if i < revokeAt {
				before++
			} else {
				after++
			}
		}
	}
	if before != revokeAt {
		t.Fatalf("%d of %d requests before the revocation succeeded", before, revokeAt)
	}
	if after != 0 {
		t.Fatalf("%d of %d requests got through after the revocation", after, n-revokeAt)
	}
	if got := testutil.MetricValue(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "server", "listener": "revoke-push"}); got != 1 {
		t.Fatalf("%v handshakes succeeded, want the one of the keep-alive connection", got)
	}
	waitMetric(t, f.reg, closedConns, map[string]string{"listener": "revoke-push", "reason": "revoked"}, 1)
	waitMetric(t, f.reg, failures, map[string]string{"side": "server", "listener": "revoke-push", "reason": "revoked"}, float64(n-revokeAt))
}

// TestRevokedConnectionIsCutOnFileReload is the same attack through the
// file path: crl.pem is replaced on disk and the watcher reloads it.
// Requests keep flowing in a bounded loop; once the connection is closed
// none gets through. The time from the write to the close is logged (the
// figure of docs/security.md is measured by BenchmarkRevocationToClose).
func TestRevokedConnectionIsCutOnFileReload(t *testing.T) {
	f := newFixture(t)
	server := f.runSource("dev", "producer")
	client := f.source("dev", "gateway")
	ln, url := f.serveHTTP(server, tlsx.AuthorizeNames(td, "dev", "gateway"), "revoke-file")
	hc, _ := f.httpClient(client, "producer", false)
	if _, err := get(hc, url); err != nil {
		t.Fatal(err)
	}

	f.ca.Revoke("dev", client.Certificate().Leaf.SerialNumber)
	written := time.Now()
	f.ca.WriteFile(testpki.Paths(f.dir, "dev", "").CRL, f.ca.CRLPEM("dev"), 0o644)
	var closedAfter time.Duration
	afterClose := 0
	for i := 0; i < 2000; i++ {
		closed := ln.Open() == 0
		if closed && closedAfter == 0 {
			closedAfter = time.Since(written)
		}
		if _, err := get(hc, url); err == nil && closed {
			afterClose++
		}
		if closed && i > 0 && afterClose == 0 && closedAfter > 0 && i%50 == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if closedAfter == 0 {
		t.Fatal("the revoked client's connection was never closed")
	}
	if afterClose != 0 {
		t.Fatalf("%d requests got through after the connection was closed", afterClose)
	}
	t.Logf("crl.pem written -> connection closed: %v (debounce 20ms, poll 100ms)", closedAfter)
	waitMetric(t, f.reg, closedConns, map[string]string{"listener": "revoke-file", "reason": "revoked"}, 1)
}

// BenchmarkRevocationToClose measures, on the file path with the default
// timings (file watch, DefaultDebounce, DefaultPollInterval), the time
// from writing a crl.pem that revokes a connected client to the close of
// its connection, as ms/revocation (run with -benchtime=10x).
func BenchmarkRevocationToClose(b *testing.B) {
	f := newFixture(b)
	f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "producer"))
	server := f.load("dev", "producer")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); server.Run(ctx) }()
	defer func() { cancel(); <-done }()
	ln, url := f.serveHTTP(server, tlsx.AuthorizeNames(td, "dev", "gateway"), "bench")
	crlFile := testpki.Paths(f.dir, "dev", "").CRL
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		client := f.pushed(fmt.Sprintf("gateway-%d", i), f.ca.Leaf("dev", "gateway"))
		hc, _ := f.httpClient(client, "producer", false)
		if _, err := get(hc, url); err != nil {
			b.Fatal(err)
		}
		f.ca.Revoke("dev", client.Certificate().Leaf.SerialNumber)
		b.StartTimer()
		start := time.Now()
		f.ca.WriteFile(crlFile, f.ca.CRLPEM("dev"), 0o644)
		for ln.Open() != 0 {
			if time.Since(start) > 2*tlsx.DefaultPollInterval {
				b.Fatal("connection not closed within two poll intervals")
			}
			time.Sleep(time.Millisecond)
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/revocation")
}
