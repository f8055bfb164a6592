package it

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestPipeline: the dev client posts events over mutual TLS to the
// gateway, which forwards them to the producer, which writes them to the
// real Kafka; the consumer moves them to the real PostgreSQL. Every event
// answered with 202 is stored exactly once.
func TestPipeline(t *testing.T) {
	c := cluster(t)
	p := startPipe(t, c, pipeOptions{})
	s := startSending(t, p, 4, 5*time.Millisecond)
	s.waitAccepted(t, 400)
	requireStoredOnce(t, pgDSN(t), s, s.stop(t))
}

// TestPipelineConsumerFaults: while events flow, the consumer is killed
// (its Kafka client closed under it, nothing committed for the batch in
// hand) and replaced; then a second consumer joins the group and both
// share the partitions; then one leaves cleanly. Nothing accepted is lost
// or stored twice.
func TestPipelineConsumerFaults(t *testing.T) {
	c := cluster(t)
	p := startPipe(t, c, pipeOptions{})
	s := startSending(t, p, 2, 10*time.Millisecond)
	s.waitAccepted(t, 100)

	p.killConsumer("c1")
	s.waitAccepted(t, s.count()+100) // accepted while no consumer runs
	p.startConsumer("c2")
	s.waitAccepted(t, s.count()+100)

	p.startConsumer("c3")
	adm := kadm.NewClient(client(t, c, "consumer"))
	members := waitGroupShared(t, adm, 2)
	t.Logf("group %s: %v", Group, members)
	s.waitAccepted(t, s.count()+300)

	p.stopConsumer("c2") // c3 takes every partition over
	s.waitAccepted(t, s.count()+100)
	requireStoredOnce(t, pgDSN(t), s, s.stop(t))
}

// waitGroupShared waits until the group has n members, each assigned a
// non-empty, disjoint share of the events topic, and describes them.
func waitGroupShared(t *testing.T, adm *kadm.Client, n int) []string {
	t.Helper()
	ctx := timeout(t, 2*time.Minute)
	var last string
	for ctx.Err() == nil {
		described, err := adm.DescribeGroups(ctx, Group)
		if err == nil {
			err = described.Error()
		}
		if err != nil {
			last = err.Error()
		} else if d := described[Group]; d.State == "Stable" && len(d.Members) == n {
			var out []string
			var seen []int32
			ok := true
			for _, m := range d.Members {
				a, isConsumer := m.Assigned.AsConsumer()
				var parts []int32
				if isConsumer {
					for _, tp := range a.Topics {
						if tp.Topic == TopicEvents {
							parts = append(parts, tp.Partitions...)
						}
					}
				}
				for _, pt := range parts {
					ok = ok && !slices.Contains(seen, pt)
					seen = append(seen, pt)
				}
				ok = ok && len(parts) > 0
				out = append(out, fmt.Sprintf("%s: %s %v", m.ClientHost, TopicEvents, parts))
			}
			if ok && len(seen) == Partitions {
				return out
			}
			last = fmt.Sprintf("state %s, assignment %v", d.State, out)
		} else {
			last = fmt.Sprintf("state %s, %d members", d.State, len(d.Members))
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("group %s never shared %s among %d members: %s", Group, TopicEvents, n, last)
	return nil
}

// TestPipelineBrokerFailover (3-node cluster only): a broker is killed (SIGKILL)
// while events flow through the whole pipeline and started again; with
// replication factor 3 and min.insync.replicas 2 every request is still
// answered 202 and every accepted event is stored exactly once.
func TestPipelineBrokerFailover(t *testing.T) {
	c := cluster(t)
	if c.Nodes < 3 {
		t.Skipf("needs the 3-node cluster (LOGSYS_KAFKA_NODES=3 it/kafka.sh start PKI_DIR); this one has %d", c.Nodes)
	}
	p := startPipe(t, c, pipeOptions{})
	s := startSending(t, p, 2, 10*time.Millisecond)
	s.waitAccepted(t, 100)
	// Node 1 is the first seed broker of every client.
	ctl(t, c, "kill", "1")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctl(t, c, "start-node", "1")
		}
	})
	s.waitAccepted(t, s.count()+200) // served by the two survivors
	ctl(t, c, "start-node", "1")     // waits until every replica is in sync
	restarted = true
	s.waitAccepted(t, s.count()+100)
	requireStoredOnce(t, pgDSN(t), s, s.stop(t))
}
