package it

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceConsume sends events as the producer and reads them back as
// the consumer in its group, both through the product's mTLS dialer.
func TestProduceConsume(t *testing.T) {
	c := cluster(t)
	id := runID()
	const n = 20
	prod := client(t, c, "producer", kgo.DefaultProduceTopic(TopicEvents))
	ctx := timeout(t, 60*time.Second)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(id), Value: fmt.Appendf(nil, "%s-%d", id, i)}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce as producer: %v", err)
	}

	cons := client(t, c, "consumer",
		kgo.ConsumerGroup(Group), kgo.ConsumeTopics(TopicEvents),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < n {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == id {
				got = append(got, string(r.Value))
			}
		})
	}
	for i := range n {
		if want := fmt.Sprintf("%s-%d", id, i); !slices.Contains(got, want) {
			t.Errorf("record %s not consumed", want)
		}
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit in %s: %v", Group, err)
	}
}

// TestHandshakeRefusals: the broker completes the TLS layer only for
// certificates of its own environment. Each refusal is paired with the
// same probe succeeding for a valid certificate, so a broker that is
// merely down cannot pass the test.
func TestHandshakeRefusals(t *testing.T) {
	c := cluster(t)
	requireLeaf(t, c, "staging", "producer")
	tests := []struct {
		name      string
		clientEnv string
		leaf      string // "" presents no certificate
		wantOK    bool
	}{
		{"own environment producer", c.Env, "producer", true},
		{"own environment client (no ACLs, still authenticated)", c.Env, "client", true},
		{"no client certificate", c.Env, "", false},
		{"staging producer: same root, other intermediate", "staging", "producer", false},
		{"staging broker identity", "staging", "kafka", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := RawClientTLS(c.PKI, c.Env, tt.clientEnv, tt.leaf)
			if err != nil {
				t.Fatal(err)
			}
			for _, addr := range c.Brokers {
				err := apiVersions(addr, cfg)
				switch {
				case tt.wantOK && err != nil:
					t.Errorf("%s: refused: %v", addr, err)
				case !tt.wantOK && !isTLSRefusal(err):
					t.Errorf("%s: want a TLS alert from the broker, got %v", addr, err)
				case !tt.wantOK:
					t.Logf("%s: refused as expected: %v", addr, err)
				}
			}
		})
	}
}

// TestACLs: each identity may do exactly its part of the pipeline.
func TestACLs(t *testing.T) {
	c := cluster(t)
	id := runID()

	produce := func(t *testing.T, name, topic string) error {
		cl := client(t, c, name, kgo.RecordDeliveryTimeout(20*time.Second))
		return cl.ProduceSync(timeout(t, 30*time.Second), &kgo.Record{Topic: topic, Key: []byte(id), Value: []byte("acl")}).FirstErr()
	}
	// fetch reads partition 0 from the start without a group.
	fetch := func(t *testing.T, name, topic string) error {
		cl := client(t, c, name, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
		ctx := timeout(t, 30*time.Second)
		for {
			fs := cl.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("no records nor error: %w", err)
			}
			if errs := fs.Errors(); len(errs) > 0 {
				return errs[0].Err
			}
			if fs.NumRecords() > 0 {
				return nil
			}
		}
	}
	describeGroup := func(t *testing.T, name, group string) error {
		_, err := kadm.NewClient(client(t, c, name)).FetchOffsets(timeout(t, 30*time.Second), group)
		return err
	}
	createTopic := func(t *testing.T, name, _ string) error {
		_, err := kadm.NewClient(client(t, c, name)).CreateTopic(timeout(t, 30*time.Second), 1, 1, nil, "it-forbidden-"+id)
		return err
	}
	// Partition 0 of both topics must hold a record for the read checks.
	for _, r := range []struct{ name, topic string }{{"producer", TopicEvents}, {"consumer", TopicDLQ}} {
		cl := client(t, c, r.name, kgo.RecordPartitioner(kgo.ManualPartitioner()))
		rec := &kgo.Record{Topic: r.topic, Partition: 0, Value: []byte("seed")}
		if err := cl.ProduceSync(timeout(t, 30*time.Second), rec).FirstErr(); err != nil {
			t.Fatalf("seed %s as %s: %v", r.topic, r.name, err)
		}
	}

	tests := []struct {
		who, action, target string
		do                  func(t *testing.T, name, target string) error
		allowed             bool
	}{
		{"producer", "write", TopicEvents, produce, true},
		{"producer", "read", TopicEvents, fetch, false},
		{"producer", "write", TopicDLQ, produce, false},
		{"producer", "use group", Group, describeGroup, false},
		{"producer", "create topic", "", createTopic, false},
		{"consumer", "read", TopicEvents, fetch, true},
		{"consumer", "use group", Group, describeGroup, true},
		{"consumer", "write", TopicDLQ, produce, true},
		{"consumer", "write", TopicEvents, produce, false},
		{"consumer", "read", TopicDLQ, fetch, false},
		{"consumer", "use group", "other-group", describeGroup, false},
		{"consumer", "create topic", "", createTopic, false},
		{"client", "write", TopicEvents, produce, false},
		{"client", "read", TopicEvents, fetch, false},
		{"gateway", "write", TopicEvents, produce, false},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.action+" "+tt.target, func(t *testing.T) {
			err := tt.do(t, tt.who, tt.target)
			switch {
			case tt.allowed && err != nil:
				t.Fatalf("want allowed, got %v", err)
			case !tt.allowed && !isDenied(err):
				t.Fatalf("want an authorization error, got %v", err)
			case !tt.allowed:
				t.Logf("denied as expected: %v", err)
			}
		})
	}
}
