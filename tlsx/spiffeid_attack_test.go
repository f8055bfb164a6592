package tlsx_test

import (
	"crypto/tls"
	"testing"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

// nonCanonical are identities a loose URL parser reads as dev/client or
// dev/gateway. Each is carried by a certificate the dev intermediate
// really signed, so only identity parsing can refuse it (issue 12 item 6).
var nonCanonical = []string{
	"spiffe://logsys.local/dev/%63lient",
	"spiffe://logsys.local/dev/%67ateway",
	"spiffe://logsys.local/%64ev/gateway",
	"spiffe://LOGSYS.local/dev/client",
	"spiffe://logsys.local/dev/./client",
	"spiffe://logsys.local/dev/../dev/client",
	"spiffe://logsys.local/dev//client",
	"spiffe://logsys.local/dev/client/",
	"spiffe://logsys.local/dev/client?x=1",
	"spiffe://logsys.local:443/dev/client",
}

// TestNonCanonicalIDsRefusedByServer presents each identity to a dev
// producer that admits the gateway and the client, and counts what got in.
func TestNonCanonicalIDsRefusedByServer(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeNames(td, "dev", "gateway", "client"), tlsx.Options{}), "producer")
	pool := f.ca.Pool("dev")
	labels := map[string]string{"side": "server", "listener": "producer", "reason": string(tlsx.ReasonUnauthorized)}
	before := testutil.MetricValue(t, f.reg, failures, labels)
	accepted := 0
	for _, id := range nonCanonical {
		leaf := f.ca.Leaf("dev", "client", testpki.WithURI(id))
		if line, _, err := callRaw(leaf.ClientConfig(pool, "localhost"), addr); err == nil {
			accepted++
			t.Errorf("%s accepted; server answered %q", id, line)
		}
	}
	if accepted != 0 {
		t.Fatalf("%d of %d non-canonical identities got through", accepted, len(nonCanonical))
	}
	waitMetric(t, f.reg, failures, labels, before+float64(len(nonCanonical)))
	// The canonical client is still admitted.
	if _, _, err := callRaw(f.ca.Leaf("dev", "client").ClientConfig(pool, "localhost"), addr); err != nil {
		t.Fatalf("canonical client refused: %v", err)
	}
}

// TestNonCanonicalIDsRefusedByClient has a dev gateway dial servers whose
// certificates claim the producer through a non-canonical identity.
func TestNonCanonicalIDsRefusedByClient(t *testing.T) {
	f := newFixture(t)
	gateway := f.source("dev", "gateway")
	d := mustDialer(t, f, gateway, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, "gateway->producer")
	accepted := 0
	for _, id := range []string{
		"spiffe://logsys.local/dev/%70roducer",
		"spiffe://LOGSYS.local/dev/producer",
		"spiffe://logsys.local/dev/./producer",
		"spiffe://logsys.local/dev//producer",
		"spiffe://logsys.local/dev/producer/",
	} {
		srv := f.ca.Leaf("dev", "producer", testpki.WithURI(id))
		addr := serveRaw(t, &tls.Config{Certificates: []tls.Certificate{srv.TLS}, MinVersion: tls.VersionTLS13})
		if _, _, err := call(d, addr); err == nil {
			accepted++
			t.Errorf("dialer accepted a server claiming %s", id)
		}
	}
	if accepted != 0 {
		t.Fatalf("%d non-canonical servers accepted", accepted)
	}
	waitMetric(t, f.reg, failures, map[string]string{"side": "client", "listener": "gateway->producer", "reason": string(tlsx.ReasonUnauthorized)}, 5)
}
