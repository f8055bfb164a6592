package it

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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

	id := runID()
	prod := client(t, c, "producer", kgo.DefaultProduceTopic(TopicEvents), kgo.RecordDeliveryTimeout(2*time.Minute))
	var (
		mu    sync.Mutex
		acked []int
		errs  []error
	)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Bounded: at most 2000 records, one every 50ms.
		for i := 0; i < 2000 && ctx.Err() == nil; i++ {
			pctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := prod.ProduceSync(pctx, &kgo.Record{Key: []byte(id), Value: []byte(strconv.Itoa(i))}).FirstErr()
			cancel()
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("record %d: %w", i, err))
			} else {
				acked = append(acked, i)
			}
			mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	ackedNow := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitAcks := func(n int) {
		deadline := time.Now().Add(2 * time.Minute)
		for ackedNow() < n {
			if time.Now().After(deadline) {
				t.Fatalf("producer stuck at %d acknowledged records, want %d", ackedNow(), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitAcks(5)
	ctl(t, c, "client-auth", "required")
	restored = true
	waitAcks(ackedNow() + 10) // the same client, reconnected after the restart
	stop()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d records failed across the flip, first: %v", len(errs), errs[0])
	}

	if err := apiVersions(c.Brokers[0], noCert); !isTLSRefusal(err) {
		t.Fatalf("after the flip: want a TLS alert for a client without certificate, got %v", err)
	}
	missing := consumeKeys(t, c, id, acked)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged records lost across the flip: %v", len(missing), len(acked), missing)
	}
	t.Logf("%d records acknowledged across the flip, none lost", len(acked))
}

// consumeKeys reads every partition of the events topic from the start as
// the consumer (no group) and returns the values of want not found under
// key id.
func consumeKeys(t *testing.T, c Cluster, id string, want []int) []int {
	t.Helper()
	parts := map[int32]kgo.Offset{}
	for p := range int32(Partitions) {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cons := client(t, c, "consumer", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{TopicEvents: parts}))
	seen := map[int]bool{}
	missing := func() []int {
		var m []int
		for _, v := range want {
			if !seen[v] {
				m = append(m, v)
			}
		}
		return m
	}
	ctx := timeout(t, time.Minute)
	for len(missing()) > 0 && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		for _, e := range fs.Errors() {
			if ctx.Err() == nil {
				t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == id {
				if v, err := strconv.Atoi(string(r.Value)); err == nil {
					seen[v] = true
				}
			}
		})
	}
	return missing()
}
