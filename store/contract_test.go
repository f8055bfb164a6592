package store

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"logsys/event"
)

func TestWriteIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		batch := recs("idem", 20, t0)
		dup := append(slices.Clone(batch[:1]), batch[:1]...)
		steps := []struct {
			name string
			recs []Record
			want int
		}{
			{"first delivery", batch[:10], 10},
			{"redelivery", batch[:10], 0},
			{"overlapping batch", batch[5:15], 5},
			{"repeat inside a batch", append(slices.Clone(batch[15:17]), batch[15:17]...), 2},
			{"repeat of a stored id inside a batch", dup, 0},
			{"rest", batch[17:], 3},
			{"empty batch", nil, 0},
		}
		for _, st := range steps {
			n, err := s.Write(ctx, st.recs)
			if err != nil || n != st.want {
				t.Fatalf("%s: Write = %d, %v; want %d, nil", st.name, n, err, st.want)
			}
		}
		got := ids(all(t, s, "idem"))
		want := ids(batch)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Fatalf("stored ids = %v\nwant %v", got, want)
		}
	})
}

// invalidRecords are records every backend must refuse, with the field
// Record.Validate names.
var invalidRecords = []struct {
	name, field string
	bad         func(r *Record)
}{
	{"NUL in message", "message", func(r *Record) { r.Message = "a\x00b" }},
	{"NUL in metadata", "metadata", func(r *Record) { r.Metadata = map[string]any{"k": "a\x00b"} }},
	{"NUL in metadata key", "metadata", func(r *Record) { r.Metadata = map[string]any{"a\x00": "b"} }},
	{"invalid UTF-8 in source", "source", func(r *Record) { r.Source = "\xff\xfe" }},
	{"invalid UTF-8 in metadata", "metadata", func(r *Record) { r.Metadata = map[string]any{"k": []any{"\xc3"}} }},
	{"message too long", "message", func(r *Record) { r.Message = strings.Repeat("x", event.MaxMessageBytes+1) }},
	{"identity too long", "identity", func(r *Record) { r.Identity = strings.Repeat("x", MaxIdentityBytes+1) }},
	{"metadata not JSON", "metadata", func(r *Record) { r.Metadata = map[string]any{"nan": math.NaN()} }},
	{"metadata too large", "metadata", func(r *Record) { r.Metadata = map[string]any{"k": strings.Repeat("x", event.MaxMetadataJSONBytes)} }},
	{"timestamp after year 9999", "timestamp", func(r *Record) { r.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
	{"received before year 1", "received_at", func(r *Record) { r.ReceivedAt = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) }},
	{"no message", "message", func(r *Record) { r.Message = " " }},
	{"bad level", "level", func(r *Record) { r.Level = "LOUD" }},
	{"no id", "id", func(r *Record) { r.ID = "" }},
}

func TestWriteAllOrNothing(t *testing.T) {
	// The bad record comes last in a batch large enough that the earlier
	// rows have reached the database before it is seen.
	const n = 1500
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		if _, err := s.Write(ctx, recs("kept", 3, t0)); err != nil {
			t.Fatal(err)
		}
		for _, tc := range invalidRecords {
			t.Run(tc.name, func(t *testing.T) {
				batch := recs("aon", n, t0)
				batch = append(batch, recs("aon-extra", 1, t0)...)
				batch[n].Source = "aon"
				tc.bad(&batch[n])
				_, err := s.Write(ctx, batch)
				if !errors.Is(err, ErrInvalidRecord) {
					t.Fatalf("Write error = %v; want ErrInvalidRecord", err)
				}
				var re *RecordError
				if !errors.As(err, &re) || re.Index != n {
					t.Fatalf("Write error = %v; want a RecordError for index %d", err, n)
				}
				if got := len(all(t, s, "aon")); got != 0 {
					t.Fatalf("%d records stored after a failed batch", got)
				}
			})
		}
		if got := len(all(t, s, "kept")); got != 3 {
			t.Fatalf("earlier records: %d, want 3", got)
		}
	})
}

func TestWriteCancelled(t *testing.T) {
	// Whatever the moment the context ends, the batch is stored entirely
	// or not at all.
	const n = 4000
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		for i, d := range []time.Duration{0, 200 * time.Microsecond, time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond, 100 * time.Millisecond, 30 * time.Second} {
			src := "cancel-" + string(rune('a'+i))
			ctx, cancel := context.WithTimeout(context.Background(), d)
			_, err := s.Write(ctx, recs(src, n, t0))
			cancel()
			got := len(all(t, s, src))
			switch {
			case err == nil && got != n:
				t.Fatalf("timeout %v: Write succeeded but %d of %d stored", d, got, n)
			case err != nil && got != 0:
				t.Fatalf("timeout %v: Write failed (%v) but %d of %d stored", d, err, got, n)
			case d == 0 && err == nil:
				t.Fatalf("Write with an expired context succeeded")
			}
			t.Logf("timeout %v: err=%v stored=%d", d, err, got)
		}
	})
}

func TestRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ts := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 5*3600))
		in := []Record{
			{Event: event.Event{ID: "rt-1", Level: "warn", Message: "héllo\n\t\"quoted\" <b>&", Source: "rt", Timestamp: ts,
				Metadata: map[string]any{"s": "v", "n": 1.5, "big": float64(1 << 60), "b": true, "nil": nil,
					"list": []any{"a", 2.0}, "obj": map[string]any{"deep": "☃"}},
				Identity: "spiffe://logsys.local/dev/client"},
				KafkaPartition: 7, KafkaOffset: 1 << 40, ReceivedAt: ts.Add(time.Second)},
			{Event: event.Event{ID: "rt-2", Level: event.Fatal, Message: "no metadata", Source: "rt", Timestamp: ts.Add(-time.Hour)},
				ReceivedAt: ts},
			{Event: event.Event{ID: "rt-3", Level: event.Trace, Message: "empty metadata", Source: "rt", Timestamp: ts.Add(-2 * time.Hour),
				Metadata: map[string]any{}}, ReceivedAt: ts},
		}
		if _, err := s.Write(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		got := all(t, s, "rt")
		if len(got) != len(in) {
			t.Fatalf("got %d records, want %d", len(got), len(in))
		}
		for i, want := range in {
			want.Level = event.Level(strings.ToUpper(string(want.Level)))
			want.Timestamp = time.Date(2026, 5, 6, 2, 8, 9, 123456000, time.UTC).Add(-time.Duration(i) * time.Hour)
			want.ReceivedAt = micro(want.ReceivedAt)
			if !reflect.DeepEqual(got[i], want) {
				t.Errorf("record %d:\n got %#v\nwant %#v", i, got[i], want)
			}
		}
	})
}

func TestQueryFiltersAndOrder(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		var data []Record
		data = append(data, recs("api", 12, t0)...)
		data = append(data, recs("db", 12, t0)...) // same timestamps as api: ties ordered by id
		if _, err := s.Write(context.Background(), data); err != nil {
			t.Fatal(err)
		}
		at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
		cases := []struct {
			name string
			f    Filter
		}{
			{"everything", Filter{}},
			{"level", Filter{Level: event.Error}},
			{"source", Filter{Source: "db"}},
			{"level and source", Filter{Level: event.Info, Source: "api"}},
			{"since inclusive", Filter{Since: at(9)}},
			{"until exclusive", Filter{Until: at(2)}},
			{"window", Filter{Since: at(3), Until: at(7), Source: "api"}},
			{"empty window", Filter{Since: at(5), Until: at(5)}},
			{"since with nanoseconds", Filter{Since: at(10).Add(-time.Nanosecond)}},
			{"limit", Filter{Limit: 5}},
			{"unknown source", Filter{Source: "nope"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := s.Query(context.Background(), tc.f)
				if err != nil {
					t.Fatal(err)
				}
				want := reference(data, tc.f)
				if !slices.Equal(ids(got), want) {
					t.Fatalf("got  %v\nwant %v", ids(got), want)
				}
			})
		}
	})
}

// reference is the contract of Query written plainly.
func reference(data []Record, f Filter) []string {
	f, _ = f.normalize()
	var out []Record
	for _, r := range data {
		ts := micro(r.Timestamp)
		if (f.Level == "" || r.Level == f.Level) && (f.Source == "" || r.Source == f.Source) &&
			(f.Since.IsZero() || !ts.Before(micro(f.Since))) && (f.Until.IsZero() || ts.Before(micro(f.Until))) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b Record) int {
		if c := b.Timestamp.Compare(a.Timestamp); c != 0 {
			return c
		}
		if c := strings.Compare(b.ID, a.ID); c != 0 {
			return c
		}
		return strings.Compare(b.Identity, a.Identity)
	})
	return ids(out[:min(len(out), f.Limit)])
}

func TestQueryLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		if _, err := s.Write(context.Background(), recs("lim", MaxLimit+50, t0)); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			limit, want int
			param       string
		}{
			{0, DefaultLimit, ""}, {1, 1, ""}, {MaxLimit, MaxLimit, ""}, {MaxLimit + 1, MaxLimit, ""}, {-1, 0, "limit"},
		}
		for _, tc := range cases {
			got, err := s.Query(context.Background(), Filter{Limit: tc.limit})
			var fe *FilterError
			switch {
			case tc.param != "" && (!errors.As(err, &fe) || fe.Param != tc.param):
				t.Errorf("limit %d: error %v; want a FilterError for %s", tc.limit, err, tc.param)
			case tc.param == "" && (err != nil || len(got) != tc.want):
				t.Errorf("limit %d: %d records, %v; want %d", tc.limit, len(got), err, tc.want)
			}
		}
	})
}

func TestConcurrentMigrations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		cfg := b.config(t)
		const opens = 6
		stores := make([]Store, opens)
		errs := make([]error, opens)
		var wg sync.WaitGroup
		for i := range opens {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				stores[i], errs[i] = Open(ctx, cfg)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		ms, err := migrations(b.name)
		if err != nil {
			t.Fatal(err)
		}
		var want []int
		for _, m := range ms {
			want = append(want, m.version)
		}
		got, err := stores[0].(interface {
			versions(context.Context) ([]int, error)
		}).versions(context.Background())
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("applied migrations = %v, %v; want %v", got, err, want)
		}
		// Every store works against the one schema.
		for i, s := range stores {
			if n, err := s.Write(context.Background(), recs("mig", 3, t0)); err != nil || (i == 0) != (n == 3) {
				t.Fatalf("store %d: Write = %d, %v", i, n, err)
			}
		}
	})
}

func TestPing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		if err := s.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
