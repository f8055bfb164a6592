package dlq

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/event"
	"logsys/pack"
	"logsys/store"
)

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in   string
		want Position
		ok   bool
	}{
		{"3/17", Position{3, 17}, true}, {"17", Position{0, 17}, true}, {"0/0", Position{0, 0}, true},
		{"", Position{}, false}, {"a/1", Position{}, false}, {"1/-2", Position{}, false}, {"1/2/3", Position{}, false},
		{"01/2", Position{}, false}, {"1/2x", Position{}, false}, {"-1/2", Position{}, false},
	}
	for _, tt := range tests {
		got, err := ParsePosition(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// TestLetterRoundTrip: what the consumer writes (Headers) is what a
// letter reads, with the reason class; a replay keeps the original
// headers and the value bytes, drops the dead letter's own and names the
// letter it replays.
func TestLetterRoundTrip(t *testing.T) {
	value := []byte(`{"id":"x-1","message":"m","source":"s","identity":"spiffe://logsys.local/dev/client"}`)
	orig := &kgo.Record{Topic: "log-events", Partition: 2, Offset: 9, Key: []byte("x-1"), Value: value,
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc")}}}
	for _, tt := range []struct {
		err    error
		reason string
	}{
		{fmt.Errorf("%w: id %q from %s is already stored with other content", store.ErrIDConflict, "x-1", "c"), ReasonIDConflict},
		{event.ErrNotJSON, ReasonNotJSON},
		{fmt.Errorf("invalid event: %w", errors.New("message: is required")), ReasonInvalid},
		{fmt.Errorf("%w: header says 3 events, the value holds 2", pack.ErrMalformed), ReasonMalformedPack},
	} {
		dead := &kgo.Record{Partition: 1, Offset: 4, Key: orig.Key, Value: orig.Value, Headers: Headers(orig, tt.err), Timestamp: time.Unix(100, 0)}
		l := letterOf(dead)
		if l.Reason != tt.reason || l.Error != tt.err.Error() || l.Origin != "log-events/2/9" || l.ID != "x-1" ||
			l.Identity != "spiffe://logsys.local/dev/client" || l.Position != (Position{1, 4}) {
			t.Errorf("%v: letter %+v", tt.err, l)
		}
		// Without the reason header (an older dead letter) the text decides.
		dead.Headers = slices.DeleteFunc(dead.Headers, func(h kgo.RecordHeader) bool { return h.Key == HeaderReason })
		if got := letterOf(dead).Reason; got != tt.reason {
			t.Errorf("%v without %s: reason %q, want %q", tt.err, HeaderReason, got, tt.reason)
		}
		hs := l.replayHeaders("log-events.dlq")
		want := []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc")}, {Key: HeaderReplayOf, Value: []byte("log-events.dlq/1/4")}}
		if fmt.Sprint(hs) != fmt.Sprint(want) {
			t.Errorf("replay headers %v, want %v", hs, want)
		}
	}
}

// TestLetterOfPackEvent: the dead letter of one event of a pack names
// its index; its replay is one event, without the pack's headers.
func TestLetterOfPackEvent(t *testing.T) {
	pk := &kgo.Record{Topic: "log-events", Partition: 1, Offset: 7, Key: []byte("s"), Value: []byte("{\"id\":\"a\"}\n{\"id\":\"b\"}"),
		Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc")}, {Key: pack.Header, Value: pack.HeaderValue(2)}}}
	evs, err := pack.Unpack(nil, pk)
	if err != nil {
		t.Fatal(err)
	}
	l := letterOf(&kgo.Record{Partition: 0, Offset: 3, Key: evs[1].Key, Value: evs[1].Value, Headers: Headers(evs[1], event.ErrNotJSON)})
	if l.PackIndex != "1" || l.Origin != "log-events/1/7" || l.ID != "b" {
		t.Errorf("letter %+v: want index 1 of log-events/1/7, id b", l)
	}
	hs := l.replayHeaders("log-events.dlq")
	want := []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc")}, {Key: HeaderReplayOf, Value: []byte("log-events.dlq/0/3")}}
	if fmt.Sprint(hs) != fmt.Sprint(want) {
		t.Errorf("replay headers %v, want %v", hs, want)
	}
}

func TestFilter(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := Letter{Position: Position{1, 2}, Time: at, Reason: ReasonInvalid}
	tests := []struct {
		f    Filter
		want bool
	}{
		{Filter{}, true},
		{Filter{Reason: ReasonInvalid}, true},
		{Filter{Reason: ReasonIDConflict}, false},
		{Filter{Since: at}, true},
		{Filter{Since: at.Add(time.Second)}, false},
		{Filter{Positions: []Position{{1, 2}}}, true},
		{Filter{Positions: []Position{{2, 1}}}, false},
	}
	for _, tt := range tests {
		if got := tt.f.match(l); got != tt.want {
			t.Errorf("%+v.match = %v, want %v", tt.f, got, tt.want)
		}
	}
}

func TestNarrow(t *testing.T) {
	starts, ends := map[int32]int64{0: 0, 1: 5, 2: 0}, map[int32]int64{0: 10, 1: 10, 2: 10}
	narrow([]Position{{1, 3}, {1, 7}, {2, 20}}, starts, ends)
	if fmt.Sprint(starts, ends) != fmt.Sprint(map[int32]int64{0: 0, 1: 5, 2: 20}, map[int32]int64{1: 8, 2: 10}) {
		t.Errorf("narrow: starts %v ends %v", starts, ends)
	}
}
