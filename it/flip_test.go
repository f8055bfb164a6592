package it

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBootstrapFlip moves the client listener from the bootstrap mode
// (ssl.client.auth=requested: clients without a certificate connect as
// User:ANONYMOUS and are denied by the ACLs) to required, with a producer
// sending throughout. Kafka 4.1 does not apply a dynamic
// listener.name.client.ssl.client.auth to a running listener, so
// `it/kafka.sh client-auth` restarts the nodes one at a time; the producer
// must reconnect by itself and lose nothing.
func TestBootstrapFlip(t *testing.T) {
	c := cluster(t)
	ctl(t, c, "client-auth", "requested")
	restored := false
	t.Cleanup(func() {
		if !restored {
			ctl(t, c, "client-auth", "required")
		}
	})

	noCert, err := RawClientTLS(c.PKI, c.Env, c.Env, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := apiVersions(c.Brokers[0], noCert); err != nil {
		t.Fatalf("bootstrap mode: a client without certificate should pass TLS: %v", err)
	}
	anon, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...), kgo.DialTLSConfig(noCert), kgo.DefaultProduceTopic(TopicEvents))
	if err != nil {
		t.Fatal(err)
	}
	err = anon.ProduceSync(timeout(t, 30*time.Second), &kgo.Record{Value: []byte("anonymous")}).FirstErr()
	anon.Close()
	if !isDenied(err) {
		t.Fatalf("bootstrap mode: ANONYMOUS produce: want an authorization error, got %v", err)
	}

	pl := startProducing(t, c)
	pl.waitAcks(t, 5)
	ctl(t, c, "client-auth", "required")
	restored = true
	pl.waitAcks(t, pl.count()+10) // the same client, reconnected after the restart
	acked := pl.stop(t)

	if err := apiVersions(c.Brokers[0], noCert); !isTLSRefusal(err) {
		t.Fatalf("after the flip: want a TLS alert for a client without certificate, got %v", err)
	}
	missing := consumeKeys(t, c, pl.id, acked)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged records lost across the flip: %v", len(missing), len(acked), missing)
	}
	t.Logf("%d records acknowledged across the flip, none lost", len(acked))
}
