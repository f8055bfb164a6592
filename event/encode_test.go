package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"
)

// marshalNoHTML is encoding/json's form of e without HTML escaping: what
// AppendJSON must produce byte for byte.
func marshalNoHTML(t testing.TB, e *Event) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 1, 2, 15, 4, 5, 123456789, time.FixedZone("x", 5*3600+30*60))
	cases := []Event{
		{ID: "a", Level: Info, Message: "m", Source: "s", Timestamp: time.Unix(0, 0).UTC()},
		{ID: "a\"b\\c", Level: Warn, Message: "tab\tnl\ncr\r\x01\x1f <&> \u2028\u2029 é 世", Source: "s", Timestamp: ts,
			Identity: "spiffe://logsys.local/dev/client"},
		{ID: "f", Level: Info, Message: "m", Source: "s", Timestamp: ts, Identity: "spiffe://logsys.local/dev/client", TimestampFilled: true},
		{ID: "b", Level: Error, Message: "bad \xff utf8", Source: "s", Timestamp: ts, Metadata: map[string]any{}},
		{ID: "c", Level: Debug, Message: "m", Source: "s", Timestamp: ts, Metadata: map[string]any{
			"z": 1.0, "a": []any{1e20, 1e21, -0.0, 1e-7, 123456789.125, 0.000001, nil, true, false, "x<y>"},
			"m": map[string]any{"k": map[string]any{}, "e": []any{}}, "n": nil, "i": 42, "s": []string{"a"},
		}},
	}
	for _, e := range cases {
		got, err := e.AppendJSON(nil)
		if err != nil {
			t.Fatalf("AppendJSON(%+v): %v", e, err)
		}
		if want := marshalNoHTML(t, &e); !bytes.Equal(got, want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	}
}

func TestAppendJSONRefusesWhatEncodingJSONRefuses(t *testing.T) {
	t.Parallel()
	ts := time.Unix(0, 0).UTC()
	for _, e := range []Event{
		{ID: "a", Level: Info, Message: "m", Source: "s", Timestamp: ts.AddDate(10000, 0, 0)},
		{ID: "a", Level: Info, Message: "m", Source: "s", Timestamp: ts, Metadata: map[string]any{"f": 1 / zero()}},
		{ID: "a", Level: Info, Message: "m", Source: "s", Timestamp: ts, Metadata: map[string]any{"c": make(chan int)}},
	} {
		if _, err := e.AppendJSON(nil); err == nil {
			t.Errorf("AppendJSON(%+v) succeeded", e)
		}
		if _, err := json.Marshal(&e); err == nil {
			t.Errorf("json.Marshal(%+v) succeeded", e)
		}
	}
}

func zero() float64 { return 0 }

// FuzzAppendJSON: for every event Decode accepts, AppendJSON writes what
// encoding/json writes (without HTML escaping).
func FuzzAppendJSON(f *testing.F) {
	for _, in := range benchInputs {
		f.Add(in)
	}
	f.Add([]byte(`{"message":"m\u0001<>","source":"s","metadata":{"a":[1e20,-0,1e-9,"<\u2028>",{"b":null}]}}`))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := DecodeFrom(body, now, "spiffe://logsys.local/dev/client")
		if err != nil {
			return
		}
		got, err := ev.AppendJSON(nil)
		if err != nil {
			t.Fatalf("Decode accepted %q, AppendJSON refuses it: %v", body, err)
		}
		if want := marshalNoHTML(t, &ev); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON:\n got %s\nwant %s", got, want)
		}
	})
}

// TestPlain8AgreesWithBytes: plain8 judges 8 bytes as the byte loop of
// appendString does, for every byte value in every position.
func TestPlain8AgreesWithBytes(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' }
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			if want := plain(byte(c)); plain8(string(b)) != want {
				t.Fatalf("plain8(%q) = %v, want %v", b, !want, want)
			}
		}
	}
	for _, s := range []string{"\x00\x00\x00\x00\x00\x00\x00\x00", "\x1f\x20\x21\x22\x5b\x5c\x5d\x7f", "~~~~~~~~", "        "} {
		want := true
		for i := range len(s) {
			want = want && plain(s[i])
		}
		if plain8(s) != want {
			t.Errorf("plain8(%q) = %v, want %v", s, !want, want)
		}
	}
}
