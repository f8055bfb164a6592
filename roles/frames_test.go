package roles

import (
	"errors"
	"testing"
	"time"

	"logsys/event"
)

// TestFramesRoundTrip: what appendFrames writes, splitFrames returns, each
// value an event DecodeForwarded accepts as the one encoded.
func TestFramesRoundTrip(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	evs := []event.Event{
		{ID: "a", Level: event.Info, Message: "m", Source: "s", Timestamp: ts},
		{ID: "b", Level: event.Warn, Message: "x\n\"y\"", Source: "checkout", Timestamp: ts,
			Metadata: map[string]any{"k": "v", "n": 2.5}, Identity: "spiffe://logsys.local/dev/client"},
	}
	body, err := appendFrames(nil, evs)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := splitFrames(nil, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != len(evs) {
		t.Fatalf("%d frames, want %d", len(frames), len(evs))
	}
	for i, f := range frames {
		got, err := event.DecodeForwarded(f.value)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if string(f.key) != evs[i].Source || got.ID != evs[i].ID || got.Message != evs[i].Message || !got.Timestamp.Equal(ts) ||
			got.Identity != evs[i].Identity || len(got.Metadata) != len(evs[i].Metadata) {
			t.Errorf("frame %d: key %q, event %+v; want %+v", i, f.key, got, evs[i])
		}
	}
}

// TestSplitFramesRefusesMalformed: every cut of a valid body, and lengths
// pointing past the end, are refused, never read out of bounds.
func TestSplitFramesRefusesMalformed(t *testing.T) {
	t.Parallel()
	body, err := appendFrames(nil, oneEvent)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(body); n++ {
		if _, err := splitFrames(nil, body[:n]); !errors.Is(err, errFrames) {
			t.Errorf("body cut at %d of %d: err %v, want errFrames", n, len(body), err)
		}
	}
	for _, bad := range []string{"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", "\x00\xff\xff\xff\xff\x0f{}", "\x00\x00"} {
		if _, err := splitFrames(nil, []byte(bad)); !errors.Is(err, errFrames) {
			t.Errorf("%q: err %v, want errFrames", bad, err)
		}
	}
}
