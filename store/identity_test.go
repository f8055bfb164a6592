package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"logsys/event"
)

const (
	senderA = "spiffe://logsys.local/dev/client-a"
	senderB = "spiffe://logsys.local/dev/client-b"
)

// keyed returns a valid record of source "keys" with the given key.
func keyed(identity, id, message string) Record {
	return Record{Event: event.Event{ID: id, Level: event.Info, Message: message, Source: "keys", Timestamp: t0,
		Metadata: map[string]any{"n": 1.0, "s": "x"}, Identity: identity}, KafkaPartition: 1, KafkaOffset: 10, ReceivedAt: t0}
}

// TestIDsAreScopedBySender is the attack: sender A claims an id first,
// sender B then sends the same id, A sends it again with other content.
// B's record is stored, A's second record is refused as a conflict (and
// nothing of its batch stored), A's redelivery is skipped.
func TestIDsAreScopedBySender(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		write := func(recs ...Record) (int, error) { return s.Write(ctx, recs) }
		if n, err := write(keyed(senderA, "shared", "from A")); n != 1 || err != nil {
			t.Fatalf("A first: Write = %d, %v", n, err)
		}
		if n, err := write(keyed(senderB, "shared", "from B")); n != 1 || err != nil {
			t.Fatalf("B with A's id: Write = %d, %v; want it stored", n, err)
		}
		redelivery := keyed(senderA, "shared", "from A")
		redelivery.KafkaPartition, redelivery.KafkaOffset, redelivery.ReceivedAt = 2, 99, t0.Add(time.Hour)
		if n, err := write(redelivery); n != 0 || err != nil {
			t.Fatalf("A redelivered: Write = %d, %v; want 0, nil", n, err)
		}
		_, err := write(keyed(senderA, "fresh", "m"), keyed(senderA, "shared", "other content from A"))
		var ce *ConflictError
		if !errors.Is(err, ErrIDConflict) || !errors.As(err, &ce) || !slices.Equal(ce.Indexes, []int{1}) {
			t.Fatalf("A with other content: Write error = %v; want a ConflictError for index 1", err)
		}
		got := all(t, s, "keys")
		if len(got) != 2 || got[0].Identity != senderB || got[1].Identity != senderA ||
			got[0].Message != "from B" || got[1].Message != "from A" {
			t.Fatalf("stored %+v; want B's and A's first record only (ties by identity, descending)", got)
		}
		counts := map[string]int{"stored": len(got), "conflicts refused": len(ce.Indexes)}
		t.Logf("attack: %v", counts)
	})
}

// TestWriteConflicts pins down "same content": every content field counts,
// where the consumer read a record does not.
func TestWriteConflicts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		base := keyed(senderA, "c", "m")
		if _, err := s.Write(ctx, []Record{base}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name     string
			edit     func(r *Record)
			conflict bool
		}{
			{"identical", func(r *Record) {}, false},
			{"other partition, offset and receipt", func(r *Record) { r.KafkaPartition, r.KafkaOffset, r.ReceivedAt = 0, 1, t0.Add(time.Minute) }, false},
			{"level in lower case", func(r *Record) { r.Level = "info" }, false},
			{"timestamp below a microsecond apart", func(r *Record) { r.Timestamp = t0.Add(999 * time.Nanosecond) }, false},
			{"timestamp in another zone", func(r *Record) { r.Timestamp = t0.In(time.FixedZone("X", 3600)) }, false},
			{"metadata built in another order", func(r *Record) { r.Metadata = map[string]any{"s": "x", "n": 1.0} }, false},
			{"other level", func(r *Record) { r.Level = event.Warn }, true},
			{"other message", func(r *Record) { r.Message = "m2" }, true},
			{"other source", func(r *Record) { r.Source = "keys2" }, true},
			{"timestamp a microsecond later", func(r *Record) { r.Timestamp = t0.Add(time.Microsecond) }, true},
			{"other metadata value", func(r *Record) { r.Metadata = map[string]any{"n": 2.0, "s": "x"} }, true},
			{"metadata absent", func(r *Record) { r.Metadata = nil }, true},
			{"metadata empty", func(r *Record) { r.Metadata = map[string]any{} }, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := keyed(senderA, "c", "m")
				tc.edit(&r)
				n, err := s.Write(ctx, []Record{r})
				var ce *ConflictError
				switch {
				case tc.conflict && (!errors.As(err, &ce) || !slices.Equal(ce.Indexes, []int{0})):
					t.Fatalf("Write = %d, %v; want a ConflictError for index 0", n, err)
				case !tc.conflict && (err != nil || n != 0):
					t.Fatalf("Write = %d, %v; want a skipped redelivery", n, err)
				}
			})
		}
		if got := all(t, s, "keys"); len(got) != 1 || !got[0].Timestamp.Equal(t0) || got[0].Message != "m" {
			t.Fatalf("stored %+v; want the first record only", got)
		}
	})
}

// TestWriteConflictsInABatch: the batch is refused as a whole, every
// conflicting index is listed (against stored records and against earlier
// records of the batch), an invalid record is reported first, and the batch
// without the listed records is then written.
func TestWriteConflictsInABatch(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		if _, err := s.Write(ctx, []Record{keyed(senderA, "old", "m")}); err != nil {
			t.Fatal(err)
		}
		batch := []Record{
			keyed(senderA, "new-1", "m"),
			keyed(senderA, "old", "changed"), // conflicts with the stored one
			keyed(senderA, "new-2", "m"),
			keyed(senderA, "old", "m"),       // redelivery
			keyed(senderA, "new-1", "m"),     // repeat inside the batch
			keyed(senderA, "new-2", "other"), // conflicts with index 2
			keyed(senderB, "new-2", "other"), // another sender: no conflict
			keyed(senderA, "old", "changed"), // conflicts again
			keyed(senderB, "old", "from B"),  // another sender
			keyed(senderA, "new-3", "m"),
		}
		_, err := s.Write(ctx, batch)
		var ce *ConflictError
		if !errors.As(err, &ce) || !slices.Equal(ce.Indexes, []int{1, 5, 7}) {
			t.Fatalf("Write error = %v; want a ConflictError for indexes 1, 5 and 7", err)
		}
		if got := len(all(t, s, "keys")); got != 1 {
			t.Fatalf("%d records stored after a refused batch; want the 1 stored before", got)
		}
		bad := append(slices.Clone(batch), keyed(senderA, "bad", " "))
		var re *RecordError
		if _, err := s.Write(ctx, bad); !errors.As(err, &re) || re.Index != len(batch) || errors.Is(err, ErrIDConflict) {
			t.Fatalf("Write with an invalid record = %v; want its RecordError, not the conflicts", err)
		}
		rest := slices.Clone(batch)
		for _, i := range slices.Backward(ce.Indexes) {
			rest = slices.Delete(rest, i, i+1)
		}
		if n, err := s.Write(ctx, rest); err != nil || n != 5 {
			t.Fatalf("Write without the conflicts = %d, %v; want 5 new", n, err)
		}
	})
}
