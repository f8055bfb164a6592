package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// filled is keyed with a timestamp the gateway set (the client sent none).
func filled(id, message string, ts time.Time) Record {
	r := keyed(senderA, id, message)
	r.Timestamp, r.TimestampFilled = ts, true
	return r
}

// TestFilledTimestampRetry: a client that sends no timestamp and retries
// the same event (same id) gets another timestamp from the gateway each
// time. Such a retry is a redelivery, in a later batch or in the same one,
// and the first timestamp is kept; every other difference, or a timestamp
// the client chose, still makes a conflict.
func TestFilledTimestampRetry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := open(t, b.config(t))
		ctx := context.Background()
		write := func(recs ...Record) (int, error) { return s.Write(ctx, recs) }
		if n, err := write(filled("retried", "m", t0)); n != 1 || err != nil {
			t.Fatalf("first attempt: Write = %d, %v", n, err)
		}
		if n, err := write(filled("retried", "m", t0.Add(3*time.Second))); n != 0 || err != nil {
			t.Fatalf("retry with another filled timestamp: Write = %d, %v; want a redelivery (0, nil)", n, err)
		}
		if n, err := write(filled("in-batch", "m", t0), filled("in-batch", "m", t0.Add(time.Second))); n != 1 || err != nil {
			t.Fatalf("both attempts in one batch: Write = %d, %v; want 1, nil", n, err)
		}
		got := all(t, s, "keys")
		if len(got) != 2 || !got[0].Timestamp.Equal(t0) || !got[1].Timestamp.Equal(t0) || !got[0].TimestampFilled || !got[1].TimestampFilled {
			t.Fatalf("stored %+v; want both first attempts, timestamp %v, marked filled", got, t0)
		}

		clientSet := keyed(senderA, "retried", "m")
		clientSet.Timestamp = t0.Add(5 * time.Second)
		otherMessage := filled("retried", "other", t0.Add(5*time.Second))
		for name, r := range map[string]Record{"a client timestamp": clientSet, "other content": otherMessage} {
			var ce *ConflictError
			if _, err := write(r); !errors.As(err, &ce) || !slices.Equal(ce.Indexes, []int{0}) {
				t.Errorf("%s for a filled row: Write error = %v; want a ConflictError", name, err)
			}
		}
		// A client's own timestamps are content, whatever the other side.
		a := keyed(senderA, "client", "m")
		if n, err := write(a); n != 1 || err != nil {
			t.Fatalf("client-stamped: Write = %d, %v", n, err)
		}
		later := filled("client", "m", t0.Add(time.Minute))
		var ce *ConflictError
		if _, err := write(later); !errors.As(err, &ce) {
			t.Errorf("a filled timestamp against a client's: Write error = %v; want a ConflictError", err)
		}
	})
}
