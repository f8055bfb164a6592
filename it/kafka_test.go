package it

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/internal/aclmatrix"
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

// TestACLMatrix: the real Kafka allows and refuses exactly what the
// matrix says, the same matrix roles' TestBrokerACLMatrix holds the
// embedded broker to. Every identity dials with the product's mutual-TLS
// dialer and its `logsys pki` certificate.
func TestACLMatrix(t *testing.T) {
	c := cluster(t)
	aclmatrix.Check(t, aclmatrix.Target{
		Name: fmt.Sprintf("Apache Kafka (%d node(s), it/kafka.sh)", c.Nodes), Seeds: c.Brokers,
		Dial: func(id string) (aclmatrix.DialFunc, error) {
			d, err := Dialer(c.PKI, c.Env, id)
			if err != nil {
				return nil, err
			}
			return d.DialContext, nil
		},
	})
}
