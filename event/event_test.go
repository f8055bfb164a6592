package event

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestDecode(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name  string
		in    string
		field string // "" when valid
		check func(t *testing.T, e Event)
	}{
		{"minimal event gets id, level and timestamp", `{"message":"m","source":"s"}`, "", func(t *testing.T, e Event) {
			if e.ID == "" || e.Level != Info || !e.Timestamp.Equal(now) {
				t.Fatalf("defaults not filled: %+v", e)
			}
		}},
		{"level is case-insensitive", `{"message":"m","source":"s","level":"warn"}`, "", func(t *testing.T, e Event) {
			if e.Level != Warn {
				t.Fatalf("level %q", e.Level)
			}
		}},
		{"given id and timestamp kept", `{"id":"abc","message":"m","source":"s","timestamp":"2025-05-06T07:08:09.5Z"}`, "", func(t *testing.T, e Event) {
			if e.ID != "abc" || e.Timestamp.Nanosecond() != 5e8 {
				t.Fatalf("%+v", e)
			}
		}},
		{"metadata object", `{"message":"m","source":"s","metadata":{"a":1,"b":"x"}}`, "", func(t *testing.T, e Event) {
			if e.Metadata["b"] != "x" {
				t.Fatalf("%+v", e.Metadata)
			}
		}},
		{"missing message", `{"source":"s"}`, "message", nil},
		{"blank message", `{"message":"  ","source":"s"}`, "message", nil},
		{"missing source", `{"message":"m"}`, "source", nil},
		{"unknown level", `{"message":"m","source":"s","level":"LOUD"}`, "level", nil},
		{"bad timestamp", `{"message":"m","source":"s","timestamp":"today"}`, "timestamp", nil},
		{"message not a string", `{"message":1,"source":"s"}`, "message", nil},
		{"metadata not an object", `{"message":"m","source":"s","metadata":[1]}`, "metadata", nil},
		{"identity may not be sent", `{"message":"m","source":"s","identity":"spiffe://a/b/c"}`, "identity", nil},
		{"id with whitespace", `{"id":"a b","message":"m","source":"s"}`, "id", nil},
		{"id too long", `{"id":"` + strings.Repeat("a", MaxIDBytes+1) + `","message":"m","source":"s"}`, "id", nil},
		{"message too long", `{"message":"` + strings.Repeat("a", MaxMessageBytes+1) + `","source":"s"}`, "message", nil},
		{"source too long", `{"message":"m","source":"` + strings.Repeat("a", MaxSourceBytes+1) + `"}`, "source", nil},
		{"not an object", `[1,2]`, "body", nil},
		{"broken JSON", `{"message":`, "body", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.in), now)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				tc.check(t, e)
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("error %v, want a FieldError on %q", err, tc.field)
			}
		})
	}
}

func TestParseLevel(t *testing.T) {
	for _, l := range Levels {
		if got, err := ParseLevel(strings.ToLower(string(l))); err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %q, %v", l, got, err)
		}
	}
	if _, err := ParseLevel("VERBOSE"); err == nil {
		t.Error("VERBOSE accepted")
	}
}

func TestNewIDIsTimeOrderedAndUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for range 10000 {
		id := NewID()
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("NewID() = %q: not a version 7 UUID (%v)", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		if id <= prev {
			t.Fatalf("NewID() = %q after %q: not increasing", id, prev)
		}
		seen[id], prev = true, id
	}
}
