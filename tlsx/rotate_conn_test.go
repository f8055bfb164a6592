package tlsx_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/tlsx"
)

// TestClientMovesToNewConnectionsAfterRotation: when our certificate is
// replaced (pushed, as enroll does), an HTTP client of a tlsx Dialer
// finishes the request in flight on the old connection, sends at most one
// more on it (asking to close it), and then presents the new certificate;
// no request fails.
func TestClientMovesToNewConnectionsAfterRotation(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			f := newFixture(t)
			server := f.source("dev", "producer")
			_, url := f.serveHTTP(server, tlsx.AuthorizeNames(td, "dev", "gateway"), "rotation")
			first := f.ca.Leaf("dev", "gateway")
			client := f.pushed("gateway", first)
			hc, d := f.httpClient(client, "producer", h2)
			oldSerial := fmt.Sprintf("%x", first.Serial)

			if got, err := get(hc, url); err != nil || got != oldSerial {
				t.Fatalf("first request: %q, %v", got, err)
			}
			held := make(chan error, 1)
			go func() {
				got, err := get(hc, url+"hold")
				if err == nil && got != oldSerial {
					err = fmt.Errorf("held request served as %s", got)
				}
				held <- err
			}()
			<-f.entered
			second := f.ca.Leaf("dev", "gateway")
			if err := client.Update(f.pemOf(second)); err != nil {
				t.Fatal(err)
			}
			close(f.release)
			if err := <-held; err != nil {
				t.Fatalf("request in flight during the rotation: %v", err)
			}
			newSerial := fmt.Sprintf("%x", second.Serial)
			var served []string
			for range 3 {
				got, err := get(hc, url)
				if err != nil {
					t.Fatalf("request after the rotation: %v", err)
				}
				served = append(served, got)
			}
			if served[1] != newSerial || served[2] != newSerial || (served[0] != oldSerial && served[0] != newSerial) {
				t.Fatalf("served as %v after the rotation, want the new serial %s from the second request on", served, newSerial)
			}
			waitMetric(t, f.reg, closedConns, map[string]string{"side": "client", "reason": "rotated"}, 1)
			if got := d.Open(); got != 1 {
				t.Fatalf("%d client connections open, want 1", got)
			}
		})
	}
}

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestResumptionAfterIntermediateRemoved replays issue 12, item 8: a
// client holds a session ticket from a connection made while its
// intermediate was trusted; the intermediate is then removed from the
// trust set. Its resumption must be refused (unknown_ca), although
// tickets still resume across other material changes. (Current Go skips
// such a ticket itself and falls back to a full handshake, which the
// verifier refuses; verifyPeer re-verifies resumed chains as well, see
// TestVerifyPeerReverifiesResumedChains.)
func TestResumptionAfterIntermediateRemoved(t *testing.T) {
	f := newFixture(t)
	old := f.ca.Intermediate("dev")
	client := f.ca.Leaf("dev", "gateway")
	f.ca.RolloverIntermediate("dev")
	producer := f.ca.Leaf("dev", "producer")
	rollover := func() tlsx.PEM {
		p := f.pemOf(producer)
		p.Bundle = f.ca.BundlePEM("dev")
		return p
	}
	server, err := tlsx.NewSourceFromPEM(tlsx.SourceConfig{Name: "producer", Metrics: f.m, Logger: quietLogger()}, rollover())
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tlsx.NewListener(inner, mustServerConfig(t, server, tlsx.AuthorizeAny(), tlsx.Options{}), f.m, "resume",
		tlsx.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), tlsx.WithPeerChecks(server, tlsx.AuthorizeAny()))
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "hello\n")
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
	addr := inner.Addr().String()
	cfg := client.ClientConfig(f.ca.Pool("dev"), "localhost")
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	dial := func() (tls.ConnectionState, error) {
		_, cs, err := callRaw(cfg, addr)
		return cs, err
	}

	if cs, err := dial(); err != nil || cs.DidResume {
		t.Fatalf("first connection: resumed %v, %v", cs.DidResume, err)
	}
	f.ca.Revoke("dev", f.ca.Leaf("dev", "other").Serial) // an unrelated change of material
	if err := server.Update(rollover()); err != nil {
		t.Fatal(err)
	}
	if cs, err := dial(); err != nil || !cs.DidResume {
		t.Fatalf("control: a ticket no longer resumes after an unrelated update (resumed %v, %v)", cs.DidResume, err)
	}

	if err := server.Update(f.pemOf(producer)); err != nil { // only the new intermediate
		t.Fatal(err)
	}
	before := testutil.MetricValue(t, f.reg, failures, map[string]string{"side": "server", "listener": "resume", "reason": "unknown_ca"})
	if cs, err := dial(); err == nil {
		t.Fatalf("a ticket from %q resumed after it was removed (resumed %v)", old.Cert.Subject.CommonName, cs.DidResume)
	}
	waitMetric(t, f.reg, failures, map[string]string{"side": "server", "listener": "resume", "reason": "unknown_ca"}, before+1)
	if !strings.Contains(logs.String(), "unknown_ca") {
		t.Fatalf("the refusal is not logged as unknown_ca:\n%s", logs)
	}
}
