package roles

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/pack"
)

// TestPackedRecordsSplitsAndKeepsOrder: the events of a key are packed in
// order into records no larger than the bound (a larger group is split),
// every event is in exactly one record, a one-event group and an event
// too large or holding a newline are records of their own, without the
// pack header.
func TestPackedRecordsSplitsAndKeepsOrder(t *testing.T) {
	t.Parallel()
	const bound = 200
	var frames []frame
	want := map[string][]string{}
	add := func(key, value string) {
		frames = append(frames, frame{key: []byte(key), value: []byte(value)})
		want[key] = append(want[key], value)
	}
	for i := range 40 {
		add("big", fmt.Sprintf(`{"n":%d,"pad":"%030d"}`, i, i)) // 45 bytes: 4 per pack
		if i%10 == 0 {
			add("other", fmt.Sprintf(`{"n":%d}`, i))
		}
		if i == 17 {
			add("big", `{"huge":"`+string(bytes.Repeat([]byte("x"), bound))+`"}`)
			add("big", "{\"raw\":\n1}")
		}
	}
	add("alone", `{"only":1}`)
	recs := packedRecords(frames, bound)

	got := map[string][]string{}
	for _, r := range recs {
		evs, err := pack.Unpack(nil, r)
		if err != nil {
			t.Fatalf("record %q: %v", r.Value, err)
		}
		packed := slices.ContainsFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == pack.Header })
		if packed != (len(evs) > 1) {
			t.Errorf("record of %d events has the pack header: %v", len(evs), packed)
		}
		if packed && len(r.Value) > bound {
			t.Errorf("pack of %d bytes, bound %d", len(r.Value), bound)
		}
		for _, e := range evs {
			got[string(r.Key)] = append(got[string(r.Key)], string(e.Value))
		}
	}
	for key, vs := range want {
		if !slices.Equal(got[key], vs) {
			t.Errorf("key %s: records hold %q, want %q in order", key, got[key], vs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("keys %v, want %v", got, want)
	}
	// "big": events 0-17 in packs of 4 (5 packs), the huge and the raw
	// alone, 18-39 in 6 packs; "other" in one pack; "alone" alone.
	if n := len(recs); n != 15 {
		t.Errorf("%d records for %d events, want 15", n, len(frames))
	}
}

// BenchmarkPackedRecords is the producer's packing of one gateway request
// of 1,000 events of one source (splitting the frames not included).
func BenchmarkPackedRecords(b *testing.B) {
	body, err := appendFrames(nil, requestEvents(0, 1000, time.Now().UTC(), nil))
	if err != nil {
		b.Fatal(err)
	}
	frames, err := splitFrames(nil, body)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		packedRecords(frames, DefaultMaxPackBytes)
	}
}
