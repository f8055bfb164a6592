package pack

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// packOf is the record the producer writes for lines.
func packOf(key string, lines ...string) *kgo.Record {
	return &kgo.Record{Topic: "log-events", Partition: 2, Offset: 41, Key: []byte(key),
		Value: bytes.Join(func() (bs [][]byte) {
			for _, l := range lines {
				bs = append(bs, []byte(l))
			}
			return
		}(), []byte{Sep}),
		Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t")}, {Key: Header, Value: HeaderValue(len(lines))}}}
}

// TestUnpackPack: each line becomes a record of its own at the pack's
// position, with the pack's key and other headers, and its index.
func TestUnpackPack(t *testing.T) {
	t.Parallel()
	rec := packOf("src", `{"a":1}`, `{"b":2}`, `{"c":3}`)
	rec.Timestamp = time.Unix(5, 0)
	if n := Count(rec); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	got, err := Unpack(nil, rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d records, want 3", len(got))
	}
	for i, r := range got {
		want := []string{`{"a":1}`, `{"b":2}`, `{"c":3}`}[i]
		if string(r.Value) != want || string(r.Key) != "src" || r.Topic != "log-events" || r.Partition != 2 || r.Offset != 41 || !r.Timestamp.Equal(rec.Timestamp) {
			t.Errorf("event %d: %+v", i, r)
		}
		if len(r.Headers) != 2 || r.Headers[0].Key != "trace" || r.Headers[1].Key != IndexHeader || string(r.Headers[1].Value) != strconv.Itoa(i) {
			t.Errorf("event %d headers %+v, want trace and %s: %d", i, r.Headers, IndexHeader, i)
		}
	}
}

// TestUnpackOneEvent: a record without the header is one event, itself.
func TestUnpackOneEvent(t *testing.T) {
	t.Parallel()
	rec := &kgo.Record{Value: []byte("{\"a\":\"x\"}\n{}")} // a newline, but no header: one value
	got, err := Unpack([]*kgo.Record{nil}, rec)
	if err != nil || len(got) != 2 || got[1] != rec || Count(rec) != 1 {
		t.Fatalf("Unpack = %v, %v; want rec itself appended", got, err)
	}
}

// TestUnpackRefusesMalformed: a forged or garbled header or body is an
// ErrMalformed error and yields nothing.
func TestUnpackRefusesMalformed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, header, value string
	}{
		{"other version", "v2 2", "{}\n{}"},
		{"no count", "v1", "{}"},
		{"count not a number", "v1 two", "{}\n{}"},
		{"zero events", "v1 0", "{}"},
		{"negative count", "v1 -1", "{}"},
		{"padded count", "v1 02", "{}\n{}"},
		{"count too large", "v1 99999999999", "{}"},
		{"fewer lines than the count", "v1 3", "{}\n{}"},
		{"more lines than the count", "v1 1", "{}\n{}"},
		{"empty line", "v1 3", "{}\n\n{}"},
		{"trailing newline", "v1 2", "{}\n"},
		{"empty value", "v1 1", ""},
	} {
		rec := &kgo.Record{Value: []byte(tt.value), Headers: []kgo.RecordHeader{{Key: Header, Value: []byte(tt.header)}}}
		got, err := Unpack(nil, rec)
		if !errors.Is(err, ErrMalformed) || len(got) != 0 {
			t.Errorf("%s: Unpack = %d records, %v; want ErrMalformed", tt.name, len(got), err)
		}
	}
}

// FuzzUnpack: whatever the header and value, Unpack either refuses with
// ErrMalformed or returns the count's events, whose values joined give
// the value back.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte("v1 2"), []byte("{}\n{}"))
	f.Add([]byte("v1 1"), []byte(""))
	f.Add([]byte("v9 0"), []byte("\n\n"))
	f.Fuzz(func(t *testing.T, header, value []byte) {
		rec := &kgo.Record{Value: value, Headers: []kgo.RecordHeader{{Key: Header, Value: header}}}
		got, err := Unpack(nil, rec)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if len(got) != Count(rec) {
			t.Fatalf("%d events, Count %d", len(got), Count(rec))
		}
		var vs [][]byte
		for _, r := range got {
			vs = append(vs, r.Value)
		}
		if !bytes.Equal(bytes.Join(vs, []byte{Sep}), value) {
			t.Fatalf("events %q do not join to %q", vs, value)
		}
	})
}
