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

// producing is a producer client sending numbered records under one key,
// one at a time, while a test disturbs the cluster.
type producing struct {
	id     string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	acked []int
	errs  []error
}

// startProducing starts sending as the producer identity: at most 2000
// records, one every 50ms, each retried by franz-go for up to 2 minutes.
func startProducing(t *testing.T, c Cluster) *producing {
	t.Helper()
	cl := client(t, c, "producer", kgo.DefaultProduceTopic(TopicEvents), kgo.RecordDeliveryTimeout(2*time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	p := &producing{id: runID(), cancel: cancel}
	t.Cleanup(func() { cancel(); p.wg.Wait() })
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for i := 0; i < 2000 && ctx.Err() == nil; i++ {
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := cl.ProduceSync(rctx, &kgo.Record{Key: []byte(p.id), Value: []byte(strconv.Itoa(i))}).FirstErr()
			rcancel()
			p.mu.Lock()
			if err != nil {
				p.errs = append(p.errs, fmt.Errorf("record %d: %w", i, err))
			} else {
				p.acked = append(p.acked, i)
			}
			p.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return p
}

func (p *producing) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acked)
}

// waitAcks waits until n records have been acknowledged.
func (p *producing) waitAcks(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for p.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("producer stuck at %d acknowledged records, want %d", p.count(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the loop, fails the test if any record failed, and returns
// the acknowledged ones.
func (p *producing) stop(t *testing.T) []int {
	t.Helper()
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.errs) > 0 {
		t.Fatalf("%d records failed, first: %v", len(p.errs), p.errs[0])
	}
	return p.acked
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
