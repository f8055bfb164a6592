package roles

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/pack"
)

// DefaultMaxPackBytes is producer.max_pack_bytes' default: a quarter of
// Kafka's default max.message.bytes (1 MiB) and of franz-go's
// ProducerBatchMaxBytes, so that a pack and its batch fit with room.
const DefaultMaxPackBytes = 256 << 10

// maxPackBytesLimit is the largest producer.max_pack_bytes accepted: a
// pack must fit in one batch of franz-go's default ProducerBatchMaxBytes
// (1,000,012 bytes) with its record and batch overhead.
const maxPackBytesLimit = 960 << 10

// packedRecords turns frames into records, the events of one key (source)
// in packs (package pack) of at most maxBytes of value, in the order they
// came: a source's events still land in one partition in order, in far
// fewer records. A group of one event, and an event that is larger than
// maxBytes or holds a newline, is a record of its own (one event, no
// header). Values are copied into one buffer per pack.
func packedRecords(frames []frame, maxBytes int) []*kgo.Record {
	// Group the frames by key, keeping their order: a counting sort of
	// their group numbers (two allocations whatever the number of keys).
	gid := make([]int, len(frames))
	byKey := make(map[string]int, 4)
	var ends []int // ends[g]: where group g ends in order, once summed
	for i, f := range frames {
		g, ok := byKey[string(f.key)]
		if !ok {
			g = len(ends)
			byKey[string(f.key)] = g
			ends = append(ends, 0)
		}
		gid[i] = g
		ends[g]++
	}
	for g := 1; g < len(ends); g++ {
		ends[g] += ends[g-1]
	}
	order := make([]int, len(frames))
	next := append([]int{0}, ends[:len(ends)-1]...)
	for i, g := range gid {
		order[next[g]] = i
		next[g]++
	}
	var recs []*kgo.Record
	parts := make([][]byte, 0, len(frames)) // the values of the pack being written
	sep := []byte{pack.Sep}
	from := 0
	for _, end := range ends {
		g := order[from:end]
		from = end
		start, size := 0, 0 // the pack being filled: g[start:i], size bytes with separators
		flush := func(end int) {
			if end-start == 1 {
				f := frames[g[start]]
				recs = append(recs, &kgo.Record{Key: f.key, Value: f.value})
			} else if end > start {
				parts = parts[:0]
				for _, k := range g[start:end] {
					parts = append(parts, frames[k].value)
				}
				// bytes.Join does not zero the buffer before filling it.
				v := bytes.Join(parts, sep)
				recs = append(recs, &kgo.Record{Key: frames[g[start]].key, Value: v,
					Headers: []kgo.RecordHeader{{Key: pack.Header, Value: pack.HeaderValue(end - start)}}})
			}
			start, size = end, 0
		}
		for i, k := range g {
			v := frames[k].value
			if len(v) > maxBytes || !pack.Fits(v) {
				flush(i)
				recs = append(recs, &kgo.Record{Key: frames[k].key, Value: v})
				start = i + 1
				continue
			}
			add := len(v)
			if i > start {
				add++ // the separator
			}
			if size+add > maxBytes {
				flush(i)
				add = len(v)
			}
			size += add
		}
		flush(len(g))
	}
	return recs
}
