package it

import (
	"testing"
)

// TestBrokerFailover (3-node cluster only): a broker is killed while the
// producer sends with acks=all; with replication factor 3 and
// min.insync.replicas 2 nothing fails, and nothing acknowledged is lost
// once the broker is back and has caught up.
func TestBrokerFailover(t *testing.T) {
	c := cluster(t)
	if c.Nodes < 3 {
		t.Skipf("needs the 3-node cluster (LOGSYS_KAFKA_NODES=3 it/kafka.sh start PKI_DIR); this one has %d", c.Nodes)
	}
	pl := startProducing(t, c)
	pl.waitAcks(t, 5)
	ctl(t, c, "kill", "2")
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			ctl(t, c, "start-node", "2")
		}
	})
	pl.waitAcks(t, pl.count()+20) // served by the two survivors
	ctl(t, c, "start-node", "2")  // waits until every replica is in sync
	restarted = true
	pl.waitAcks(t, pl.count()+10)
	acked := pl.stop(t)
	if missing := consumeKeys(t, c, pl.id, acked); len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged records lost: %v", len(missing), len(acked), missing)
	}
	t.Logf("%d records acknowledged across the failover, none lost", len(acked))
}
