package roles

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"logsys/internal/testutil"
)

// TestRetentionPoint: the offset below which records go, by age (end
// offsets seen at earlier checks, time as an input) and by size (the
// partition's average record size).
func TestRetentionPoint(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pi := func(start, end, bytes int64) *kfake.PartitionInfo {
		return &kfake.PartitionInfo{LogStartOffset: start, HighWatermark: end, NumBytes: bytes}
	}
	type check struct {
		at   time.Duration
		info *kfake.PartitionInfo
		want int64
	}
	tests := []struct {
		name   string
		age    time.Duration
		bytes  int64
		checks []check
	}{
		{"nothing old yet", time.Hour, 0, []check{{0, pi(0, 100, 1000), 0}, {30 * time.Minute, pi(0, 200, 2000), 0}}},
		{"records older than the age go, at the check's granularity", time.Hour, 0, []check{
			{0, pi(0, 100, 1000), 0},
			{30 * time.Minute, pi(0, 200, 2000), 0},
			{time.Hour, pi(0, 300, 3000), 100},          // what was there at 0 is an hour old
			{90 * time.Minute, pi(100, 400, 3000), 200}, // and what was there at 30m
			{100 * time.Minute, pi(200, 400, 2000), 200},
		}},
		{"within the size limit", 0, 1000, []check{{0, pi(0, 100, 1000), 0}}},
		{"beyond the size limit the oldest go", 0, 1000, []check{{0, pi(0, 100, 2500), 60}}},
		{"from a moved start", 0, 1000, []check{{0, pi(50, 150, 2000), 100}}},
		{"the larger of both", time.Hour, 1000, []check{{0, pi(0, 100, 1000), 0}, {time.Hour, pi(0, 400, 4000), 300}}},
		{"no limits", 0, 0, []check{{0, pi(0, 100, 1<<30), 0}, {1000 * time.Hour, pi(0, 100, 1<<30), 0}}},
	}
	for _, tt := range tests {
		r := newRetention(BrokerConfig{Retention: tt.age, RetentionBytes: tt.bytes})
		for i, c := range tt.checks {
			if got := r.point(t0.Add(c.at), "t", c.info); got != c.want {
				t.Errorf("%s: check %d at %v: point %d, want %d", tt.name, i, c.at, got, c.want)
			}
		}
	}
}

// TestSegmentBytes: a quarter of the size limit, within kfake's bounds.
func TestSegmentBytes(t *testing.T) {
	t.Parallel()
	for in, want := range map[int64]int64{1 << 20: 1 << 20, 32 << 20: 8 << 20, 1 << 40: 100 << 20} {
		if got := segmentBytes(in); got != want {
			t.Errorf("segmentBytes(%d) = %d, want %d", in, got, want)
		}
	}
}

// TestBrokerRetentionKeepsUncommitted: past the retention, records the
// consumer group committed are deleted, those it has not (the consumer
// stopped) are kept and stored once it is back: nothing accepted is lost.
// Without keep_uncommitted, retention deletes them all, as Kafka would.
func TestBrokerRetentionKeepsUncommitted(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.broker.stopRet() // the test applies the retention itself, at its own times
	<-p.broker.retDone
	p.broker.ret.groups = []string{DefaultConsumerConfig().Group}
	c := p.client("dev", "client")
	send := func(n int, prefix string) {
		t.Helper()
		code, out := postJSON(t, c, p.url("/api/v1/logs/batch"), "application/x-ndjson", retentionBatch(n, prefix))
		if code != http.StatusAccepted {
			t.Fatalf("batch: %d %v", code, out)
		}
	}
	topic := DefaultKafkaConfig().Topic
	send(300, "stored")
	testutil.Eventually(t, 30*time.Second, "300 events stored and committed", func() bool {
		return len(p.storedIDs()) == 300 && p.uncommitted(topic) == 0
	})
	p.stopConsumer()
	send(200, "pending")
	if n := p.uncommitted(topic); n != 200 {
		t.Fatalf("%d records uncommitted, want 200", n)
	}

	t0 := time.Now()
	p.broker.applyRetention(t0)
	p.broker.applyRetention(t0.Add(p.broker.cfg.Retention + time.Minute)) // everything is past retention
	kept := p.kept(topic)
	if kept != 200 {
		t.Errorf("after retention %d records remain, want the 200 uncommitted", kept)
	}
	p.startConsumer()
	testutil.Eventually(t, 30*time.Second, "all 500 events stored", func() bool { return len(p.storedIDs()) == 500 })

	p.stopConsumer()
	send(50, "dropped")
	p.broker.ret.keepUncommitted = false
	for i := range 2 { // first seen now, past retention at the next check
		p.broker.applyRetention(t0.Add(time.Duration(2+i) * (p.broker.cfg.Retention + time.Minute)))
	}
	for _, pi := range p.broker.cluster.PartitionInfos(topic) {
		if pi.LogStartOffset != pi.HighWatermark {
			t.Errorf("without keep_uncommitted partition %d keeps %d records", pi.Partition, pi.HighWatermark-pi.LogStartOffset)
		}
	}
}

// TestBrokerRetentionKeepsAGroupThatNeverCommitted: the consumer stops
// before its first commit (a first start with the store failing); events
// accepted meanwhile outlive retention, and are stored once it returns.
func TestBrokerRetentionKeepsAGroupThatNeverCommitted(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	p.stopConsumer() // before anything was committed
	p.broker.stopRet()
	<-p.broker.retDone
	topic := DefaultKafkaConfig().Topic
	p.broker.ret.groups, p.broker.ret.topics = []string{DefaultConsumerConfig().Group}, []string{topic}
	code, out := postJSON(t, p.client("dev", "client"), p.url("/api/v1/logs/batch"), "application/x-ndjson", retentionBatch(200, "first"))
	if code != http.StatusAccepted {
		t.Fatalf("batch: %d %v", code, out)
	}
	t0 := time.Now()
	for i := range 3 {
		p.broker.applyRetention(t0.Add(time.Duration(i) * (p.broker.cfg.Retention + time.Minute)))
	}
	kept := p.kept(topic)
	if kept != 200 {
		t.Fatalf("after retention %d of 200 never-committed records remain", kept)
	}
	p.startConsumer()
	testutil.Eventually(t, 30*time.Second, "all 200 events stored", func() bool { return len(p.storedIDs()) == 200 })
}

// kept counts the records the broker still holds on topic.
func (p *pipeline) kept(topic string) int64 {
	var n int64
	for _, pi := range p.broker.cluster.PartitionInfos(topic) {
		n += pi.HighWatermark - pi.LogStartOffset
	}
	return n
}

// uncommitted counts the records of topic beyond the consumer group's
// commits.
func (p *pipeline) uncommitted(topic string) int64 {
	gi := p.broker.cluster.GroupInfo(DefaultConsumerConfig().Group)
	var n int64
	for _, pi := range p.broker.cluster.PartitionInfos(topic) {
		from := pi.LogStartOffset
		if gi != nil {
			if c, ok := gi.Commits[topic][pi.Partition]; ok {
				from = c.Offset
			}
		}
		n += pi.HighWatermark - from
	}
	return n
}

// retentionBatch is n events, each of its own source: one record each,
// packs or not (the retention tests count records).
func retentionBatch(n int, prefix string) string {
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, `{"message":"%s %d","source":"retention-test-%d"}`+"\n", prefix, i, i)
	}
	return string(b)
}

// TestRetentionValidate: negative limits and limits below what the
// broker can apply are refused, naming the key; 0 turns a limit off.
func TestRetentionValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		age   time.Duration
		bytes int64
		want  []string
	}{
		{0, 0, nil},
		{time.Minute, 1 << 20, nil},
		{-time.Second, -1, []string{"retention: must not be negative", "retention_bytes: must not be negative"}},
		{time.Second, 1000, []string{"retention: 1s is below the minimum of 1m", "retention_bytes: 1000 is below the minimum of 1 MiB"}},
	} {
		c := DefaultBrokerConfig()
		c.Retention, c.RetentionBytes = tt.age, tt.bytes
		err := c.Validate()
		if len(tt.want) == 0 && err != nil {
			t.Errorf("%v %d: %v", tt.age, tt.bytes, err)
		}
		for _, w := range tt.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v %d: Validate() = %v, want %q", tt.age, tt.bytes, err, w)
			}
		}
	}
}
