package roles

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/dlq"
	"logsys/internal/testutil"
)

// TestDeadLetterPoisonNotReplayed: a record that is not an event, written
// straight to the topic, is dead-lettered as not_json; the operator (its
// own certificate, no group) lists it, and a replay skips it, saying why,
// instead of sending it round again. A replay selecting nothing, or a
// position without a dead letter, is refused.
func TestDeadLetterPoisonNotReplayed(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	ctx := context.Background()
	if err := superClient(t, p.broker).ProduceSync(ctx, &kgo.Record{Topic: "log-events", Key: []byte("poison"), Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cfg := dlq.DefaultConfig()
	cfg.PKIDir, cfg.Brokers, cfg.Timeout = p.pkiDir, p.broker.Addrs(), 20*time.Second
	only := dlq.Filter{Reason: dlq.ReasonNotJSON}
	var ls []dlq.Letter
	testutil.Eventually(t, 20*time.Second, "the poison record dead-lettered", func() bool {
		var err error
		ls, err = dlq.List(ctx, cfg, only)
		if err != nil {
			t.Fatalf("dlq list as operator: %v", err)
		}
		return len(ls) > 0
	})
	if len(ls) != 1 || string(ls[0].Value) != "not json" || !strings.HasPrefix(ls[0].Origin, "log-events/") {
		t.Fatalf("dead letters: %+v", ls)
	}
	res, err := dlq.Replay(ctx, cfg, only, false, false)
	if err != nil || len(res.Replayed) != 0 || len(res.Skipped) != 1 || !strings.Contains(res.Skipped[0].Why, "would refuse it again") {
		t.Fatalf("replay of the poison record: %+v, %v; want it skipped", res, err)
	}
	if _, err := dlq.Replay(ctx, cfg, dlq.Filter{}, false, false); !errors.Is(err, dlq.ErrNothingSelected) {
		t.Errorf("replay with no selection: %v, want ErrNothingSelected", err)
	}
	if _, err := dlq.Replay(ctx, cfg, dlq.Filter{Positions: []dlq.Position{{Partition: 0, Offset: 999}}}, false, true); err == nil || !strings.Contains(err.Error(), "no dead letter at 0/999") {
		t.Errorf("replay of a position without a letter: %v", err)
	}
}
