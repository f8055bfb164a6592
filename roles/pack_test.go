package roles

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/dlq"
	"logsys/internal/testutil"
	"logsys/pack"
	"logsys/store"
)

// forgedEvent is an event as the gateway encodes it, with id id.
func forgedEvent(id, message string) string {
	return fmt.Sprintf(`{"id":%q,"level":"INFO","message":%q,"source":"forged","timestamp":"2026-01-01T00:00:00Z","identity":"spiffe://logsys.local/dev/client"}`, id, message)
}

// packRecord is a pack of lines as the producer writes it (or, with
// header, anything claiming to be one).
func packRecord(key, header string, lines ...string) *kgo.Record {
	return &kgo.Record{Topic: "log-events", Key: []byte(key), Value: []byte(strings.Join(lines, "\n")),
		Headers: []kgo.RecordHeader{{Key: pack.Header, Value: []byte(header)}}}
}

// produceAs writes recs to the topic as the producer identity and returns
// them with their positions.
func produceAs(t *testing.T, p *pipeline, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	res := kafkaClient(t, p, "producer").ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return recs
}

// topicRecords reads the events topic from the start until its records
// hold n events, and returns them by partition, in offset order.
func topicRecords(t *testing.T, p *pipeline, n int) map[int32][]*kgo.Record {
	t.Helper()
	cl := superClient(t, p.broker, kgo.ConsumeTopics("log-events"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got, events := map[int32][]*kgo.Record{}, 0
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for events < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r)
			events += pack.Count(r)
		})
	}
	if events != n {
		t.Fatalf("the topic holds %d events, want %d", events, n)
	}
	return got
}

// deadLetters reads the dead-letter topic from the start until it holds
// n records (bounded), and returns them.
func deadLetters(t *testing.T, p *pipeline, n int) []*kgo.Record {
	t.Helper()
	cl := superClient(t, p.broker, kgo.ConsumeTopics("log-events.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for len(got) < n && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
	}
	if len(got) != n {
		t.Fatalf("%d dead letters, want %d", len(got), n)
	}
	return got
}

// header is the value of rec's header key ("" without it).
func header(rec *kgo.Record, key string) string {
	for _, h := range rec.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// requireStoredOnce fails unless exactly ids are stored, each once.
func requireStoredOnce(t *testing.T, p *pipeline, ids []string) {
	t.Helper()
	got := p.storedIDs()
	lost, dup := 0, 0
	for _, id := range ids {
		switch got[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	if lost > 0 || dup > 0 || len(got) != len(ids) {
		t.Fatalf("of %d events: %d lost, %d duplicated, %d stored ids in all", len(ids), lost, dup, len(got))
	}
}

// TestPackedBatchThroughThePipeline: a batch posted to the gateway
// reaches the topic as packs of one source each, none larger than
// producer.max_pack_bytes (the larger groups split), a one-event source as
// a plain record, every source's events in order in one partition; every
// event is stored once and counted as an event, not a record.
func TestPackedBatchThroughThePipeline(t *testing.T) {
	t.Parallel()
	const bound = 2048
	p := startPipelineOpts(t, pipelineOptions{producer: func(c *ProducerConfig) { c.MaxPackBytes = bound }})
	var body strings.Builder
	sent := map[string][]string{}
	add := func(source, message string) {
		fmt.Fprintf(&body, `{"message":%q,"source":%q}`+"\n", message, source)
		sent[source] = append(sent[source], message)
	}
	for i := range 60 {
		add("alpha", fmt.Sprintf("alpha %03d %s", i, strings.Repeat("x", 150)))
		if i%3 == 0 {
			add("beta", fmt.Sprintf("beta %03d", i))
		}
	}
	add("solo", "the only one")
	const events = 81
	code, out := postJSON(t, p.client("dev", "client"), p.url("/api/v1/logs/batch"), "application/x-ndjson", body.String())
	if code != http.StatusAccepted {
		t.Fatalf("batch: %d %v", code, out)
	}
	ids := out["data"].(map[string]any)["ids"].([]any)
	testutil.Eventually(t, 20*time.Second, "every event stored", func() bool { return len(p.storedIDs()) == events })
	want := make([]string, len(ids))
	for i, id := range ids {
		want[i] = id.(string)
	}
	requireStoredOnce(t, p, want)

	parts := topicRecords(t, p, events)
	got, records, packs := map[string][]string{}, 0, 0
	for _, recs := range parts {
		for _, r := range recs {
			records++
			evs, err := pack.Unpack(nil, r)
			if err != nil {
				t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
			}
			if header(r, pack.Header) != "" {
				packs++
				if len(r.Value) > bound {
					t.Errorf("pack %d/%d holds %d bytes, bound %d", r.Partition, r.Offset, len(r.Value), bound)
				}
			}
			for _, e := range evs {
				ev, err := decodeRecord(e, time.Now())
				if err != nil {
					t.Fatalf("event of %d/%d: %v", r.Partition, r.Offset, err)
				}
				if ev.Source != string(r.Key) {
					t.Errorf("event of source %s in a record keyed %s", ev.Source, r.Key)
				}
				got[ev.Source] = append(got[ev.Source], ev.Message)
			}
		}
	}
	for source, messages := range sent {
		if !slices.Equal(got[source], messages) {
			t.Errorf("source %s: the topic holds %d events, out of order or not all: %q", source, len(got[source]), got[source])
		}
	}
	// alpha: 60 events of about 330 bytes, 6 to a pack of 2 KiB at most.
	if packs < 10 || records > 16 {
		t.Errorf("%d records (%d packs) for %d events; want alpha split into packs of 2 KiB, beta in one, solo alone", records, packs, events)
	}
	accepted := testutil.MetricValue(t, p.producer.metrics.reg, "logsys_events_total", map[string]string{"role": "producer", "result": "accepted"})
	stored := testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_events_total", map[string]string{"role": "consumer", "result": "stored"})
	if accepted != events || stored != events {
		t.Errorf("events counted: producer accepted %v, consumer stored %v; want %d each", accepted, stored, events)
	}
	t.Logf("%d events in %d records (%d packs): stored %d, lost 0, duplicated 0", events, records, packs, len(want))
}

// TestPackPoisonEventsDeadLetteredAlone: a pack of ten events holding
// three that can never be stored (one the consumer refuses, one the store
// refuses, one an id conflict): the seven others are stored, each of the
// three is dead-lettered alone with its reason, the pack's position and
// its index; nothing lost, nothing stored twice. A replay of one of them
// writes a single event, without the pack's headers.
func TestPackPoisonEventsDeadLetteredAlone(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	first := produceAs(t, p, &kgo.Record{Topic: "log-events", Key: []byte("forged"), Value: []byte(forgedEvent("pk-conflict", "first"))})
	lines := make([]string, 10)
	var good []string
	for i := range lines {
		id := fmt.Sprintf("pk-%d", i)
		switch i {
		case 3:
			lines[i] = `{"id":"pk-3","level":"INFO","source":"forged","timestamp":"2026-01-01T00:00:00Z"}` // no message
		case 5:
			lines[i] = forgedEvent("pk-conflict", "second") // the same sender and id, other content
		case 7:
			lines[i] = strings.Replace(forgedEvent(id, "nul NUL byte"), "NUL", `\u0000`, 1) // valid JSON, refused by the store
		default:
			lines[i] = forgedEvent(id, fmt.Sprintf("m%d", i))
			good = append(good, id)
		}
	}
	pk := produceAs(t, p, packRecord("forged", "v1 10", lines...))[0]
	if pk.Partition != first[0].Partition {
		t.Fatalf("one key in two partitions: %d and %d", first[0].Partition, pk.Partition)
	}
	dead := deadLetters(t, p, 3)
	testutil.Eventually(t, 20*time.Second, "the seven good events and the first stored", func() bool { return len(p.storedIDs()) == 8 })
	requireStoredOnce(t, p, append(good, "pk-conflict"))

	origin := fmt.Sprintf("log-events/%d/%d", pk.Partition, pk.Offset)
	wantReason := map[string]string{"3": dlq.ReasonInvalid, "5": dlq.ReasonIDConflict, "7": dlq.ReasonInvalid}
	for _, d := range dead {
		i := header(d, pack.IndexHeader)
		if header(d, dlq.HeaderReason) != wantReason[i] || header(d, dlq.HeaderOrigin) != origin || header(d, pack.Header) != "" ||
			string(d.Key) != "forged" || wantReason[i] == "" || string(d.Value) != lines[int(i[0]-'0')] {
			t.Errorf("dead letter of index %q: reason %q origin %q pack header %q key %q value %s; want reason %q origin %s and the event alone",
				i, header(d, dlq.HeaderReason), header(d, dlq.HeaderOrigin), header(d, pack.Header), d.Key, d.Value, wantReason[i], origin)
		}
		delete(wantReason, i)
	}
	reg := p.consumer.metrics.reg
	if n := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 3 {
		t.Errorf("dead_lettered = %v, want 3", n)
	}
	if n := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"result": "stored"}); n != 8 {
		t.Errorf("stored = %v, want 8", n)
	}

	cfg := dlq.DefaultConfig()
	cfg.PKIDir, cfg.Brokers, cfg.Timeout = p.pkiDir, p.broker.Addrs(), 20*time.Second
	ls, err := dlq.List(context.Background(), cfg, dlq.Filter{Reason: dlq.ReasonIDConflict})
	if err != nil || len(ls) != 1 || ls[0].PackIndex != "5" || ls[0].Origin != origin || ls[0].ID != "pk-conflict" {
		t.Fatalf("dlq list: %+v, %v; want the conflict, index 5 of %s", ls, err, origin)
	}
	res, err := dlq.Replay(context.Background(), cfg, dlq.Filter{Positions: []dlq.Position{ls[0].Position}}, false, false)
	if err != nil || len(res.Replayed) != 1 {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	again := deadLetters(t, p, 4)[3] // the conflict was not fixed: dead-lettered again
	if header(again, dlq.HeaderReplayOf) == "" || header(again, pack.IndexHeader) != "" || header(again, dlq.HeaderReason) != dlq.ReasonIDConflict {
		t.Errorf("the replay, dead-lettered again, carries %v; want logsys-replay-of, no pack index", again.Headers)
	}
	t.Logf("a pack of 10: stored 7, dead-lettered 3 alone (%v), lost 0, duplicated 0", []string{"invalid", "id_conflict", "invalid"})
}

// TestPackRedeliveryStoresNothingTwice: part of a pack is already stored
// (one of the consumer's parallel writes committed before a crash), then
// the whole pack is delivered, and delivered again to a consumer that
// starts with nothing committed (a crash before the commit): every event
// is stored once, none dead-lettered.
func TestPackRedeliveryStoresNothingTwice(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	lines := make([]string, 50)
	ids := make([]string, len(lines))
	var before []store.Record
	for i := range lines {
		ids[i] = fmt.Sprintf("rd-%d", i)
		lines[i] = forgedEvent(ids[i], fmt.Sprintf("m%d", i))
		if i%2 == 0 {
			sr, err := decodeRecord(&kgo.Record{Value: []byte(lines[i])}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			before = append(before, sr)
		}
	}
	if _, err := p.store.Write(context.Background(), before); err != nil {
		t.Fatal(err)
	}
	produceAs(t, p, packRecord("forged", "v1 50", lines...))
	testutil.Eventually(t, 20*time.Second, "the pack stored and committed", func() bool {
		return len(p.storedIDs()) == 50 && p.uncommitted("log-events") == 0
	})
	p.stopConsumer()
	// The group forgets its commits, as if the consumer had crashed
	// before committing: the next one reads the topic from the start.
	if _, err := kadm.NewClient(superClient(t, p.broker)).DeleteGroup(context.Background(), DefaultConsumerConfig().Group); err != nil {
		t.Fatalf("delete the group's commits: %v", err)
	}
	if n := p.uncommitted("log-events"); n != 1 {
		t.Fatalf("%d records uncommitted after the commits were deleted, want the pack", n)
	}
	p.startConsumer()
	testutil.Eventually(t, 20*time.Second, "the redelivered pack committed", func() bool { return p.uncommitted("log-events") == 0 })
	requireStoredOnce(t, p, ids)
	reg := p.consumer.metrics.reg
	if n := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"result": "stored"}); n != 0 {
		t.Errorf("the redelivery stored %v events, want 0", n)
	}
	if n := testutil.MetricValue(t, reg, "logsys_events_total", map[string]string{"result": "dead_lettered"}); n != 0 {
		t.Errorf("the redelivery dead-lettered %v events, want 0", n)
	}
}

// TestOldRecordsAndPacksMixed: records of one event (as written before
// packs, by the JSON-array path or a replay), packs, and a batch through
// the gateway, in one topic and one partition: all stored once.
func TestOldRecordsAndPacksMixed(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	var ids []string
	var recs []*kgo.Record
	for i := range 12 {
		id := fmt.Sprintf("mix-%d", i)
		ids = append(ids, id)
		if i%4 != 3 {
			recs = append(recs, &kgo.Record{Topic: "log-events", Key: []byte("forged"), Value: []byte(forgedEvent(id, "old form"))})
			continue
		}
		lines := []string{forgedEvent(id, "in a pack")}
		for j := range 3 {
			pid := fmt.Sprintf("%s-%d", id, j)
			ids = append(ids, pid)
			lines = append(lines, forgedEvent(pid, "in a pack"))
		}
		recs = append(recs, packRecord("forged", "v1 4", lines...))
	}
	produceAs(t, p, recs...)
	code, out := postJSON(t, p.client("dev", "client"), p.url("/api/v1/logs/batch"), "application/x-ndjson",
		"{\"message\":\"a\",\"source\":\"forged\"}\n{\"message\":\"b\",\"source\":\"forged\"}\n")
	if code != http.StatusAccepted {
		t.Fatalf("batch: %d %v", code, out)
	}
	for _, id := range out["data"].(map[string]any)["ids"].([]any) {
		ids = append(ids, id.(string))
	}
	testutil.Eventually(t, 20*time.Second, "every event stored", func() bool { return len(p.storedIDs()) >= len(ids) })
	requireStoredOnce(t, p, ids)
}

// TestMalformedPackDeadLettered: records with a forged or garbled pack
// header or body are dead-lettered whole as malformed_pack, a well-formed
// pack of values that are not events yields a not_json letter per event,
// and the partition keeps flowing: the event after them is stored.
func TestMalformedPackDeadLettered(t *testing.T) {
	t.Parallel()
	p := startPipeline(t)
	ev := forgedEvent("mal-0", "m")
	malformed := []*kgo.Record{
		packRecord("forged", "v2 2", ev, ev),
		packRecord("forged", "v1 many", ev, ev),
		packRecord("forged", "v1 0", ev),
		packRecord("forged", "v1 3", ev, ev),
		packRecord("forged", "v1 3", ev, "", ev),
		packRecord("forged", "v1 99999999999999999999", ev),
		{Topic: "log-events", Key: []byte("forged"), Value: bytes.Repeat([]byte{'\n'}, 5), Headers: []kgo.RecordHeader{{Key: pack.Header, Value: []byte("v1 6")}}},
	}
	produceAs(t, p, append(malformed, packRecord("forged", "v1 2", "not json", "{nor this"),
		&kgo.Record{Topic: "log-events", Key: []byte("forged"), Value: []byte(forgedEvent("mal-after", "after the garbage"))})...)
	testutil.Eventually(t, 20*time.Second, "the event after the garbage stored", func() bool { return p.storedIDs()["mal-after"] == 1 })
	dead := deadLetters(t, p, len(malformed)+2)
	reasons := map[string]int{}
	for _, d := range dead {
		reasons[header(d, dlq.HeaderReason)]++
	}
	if reasons[dlq.ReasonMalformedPack] != len(malformed) || reasons[dlq.ReasonNotJSON] != 2 {
		t.Errorf("dead letters by reason %v; want %d malformed_pack and 2 not_json", reasons, len(malformed))
	}
	if got := p.storedIDs(); len(got) != 1 {
		t.Errorf("stored %v, want only mal-after", got)
	}
}
