package otlp

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"

	"logsys/event"
)

var (
	now    = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	t0     = uint64(time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano())
	limits = Limits{MaxRecords: 5000, MaxAttributes: 128, MaxSharedBytes: 32 << 20}
)

const sender = "spiffe://logsys.local/dev/client"

func TestLevelAtTheSeverityBoundaries(t *testing.T) {
	cases := []struct {
		number logsv1.SeverityNumber
		text   string
		want   event.Level
	}{
		{0, "", event.Info},
		{1, "", event.Trace}, {4, "", event.Trace},
		{5, "", event.Debug}, {8, "", event.Debug},
		{9, "", event.Info}, {12, "", event.Info},
		{13, "", event.Warn}, {16, "", event.Warn},
		{17, "", event.Error}, {20, "", event.Error},
		{21, "", event.Fatal}, {24, "", event.Fatal},
		{9, "ERROR", event.Info},    // the number decides when it is set
		{0, "Warning", event.Warn},  // else a text that names a level
		{0, " crit ", event.Fatal},  // alias, any case and spacing
		{0, "notice", event.Info},   // syslog
		{0, "SEVERE", event.Error},  // java.util.logging
		{0, "bogus", event.Info},    // else INFO
		{25, "error", event.Error},  // out of range: as unspecified
		{-1, "debug", event.Debug},  // negative too
		{25, "", event.Info},        // and no text: INFO
		{100, "fatal", event.Fatal}, // far out of range
	}
	for _, c := range cases {
		if got := Level(c.number, c.text); got != c.want {
			t.Errorf("Level(%d, %q) = %s, want %s", c.number, c.text, got, c.want)
		}
	}
}

// mapOne maps a request holding one record and returns its event or its
// refusal.
func mapOne(t *testing.T, res []*commonv1.KeyValue, lr *logsv1.LogRecord) (event.Event, *Violation) {
	t.Helper()
	evs, refused, err := Events(request(res, lr), now, sender, limits)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	if len(evs)+len(refused) != 1 {
		t.Fatalf("%d events and %d refusals for one record", len(evs), len(refused))
	}
	if len(refused) == 1 {
		return event.Event{}, &refused[0]
	}
	return evs[0], nil
}

func TestEventsMapBodies(t *testing.T) {
	cases := []struct {
		name string
		lr   *logsv1.LogRecord
		want string
	}{
		{"string as is", &logsv1.LogRecord{Body: str(" GET /a 200 ")}, " GET /a 200 "},
		{"key-value list as JSON, keys sorted", &logsv1.LogRecord{Body: kvlist(kv("b", integer(2)), kv("a", str("<x>")))}, `{"a":"<x>","b":2}`},
		{"array as JSON", &logsv1.LogRecord{Body: array(boolean(true), double(1.5), kvlist())}, `[true,1.5,{}]`},
		{"integer", &logsv1.LogRecord{Body: integer(42)}, "42"},
		{"large integer as a string", &logsv1.LogRecord{Body: integer(math.MaxInt64)}, `"9223372036854775807"`},
		{"NaN as its proto3 JSON string", &logsv1.LogRecord{Body: double(math.NaN())}, `"NaN"`},
		{"bytes as base64", &logsv1.LogRecord{Body: raw([]byte("hi"))}, `"aGk="`},
		{"no body", &logsv1.LogRecord{}, NoBody},
		{"empty string", &logsv1.LogRecord{Body: str("")}, NoBody},
		{"blank string", &logsv1.LogRecord{Body: str(" \t\n")}, NoBody},
		{"empty value", &logsv1.LogRecord{Body: &commonv1.AnyValue{}}, NoBody},
		{"no body but an event name", &logsv1.LogRecord{EventName: "browser.click"}, "browser.click"},
		{"body wins over the event name", &logsv1.LogRecord{Body: str("m"), EventName: "e"}, "m"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, v := mapOne(t, service("svc"), c.lr)
			if v != nil {
				t.Fatalf("refused: %+v", v)
			}
			if ev.Message != c.want {
				t.Fatalf("message %q, want %q", ev.Message, c.want)
			}
		})
	}
}

func TestEventsMapTimeSourceAndMetadata(t *testing.T) {
	traceID := []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	res := []*commonv1.KeyValue{kv("service.name", str("checkout")), kv("host.name", str("web-1"))}
	lr := &logsv1.LogRecord{
		TimeUnixNano: t0, ObservedTimeUnixNano: t0 + 1000, SeverityNumber: 17, SeverityText: "Error",
		Body: str("payment failed"), Attributes: []*commonv1.KeyValue{kv("order", integer(42)), kv("retry", boolean(false))},
		TraceId: traceID, SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Flags: 1, EventName: "payment.failed",
		DroppedAttributesCount: 2,
	}
	ev, v := mapOne(t, res, lr)
	if v != nil {
		t.Fatalf("refused: %+v", v)
	}
	if ev.Level != event.Error || ev.Source != "checkout" || ev.Identity != sender || ev.Message != "payment failed" {
		t.Fatalf("event %+v", ev)
	}
	if !ev.Timestamp.Equal(unixNano(t0)) || ev.Timestamp.Nanosecond() != 123456789 {
		t.Fatalf("timestamp %v, want time_unix_nano to the nanosecond", ev.Timestamp)
	}
	want := map[string]any{
		"resource":        map[string]any{"service.name": "checkout", "host.name": "web-1"},
		"scope":           map[string]any{"name": "app/db", "version": "1.2"},
		"attributes":      map[string]any{"order": float64(42), "retry": false},
		"trace_id":        "5b8efff798038103d269b633813fc60c",
		"span_id":         "0102030405060708",
		"flags":           float64(1),
		"severity_text":   "Error",
		"severity_number": float64(17),
		"event_name":      "payment.failed",
		"observed_time":   "2026-01-02T03:04:05.123457789Z",
		"dropped_attributes_count": map[string]any{
			"resource": float64(0), "scope": float64(0), "record": float64(2)},
	}
	if got, exp := jsonText(ev.Metadata), jsonText(want); got != exp {
		t.Fatalf("metadata\n got %s\nwant %s", got, exp)
	}
	if u, err := uuid.Parse(ev.ID); err != nil || u.Version() != 8 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("id %q: want a version 8 UUID (err %v)", ev.ID, err)
	}

	t.Run("observed time when time is 0", func(t *testing.T) {
		ev, _ := mapOne(t, res, &logsv1.LogRecord{ObservedTimeUnixNano: t0, Body: str("m")})
		if !ev.Timestamp.Equal(unixNano(t0)) || ev.Metadata["observed_time"] != nil {
			t.Fatalf("timestamp %v, metadata %v", ev.Timestamp, ev.Metadata)
		}
	})
	t.Run("now when both are 0, with a random id", func(t *testing.T) {
		a, _ := mapOne(t, res, &logsv1.LogRecord{Body: str("m")})
		b, _ := mapOne(t, res, &logsv1.LogRecord{Body: str("m")})
		if !a.Timestamp.Equal(now) || a.ID == b.ID {
			t.Fatalf("timestamp %v, ids %s %s: want now and two ids", a.Timestamp, a.ID, b.ID)
		}
	})
	t.Run("the last time a uint64 holds is storable", func(t *testing.T) {
		ev, v := mapOne(t, res, &logsv1.LogRecord{TimeUnixNano: math.MaxUint64, Body: str("m")})
		if v != nil || ev.Timestamp.Year() != 2554 {
			t.Fatalf("%v %+v", ev.Timestamp, v)
		}
	})
	t.Run("all-zero ids are absent", func(t *testing.T) {
		ev, _ := mapOne(t, res, &logsv1.LogRecord{Body: str("m"), TraceId: make([]byte, 16), SpanId: make([]byte, 8)})
		if ev.Metadata["trace_id"] != nil || ev.Metadata["span_id"] != nil {
			t.Fatalf("metadata %v", ev.Metadata)
		}
	})
	t.Run("no attributes, no metadata", func(t *testing.T) {
		evs, _, _ := Events(&logsv1.LogsData{ResourceLogs: []*logsv1.ResourceLogs{{ScopeLogs: []*logsv1.ScopeLogs{{
			LogRecords: []*logsv1.LogRecord{{TimeUnixNano: t0, Body: str("m")}}}}}}}, now, sender, limits)
		if len(evs) != 1 || evs[0].Metadata != nil || evs[0].Source != DefaultSource {
			t.Fatalf("%+v", evs)
		}
	})
	for _, c := range []struct {
		name string
		res  []*commonv1.KeyValue
		want string
	}{
		{"no service.name", []*commonv1.KeyValue{kv("host.name", str("h"))}, DefaultSource},
		{"blank service.name", service("  "), DefaultSource},
		{"service.name not a string", []*commonv1.KeyValue{kv("service.name", integer(7))}, "7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ev, _ := mapOne(t, c.res, &logsv1.LogRecord{Body: str("m")}); ev.Source != c.want {
				t.Fatalf("source %q, want %q", ev.Source, c.want)
			}
		})
	}
}

func TestEventsBoundAttributes(t *testing.T) {
	many := func(n int) []*commonv1.KeyValue {
		var kvs []*commonv1.KeyValue
		for i := 0; i < n; i++ {
			kvs = append(kvs, kv(fmt.Sprintf("k%03d", i), integer(int64(i))))
		}
		return kvs
	}
	lr := &logsv1.LogRecord{Body: str("m"), Attributes: append(many(200), kv("k000", str("again"))), DroppedAttributesCount: 5}
	ev, v := mapOne(t, append(service("s"), many(130)...), lr)
	if v != nil {
		t.Fatalf("refused: %+v", v)
	}
	attrs := ev.Metadata["attributes"].(map[string]any)
	if len(attrs) != 128 || attrs["k000"] != "again" || attrs["k127"] == nil || attrs["k128"] != nil {
		t.Fatalf("kept %d attributes (k000=%v k127=%v k128=%v), want the first 128, a repeated key replacing", len(attrs), attrs["k000"], attrs["k127"], attrs["k128"])
	}
	dropped := ev.Metadata["dropped_attributes_count"].(map[string]any)
	if dropped["record"] != float64(72+5) || dropped["resource"] != float64(131-128) || dropped["scope"] != float64(0) {
		t.Fatalf("dropped %v, want record 77 (72 here, 5 by the sender), resource 3", dropped)
	}
	if n := len(ev.Metadata["resource"].(map[string]any)); n != 128 {
		t.Fatalf("resource kept %d attributes, want 128", n)
	}
}

func TestEventsRefuseWhatCannotBeStored(t *testing.T) {
	deep := str("x")
	for i := 0; i < MaxDepth+1; i++ {
		deep = array(deep)
	}
	cases := []struct {
		name   string
		res    []*commonv1.KeyValue
		lr     *logsv1.LogRecord
		field  string
		reason string
	}{
		{"NUL in the body", service("s"), &logsv1.LogRecord{Body: str("a\x00b")}, ".body", "message: must be UTF-8 without NUL bytes"},
		{"NUL inside a structured body", service("s"), &logsv1.LogRecord{Body: kvlist(kv("k", array(str("\x00"))))}, `.body["k"][0]`, textReason},
		{"NUL in an attribute", service("s"), &logsv1.LogRecord{Body: str("m"), Attributes: []*commonv1.KeyValue{kv("k", str("\x00"))}}, `.attributes["k"]`, textReason},
		{"NUL in an attribute key", service("s"), &logsv1.LogRecord{Body: str("m"), Attributes: []*commonv1.KeyValue{kv("a\x00", str("v"))}}, `.attributes["a\x00"]`, "key " + textReason},
		{"NUL in the severity text", service("s"), &logsv1.LogRecord{Body: str("m"), SeverityText: "\x00"}, ".severityText", textReason},
		{"NUL in the service name", service("s\x00"), &logsv1.LogRecord{Body: str("m")}, `resource.attributes["service.name"]`, textReason},
		{"nested deeper than MaxDepth", service("s"), &logsv1.LogRecord{Body: str("m"), Attributes: []*commonv1.KeyValue{kv("deep", deep)}}, `.attributes["deep"]`, "nested deeper than 32 levels"},
		{"message over the event limit", service("s"), &logsv1.LogRecord{Body: str(strings.Repeat("x", event.MaxMessageBytes+1))}, ".body", "message: longer than"},
		{"source over the event limit", service(strings.Repeat("s", event.MaxSourceBytes+1)), &logsv1.LogRecord{Body: str("m")}, "", "source (the resource's service.name): longer than"},
		{"attributes over the metadata limit", service("s"), &logsv1.LogRecord{Body: str("m"), Attributes: []*commonv1.KeyValue{kv("big", str(strings.Repeat("x", event.MaxMetadataJSONBytes)))}}, "", "metadata (resource, scope and record attributes): larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, v := mapOne(t, c.res, c.lr)
			if v == nil {
				t.Fatal("stored; want refused")
			}
			want := "resourceLogs[0].scopeLogs[0].logRecords[0]" + c.field
			if strings.HasPrefix(c.field, "resource.") {
				want = "resourceLogs[0]." + c.field
			}
			if !strings.HasPrefix(v.Field, want) || !strings.Contains(v.Description, c.reason) {
				t.Fatalf("refused %q: %q; want %q: ...%q...", v.Field, v.Description, want, c.reason)
			}
		})
	}
	// A deep value just within the bound is stored.
	ok := str("x")
	for i := 0; i < MaxDepth; i++ {
		ok = array(ok)
	}
	if _, v := mapOne(t, service("s"), &logsv1.LogRecord{Body: str("m"), Attributes: []*commonv1.KeyValue{kv("deep", ok)}}); v != nil {
		t.Fatalf("depth %d refused: %+v", MaxDepth, v)
	}
}

// TestEventsRefuseRecordByRecord: in a request of two resources, a bad
// resource attribute refuses that resource's records only, and a bad
// record only itself; refusals come in request order, named by path.
func TestEventsRefuseRecordByRecord(t *testing.T) {
	good := request(service("good"), &logsv1.LogRecord{Body: str("1")}, &logsv1.LogRecord{Body: str("\x00")}, &logsv1.LogRecord{Body: str("3")})
	bad := request([]*commonv1.KeyValue{kv("service.name", str("bad")), kv("pod", str("p\x00"))}, &logsv1.LogRecord{Body: str("4")})
	req := &logsv1.LogsData{ResourceLogs: append(good.ResourceLogs, bad.ResourceLogs...)}
	evs, refused, err := Events(req, now, sender, limits)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Message != "1" || evs[1].Message != "3" {
		t.Fatalf("events %+v, want 1 and 3", evs)
	}
	want := []string{"resourceLogs[0].scopeLogs[0].logRecords[1].body", `resourceLogs[1].resource.attributes["pod"]`}
	if len(refused) != 2 || refused[0].Field != want[0] || refused[1].Field != want[1] {
		t.Fatalf("refused %+v, want %v", refused, want)
	}
}

func TestEventsRefuseTooManyRecords(t *testing.T) {
	recs := make([]*logsv1.LogRecord, 11)
	for i := range recs {
		recs[i] = &logsv1.LogRecord{Body: str("m")}
	}
	_, _, err := Events(request(service("s"), recs...), now, sender, Limits{MaxRecords: 10, MaxAttributes: 1})
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "11 log records, more than 10") {
		t.Fatalf("err %v, want ErrTooLarge naming the counts", err)
	}
}

// TestContentID: the id is a function of the mapped content, so a retried
// record gets its id again, and any difference in what the store compares
// gives another id.
func TestContentID(t *testing.T) {
	base := func() *logsv1.LogRecord {
		return &logsv1.LogRecord{TimeUnixNano: t0, SeverityNumber: 9, Body: str("m"), Attributes: []*commonv1.KeyValue{kv("a", str("1")), kv("b", str("2"))}}
	}
	ref, _ := mapOne(t, service("s"), base())
	again, _ := mapOne(t, service("s"), base())
	if ref.ID != again.ID {
		t.Fatalf("the same record mapped twice: ids %s and %s", ref.ID, again.ID)
	}
	reordered := base()
	reordered.Attributes[0], reordered.Attributes[1] = reordered.Attributes[1], reordered.Attributes[0]
	if ev, _ := mapOne(t, service("s"), reordered); ev.ID != ref.ID {
		t.Fatal("attribute order changed the id; metadata is compared as JSON values")
	}
	changes := map[string]func(*logsv1.LogRecord){
		"a nanosecond later": func(l *logsv1.LogRecord) { l.TimeUnixNano++ },
		"other severity":     func(l *logsv1.LogRecord) { l.SeverityNumber = 13 },
		"other body":         func(l *logsv1.LogRecord) { l.Body = str("n") },
		"other attribute":    func(l *logsv1.LogRecord) { l.Attributes[1] = kv("b", str("3")) },
		"a string for a number": func(l *logsv1.LogRecord) {
			l.Attributes[0] = kv("a", integer(1))
		},
		"observed time": func(l *logsv1.LogRecord) { l.ObservedTimeUnixNano = t0 + 1 },
		"span id":       func(l *logsv1.LogRecord) { l.SpanId = []byte{1, 2, 3, 4, 5, 6, 7, 8} },
	}
	for name, change := range changes {
		lr := base()
		change(lr)
		if ev, _ := mapOne(t, service("s"), lr); ev.ID == ref.ID {
			t.Errorf("%s: same id", name)
		}
	}
	if ev, _ := mapOne(t, service("t"), base()); ev.ID == ref.ID {
		t.Error("other source: same id")
	}
	if ev, _ := mapOne(t, append(service("s"), kv("pod", str("p"))), base()); ev.ID == ref.ID {
		t.Error("other resource: same id")
	}
}

// TestEventsBoundSharedMetadata: a resource is copied into the event of
// each of its records, so its size times its records is bounded per
// request, and a resource over the event limit refuses its records
// without validating each of them with it.
func TestEventsBoundSharedMetadata(t *testing.T) {
	big := append(service("s"), kv("blob", str(strings.Repeat("x", 10<<10))))
	recs := make([]*logsv1.LogRecord, 100)
	for i := range recs {
		recs[i] = &logsv1.LogRecord{Body: str("m")}
	}
	req := request(big, recs...)
	lim := limits
	lim.MaxSharedBytes = 100 * (10 << 10) // less than 100 copies of the resource and scope
	if _, _, err := Events(req, now, sender, lim); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "copied into each record's event") {
		t.Fatalf("err %v, want ErrTooLarge naming the copies", err)
	}
	lim.MaxSharedBytes = 2 * 100 * (10 << 10)
	if evs, refused, err := Events(req, now, sender, lim); err != nil || len(evs) != 100 || len(refused) != 0 {
		t.Fatalf("within the bound: %d events, %v, %v", len(evs), refused, err)
	}
	huge := request(append(service("s"), kv("blob", str(strings.Repeat("x", event.MaxMetadataJSONBytes)))), recs...)
	evs, refused, err := Events(huge, now, sender, limits)
	if err != nil || len(evs) != 0 || len(refused) != 100 || refused[0].Field != "resourceLogs[0].resource.attributes" ||
		!strings.Contains(refused[0].Description, "larger than") {
		t.Fatalf("resource over the event limit: %d events, %d refused (%+v), %v", len(evs), len(refused), refused[:min(1, len(refused))], err)
	}
}
