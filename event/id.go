package event

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"
)

// NewID returns a fresh time-ordered UUID (RFC 9562 version 7) as text;
// see ids.
func NewID() string { return ids.next(time.Now()) }

// ids is the process's generator of event ids: version-7 UUIDs whose 48
// bits of Unix milliseconds are followed by a 74-bit counter (RFC 9562
// section 6.2, method 2) that starts at a random value in every new
// millisecond and then counts up by one. Ids are therefore strictly
// increasing within a process (the store's key index appends at its end),
// and the ids of one request differ only in their last hex digits, which
// the Kafka record batch's compression removes. Two processes collide
// only if their random starts in one millisecond fall within the number
// of ids drawn of each other: with 73 random bits, far less likely than
// any hardware fault. Ids are identifiers, not secrets.
var ids idGen

type idGen struct {
	mu     sync.Mutex
	seeded bool   // a first id has been drawn
	ms     int64  // the millisecond of the last id
	hi     uint64 // the counter's top 12 bits (rand_a)
	lo     uint64 // its low 62 bits (rand_b)
}

// next returns the id after the last one, at now's millisecond or, when
// the clock is behind the last id (a request's time taken before
// another's), at the last id's.
func (g *idGen) next(now time.Time) string {
	ms := max(now.UnixMilli(), 0) // a clock before 1970 counts from 1970
	g.mu.Lock()
	if ms > g.ms || !g.seeded {
		g.ms = max(ms, g.ms)
		g.seed()
		g.seeded = true
	} else if g.lo++; g.lo == 1<<62 {
		g.lo = 0
		if g.hi++; g.hi == 1<<12 { // 2^74 ids in one millisecond: borrow the next
			g.ms++
			g.seed()
		}
	}
	u := formatID(g.ms, g.hi, g.lo)
	g.mu.Unlock()
	return u
}

// seed draws the counter's start: 12 random bits and 61 (the top bit of
// the low part is clear, so that it cannot run over in practice).
func (g *idGen) seed() {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	g.hi = uint64(binary.LittleEndian.Uint16(b[:])) & (1<<12 - 1)
	g.lo = binary.LittleEndian.Uint64(b[8:]) & (1<<61 - 1)
}

// formatID writes the UUID of (ms, hi, lo) in its text form (lower-case
// hex, 8-4-4-4-12), by hand into one array: the only allocation is the
// string.
func formatID(ms int64, hi, lo uint64) string {
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], uint64(ms)<<16|0x7000|hi) // 48 bits of time, version 7, rand_a
	binary.BigEndian.PutUint64(u[8:16], 1<<63|lo)                // variant 10, rand_b
	var t [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			t[j] = '-'
			j++
		}
		t[j], t[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(t[:])
}
