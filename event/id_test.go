package event

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestIDsOfOneMillisecondCount: within a millisecond ids count up by one
// in their last digits, carry from rand_b into rand_a, and borrow the
// next millisecond when both run over; a clock behind the last id does
// not make them go back.
func TestIDsOfOneMillisecondCount(t *testing.T) {
	at := time.UnixMilli(1_780_000_000_000)
	var g idGen
	first := g.next(at)
	u := mustV7(t, first)
	if ms := int64(u[0])<<40 | int64(u[1])<<32 | int64(u[2])<<24 | int64(u[3])<<16 | int64(u[4])<<8 | int64(u[5]); ms != at.UnixMilli() {
		t.Fatalf("id %s holds millisecond %d, want %d", first, ms, at.UnixMilli())
	}
	second := g.next(at.Add(-time.Second)) // a request's time taken earlier
	if second <= first || second[:30] != first[:30] {
		t.Fatalf("ids %s then %s: want the same prefix, counting up", first, second)
	}
	g.lo = 1<<62 - 1
	hi := g.hi
	carried := g.next(at)
	if g.lo != 0 || g.hi != (hi+1)%(1<<12) {
		t.Fatalf("after rand_b ran over: hi %d lo %d (hi was %d)", g.hi, g.lo, hi)
	}
	mustV7(t, carried)
	g.hi, g.lo = 1<<12-1, 1<<62-1
	borrowed := g.next(at)
	if g.ms != at.UnixMilli()+1 || borrowed <= carried {
		t.Fatalf("after the counter ran over: ms %d (want %d), id %s after %s", g.ms, at.UnixMilli()+1, borrowed, carried)
	}
	mustV7(t, borrowed)
}

// TestIDsOfANewMillisecondStartAtRandom: each millisecond draws a new
// start, so two generators (two gateways) do not follow each other.
func TestIDsOfANewMillisecondStartAtRandom(t *testing.T) {
	at := time.UnixMilli(1_780_000_000_000)
	var a, b idGen
	seen := map[string]bool{}
	for i := range 100 {
		now := at.Add(time.Duration(i) * time.Millisecond)
		for _, id := range []string{a.next(now), b.next(now)} {
			mustV7(t, id)
			tail := id[14:] // after the millisecond and the version digit
			if seen[tail] {
				t.Fatalf("counter start %s drawn twice", tail)
			}
			seen[tail] = true
		}
	}
}

// TestIDsAreUniqueAcrossGoroutines: concurrent requests draw distinct ids.
func TestIDsAreUniqueAcrossGoroutines(t *testing.T) {
	const workers, each = 8, 2000
	out := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for range each {
				out[w] = append(out[w], NewID())
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, ids := range out {
		for i, id := range ids {
			if seen[id] {
				t.Fatalf("id %s drawn twice", id)
			}
			if i > 0 && id <= ids[i-1] {
				t.Fatalf("one goroutine drew %s after %s", id, ids[i-1])
			}
			seen[id] = true
		}
	}
}

func mustV7(t *testing.T, id string) uuid.UUID {
	t.Helper()
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 || id != strings.ToLower(u.String()) {
		t.Fatalf("%q is not a version 7 UUID in text form (%v)", id, err)
	}
	return u
}

// TestIDsOfAClockAtOrBefore1970StartAtRandom: a generator's first id is
// drawn at random whatever the clock says (a zero time included), so two
// processes with a broken clock do not hand out the same ids.
func TestIDsOfAClockAtOrBefore1970StartAtRandom(t *testing.T) {
	var a, b idGen
	for _, now := range []time.Time{{}, time.Unix(-5, 0), time.Unix(0, 0)} {
		x, y := a.next(now), b.next(now)
		mustV7(t, x)
		if x == y {
			t.Fatalf("two generators at %v both drew %s", now, x)
		}
	}
}

// TestFormatIDIsUUIDText: the hand-written text is uuid.UUID.String's.
func TestFormatIDIsUUIDText(t *testing.T) {
	for _, c := range []struct {
		ms     int64
		hi, lo uint64
	}{{0, 0, 0}, {1_780_000_000_000, 0xabc, 0x0123456789abcdef &^ (3 << 62)}, {1<<48 - 1, 1<<12 - 1, 1<<62 - 1}} {
		got := formatID(c.ms, c.hi, c.lo)
		var u uuid.UUID
		u[0], u[1], u[2], u[3], u[4], u[5] = byte(c.ms>>40), byte(c.ms>>32), byte(c.ms>>24), byte(c.ms>>16), byte(c.ms>>8), byte(c.ms)
		u[6], u[7] = 0x70|byte(c.hi>>8), byte(c.hi)
		for i := range 8 {
			u[8+i] = byte(c.lo >> (56 - 8*i))
		}
		u[8] |= 0x80
		if want := u.String(); got != want {
			t.Errorf("formatID(%d, %#x, %#x) = %s, want %s", c.ms, c.hi, c.lo, got, want)
		}
	}
}
