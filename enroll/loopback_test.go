package enroll

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"logsys/tlsx"
)

// TestEnrolledSourceServesOverLoopback is the end-to-end path on real
// sockets: bootstrap and renewal against `logsys ca` over TCP, and a role
// serving mTLS with the pushed source to a client whose certificate comes
// from `logsys pki` files. Each handshake sees the certificate the
// renewer holds at that moment; no file is watched.
func TestEnrolledSourceServesOverLoopback(t *testing.T) {
	dir := newPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, newCA(t, dir, nil), ln)
	cfg := renewerConfig(t, nil, dir, "producer")
	cfg.CAURL = "https://" + ln.Addr().String()
	r := newRenewer(t, cfg)
	src := ensure(t, r)

	scfg, err := tlsx.ServerConfig(src, tlsx.AuthorizeNames(testTD, "dev", "gateway"), tlsx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tlsx.NewListener(inner, scfg, nil, "producer", tlsx.WithLogger(testLogger(t)))
	t.Cleanup(func() { tl.Close() })
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("ok"))
			c.Close()
		}
	}()
	gwCfg := tlsx.LayoutSource(dir, "dev", "gateway")
	gwCfg.Logger = testLogger(t)
	gateway, err := tlsx.NewSource(gwCfg)
	if err != nil {
		t.Fatal(err)
	}
	served := func() string {
		t.Helper()
		d, err := tlsx.NewDialer(gateway, tlsx.AuthorizeNames(testTD, "dev", "producer"), tlsx.Options{}, nil, "gateway->producer")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", inner.Addr().String())
		if err != nil {
			t.Fatalf("handshake with the enrolled role: %v", err)
		}
		defer c.Close()
		return serialOf(c.(*tls.Conn).ConnectionState().PeerCertificates[0])
	}

	for i := range 2 {
		if got, want := served(), serialOf(src.Certificate().Leaf); got != want {
			t.Fatalf("handshake %d: served %s, want the renewer's %s", i, got, want)
		}
		before := serialOf(src.Certificate().Leaf)
		if err := r.obtain(context.Background()); err != nil {
			t.Fatalf("renewal over loopback: %v", err)
		}
		if serialOf(src.Certificate().Leaf) == before {
			t.Fatal("the renewal did not reach the source")
		}
	}
}
