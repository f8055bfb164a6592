package event

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func valid() Event {
	return Event{ID: "id-1", Level: Info, Message: "m", Source: "s", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Metadata: map[string]any{"k": "v"}, Identity: "spiffe://logsys.local/dev/client"}
}

// TestValidateStorageRules: the rules that used to live in the store are
// the event's own.
func TestValidateStorageRules(t *testing.T) {
	zone := func(sec int) time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", sec)) }
	cases := []struct {
		name, field string // field "" when valid
		edit        func(e *Event)
	}{
		{"valid", "", func(e *Event) {}},
		{"no metadata", "", func(e *Event) { e.Metadata = nil }},
		{"no identity", "", func(e *Event) { e.Identity = "" }},
		{"lowercase level", "", func(e *Event) { e.Level = "warn" }},
		{"HTML in metadata fits once encoded", "", func(e *Event) { e.Metadata = map[string]any{"k": strings.Repeat("<", MaxMetadataBytes-16)} }},
		{"zone -23:59", "", func(e *Event) { e.Timestamp = zone(-(23*3600 + 59*60)) }},
		{"first microsecond of year 1", "", func(e *Event) { e.Timestamp = time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC) }},
		{"last moment of year 9999", "", func(e *Event) { e.Timestamp = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC) }},
		{"NUL in id", "id", func(e *Event) { e.ID = "a\x00" }},
		{"invalid UTF-8 in id", "id", func(e *Event) { e.ID = "\xff" }},
		{"NUL in message", "message", func(e *Event) { e.Message = "a\x00b" }},
		{"invalid UTF-8 in message", "message", func(e *Event) { e.Message = "a\xc3" }},
		{"NUL in source", "source", func(e *Event) { e.Source = "\x00s" }},
		{"NUL in identity", "identity", func(e *Event) { e.Identity = "spiffe://a/b/\x00" }},
		{"identity too long", "identity", func(e *Event) { e.Identity = strings.Repeat("x", MaxIdentityBytes+1) }},
		{"NUL in metadata value", "metadata", func(e *Event) { e.Metadata = map[string]any{"k": "a\x00"} }},
		{"NUL in metadata key", "metadata", func(e *Event) { e.Metadata = map[string]any{"\x00": 1.0} }},
		{"NUL deep in metadata", "metadata", func(e *Event) { e.Metadata = map[string]any{"k": []any{map[string]any{"x": "\x00"}}} }},
		{"NUL in a Go-typed metadata value", "metadata", func(e *Event) { e.Metadata = map[string]any{"k": []string{"\x00"}} }},
		{"invalid UTF-8 in metadata", "metadata", func(e *Event) { e.Metadata = map[string]any{"k": []any{"\xc3"}} }},
		{"NaN in metadata", "metadata", func(e *Event) { e.Metadata = map[string]any{"n": math.NaN()} }},
		{"metadata too large once encoded", "metadata", func(e *Event) { e.Metadata = map[string]any{"k": strings.Repeat("x", MaxMetadataJSONBytes)} }},
		{"year 10000 in UTC", "timestamp", func(e *Event) {
			e.Timestamp = time.Date(9999, 12, 31, 23, 59, 59, 0, time.FixedZone("", -(23*3600+59*60)))
		}},
		{"year 0 in UTC", "timestamp", func(e *Event) { e.Timestamp = time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)) }},
		{"year 10000 in its own zone", "timestamp", func(e *Event) {
			e.Timestamp = time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC).In(time.FixedZone("", 2*3600))
		}},
		{"zone +24:00", "timestamp", func(e *Event) { e.Timestamp = zone(24 * 3600) }},
		{"zone offset with seconds", "timestamp", func(e *Event) { e.Timestamp = zone(3600 + 30) }},
		{"no timestamp", "timestamp", func(e *Event) { e.Timestamp = time.Time{} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := valid()
			tc.edit(&e)
			err := e.Validate()
			var fe *FieldError
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("Validate = %v; want a FieldError for %s", err, tc.field)
			}
		})
	}
}

func TestNormalizeEncodesMetadata(t *testing.T) {
	e := valid()
	e.Metadata = map[string]any{"b": "<&>", "a": []any{1.0, nil, true}}
	js, err := e.Normalize()
	if err != nil || string(js) != `{"a":[1,null,true],"b":"<&>"}` {
		t.Fatalf("Normalize = %s, %v", js, err)
	}
	e.Metadata = nil
	if js, err := e.Normalize(); err != nil || js != nil {
		t.Fatalf("Normalize without metadata = %q, %v; want nil", js, err)
	}
}

// TestScanBoundsTheEncoding: the size Validate assumes without encoding is
// never below the real one, so both decide alike.
func TestScanBoundsTheEncoding(t *testing.T) {
	values := []any{
		nil, true, false, 0.0, -0.0, 1e20, 1e21, -1.2345678901234567e-308, 5e-324, math.MaxFloat64,
		-0.0000012345678901234567, 123456789012345678901.0, "", "\x01\x1f\"\\<>&\u2028\u2029\ufffd",
		map[string]any{}, []any{}, map[string]any{"\x01": []any{nil, map[string]any{"\u2028": -1e-7}}},
	}
	for _, v := range values {
		m := map[string]any{"k": v, "\"": []any{v, v}}
		bound, native, bad := scan(m)
		js, reason := encodeMetadata(new(bytes.Buffer), m)
		if bad != "" || reason != "" || !native || bound < len(js) {
			t.Errorf("%#v: bound %d (native %v, bad %q) for %d encoded bytes %s (%s)", v, bound, native, bad, len(js), js, reason)
		}
	}
	if _, native, _ := scan(map[string]any{"k": math.Inf(1)}); native {
		t.Error("infinity counted as encodable")
	}
}

func TestDecodeFromStampsIdentity(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e, err := DecodeFrom([]byte(`{"message":"m","source":"s"}`), now, "spiffe://logsys.local/dev/client")
	if err != nil || e.Identity != "spiffe://logsys.local/dev/client" {
		t.Fatalf("DecodeFrom = %+v, %v", e, err)
	}
	var fe *FieldError
	if _, err := DecodeFrom([]byte(`{"message":"m","source":"s"}`), now, strings.Repeat("x", MaxIdentityBytes+1)); !errors.As(err, &fe) || fe.Field != "identity" {
		t.Fatalf("DecodeFrom with an oversized identity = %v; want a FieldError for identity", err)
	}
}

func TestDecodeForwarded(t *testing.T) {
	e, err := DecodeForwarded([]byte(`{"id":"a","level":"warn","message":"m","source":"s","timestamp":"2026-01-01T00:00:00+01:00","identity":"spiffe://x/y/z"}`))
	if err != nil || e.Level != Warn || e.Identity != "spiffe://x/y/z" {
		t.Fatalf("DecodeForwarded = %+v, %v", e, err)
	}
	if _, err := DecodeForwarded([]byte(`not json`)); !errors.Is(err, ErrNotJSON) {
		t.Fatalf("DecodeForwarded(not json) = %v; want ErrNotJSON", err)
	}
	var fe *FieldError
	if _, err := DecodeForwarded([]byte(`{"id":"a","level":"INFO","message":"nul \u0000","source":"s","timestamp":"2026-01-01T00:00:00Z"}`)); !errors.As(err, &fe) || fe.Field != "message" {
		t.Fatalf("DecodeForwarded(NUL) = %v; want a FieldError for message", err)
	}
}

func TestHasNULEscape(t *testing.T) {
	cases := []struct {
		js   string
		want bool
	}{
		{`{"a":"b"}`, false},
		{`{"a":"\u0000"}`, true},
		{`{"\u0000":1}`, true},
		{`{"a":"\\u0000"}`, false}, // an escaped backslash, then text
		{`{"a":"\\\u0000"}`, true},
		{`{"a":"\u00001"}`, true},
		{`{"a":"\u0001"}`, false},
		{`"\u000`, false},
	}
	for _, tc := range cases {
		if got := hasNULEscape([]byte(tc.js)); got != tc.want {
			t.Errorf("hasNULEscape(%s) = %v, want %v", tc.js, got, tc.want)
		}
	}
}

// TestYearsBySecondsAgreeWithDates: ValidTime and localYearIn0To9999
// answer as the dates do, around every boundary and in far zones.
func TestYearsBySecondsAgreeWithDates(t *testing.T) {
	t.Parallel()
	var times []time.Time
	for _, y := range []int{-1, 0, 1, 2, 9998, 9999, 10000, -300000, 300000} {
		for _, d := range []time.Duration{-time.Nanosecond, 0, time.Nanosecond, -time.Second, time.Second} {
			times = append(times, time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).Add(d))
		}
	}
	zones := []*time.Location{time.UTC, time.Local}
	for _, off := range []int{-(23*3600 + 59*60), -3600, 1, 90, 5*3600 + 30*60, 23*3600 + 59*60, 2e9, -2e9} {
		zones = append(zones, time.FixedZone("", off))
	}
	for _, ut := range times {
		for _, z := range zones {
			tt := ut.In(z)
			uy, ly := tt.UTC().Year(), tt.Year()
			if got, want := ValidTime(tt), uy >= 1 && uy <= 9999; got != want {
				t.Errorf("ValidTime(%v) = %v, want %v", tt, got, want)
			}
			if got, want := localYearIn0To9999(tt), ly >= 0 && ly <= 9999; got != want {
				t.Errorf("localYearIn0To9999(%v) = %v, want %v", tt, got, want)
			}
		}
	}
}
