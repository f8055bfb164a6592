package tlsx_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"logsys/tlsx"
)

// TestHTTP2OverListener serves net/http through NewListener and checks an
// HTTP/2 client negotiates h2 by ALPN and the handler sees the peer.
func TestHTTP2OverListener(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	opts := tlsx.Options{NextProtos: tlsx.ProtosHTTP}
	cfg := mustServerConfig(t, producer, tlsx.AuthorizeNames(td, "dev", "gateway"), opts)

	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto+" "+r.TLS.PeerCertificates[0].URIs[0].String())
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan error, 1)
	go func() {
		done <- srv.Serve(tlsx.NewListener(inner, cfg, f.m, "producer", tlsx.WithLogger(quietLogger())))
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-done; err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
	})

	d := mustDialer(t, f, f.source("dev", "gateway"), tlsx.AuthorizeNames(td, "dev", "producer"), opts, "gateway->producer")
	tr := &http.Transport{DialTLSContext: d.DialContext, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for range 3 {
		resp, err := client.Get("https://" + inner.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0 spiffe://logsys.local/dev/gateway" {
			t.Fatalf("got %s %q, want HTTP/2 and the gateway identity", resp.Proto, body)
		}
	}
	// One connection carried all three requests.
	waitMetric(t, f.reg, "logsys_tls_handshake_duration_seconds", map[string]string{"side": "server", "listener": "producer"}, 1)
}

// TestHTTP1OverListener checks the same listener serves HTTP/1.1 clients.
func TestHTTP1OverListener(t *testing.T) {
	f := newFixture(t)
	opts := tlsx.Options{NextProtos: tlsx.ProtosHTTP}
	cfg := mustServerConfig(t, f.source("dev", "producer"), tlsx.AuthorizeAny(), opts)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(tlsx.NewListener(inner, cfg, f.m, "producer", tlsx.WithLogger(quietLogger())))
	t.Cleanup(func() { srv.Close() })

	d := mustDialer(t, f, f.source("dev", "gateway"), tlsx.AuthorizeAny(), tlsx.Options{NextProtos: []string{"http/1.1"}}, "gw")
	tr := &http.Transport{DialTLSContext: d.DialContext}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + inner.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/1.1" {
		t.Fatalf("server saw %q, want HTTP/1.1", body)
	}
}
