package roles

import (
	"context"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Retention of the embedded broker. Kafka semantics: a partition keeps
// its records for Retention and at most RetentionBytes; older records and
// the oldest beyond the size go, whether read or not, except that with
// KeepUncommitted a record the consumer group has not committed yet is
// kept (the store has not got it; the lag alert fires meanwhile). The
// broker deletes in whole segments on disk (segment size a quarter of
// RetentionBytes), so disk use, the in-memory index and the replay at a
// restart are all bounded by the retention.

// retentionCheck is how often the broker applies its retention.
const retentionCheck = 30 * time.Second

// segmentBytes is the segment size for a size limit: a quarter of it, so
// that deleting whole segments keeps the partition within 1.25 times the
// limit, between 1 MiB and kfake's default of 100 MiB.
func segmentBytes(retentionBytes int64) int64 {
	return min(max(retentionBytes/4, 1<<20), 100<<20)
}

// retentionOpts are the broker configs the retention needs.
func retentionOpts(c BrokerConfig) []kfake.Opt {
	if c.RetentionBytes <= 0 {
		return nil
	}
	return []kfake.Opt{kfake.BrokerConfigs(map[string]string{
		"log.segment.bytes": strconv.FormatInt(segmentBytes(c.RetentionBytes), 10),
	})}
}

// retention decides, per partition, the offset below which records go.
type retention struct {
	age             time.Duration // 0: no time limit
	bytes           int64         // per partition; 0: no size limit
	keepUncommitted bool
	groups          []string // whose commits keepUncommitted waits for
	topics          []string // consumed by groups: kept whole until committed on

	// ends are the partitions' end offsets as seen at each check: every
	// record below ends[i].end was appended before ends[i].at. Time
	// retention goes by them (the broker's append time, at the check's
	// granularity); they start again empty at each start.
	ends map[partitionKey][]endSample
}

type partitionKey struct {
	topic     string
	partition int32
}

type endSample struct {
	at  time.Time
	end int64
}

func newRetention(c BrokerConfig) *retention {
	return &retention{age: c.Retention, bytes: c.RetentionBytes, keepUncommitted: c.KeepUncommitted,
		groups: c.Groups, topics: c.GroupTopics, ends: map[partitionKey][]endSample{}}
}

// runRetention applies the retention every retentionCheck until ctx ends.
func (b *Broker) runRetention(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(retentionCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			b.applyRetention(now)
		}
	}
}

// applyRetention deletes, in every seeded topic, the records the
// retention lets go at now.
func (b *Broker) applyRetention(now time.Time) {
	if b.ret.age <= 0 && b.ret.bytes <= 0 {
		return
	}
	for _, topic := range b.cfg.Topics {
		floors := b.ret.committed(b.cluster, topic)
		for _, pi := range b.cluster.PartitionInfos(topic) {
			to := b.ret.point(now, topic, pi)
			if f, ok := floors(pi.Partition); ok {
				to = min(to, f)
			}
			to = min(to, pi.HighWatermark)
			if to <= pi.LogStartOffset {
				continue
			}
			if err := b.cluster.DeleteRecords(topic, pi.Partition, to); err != nil {
				b.log.Warn("retention: delete records failed", "topic", topic, "partition", pi.Partition, "to", to, "err", err)
				continue
			}
			b.log.Debug("retention: records deleted", "topic", topic, "partition", pi.Partition, "records", to-pi.LogStartOffset)
		}
	}
}

// point is the offset below which the partition's records are older than
// the age limit or beyond the size limit.
func (r *retention) point(now time.Time, topic string, pi *kfake.PartitionInfo) int64 {
	to := pi.LogStartOffset
	if r.age > 0 {
		k := partitionKey{topic, pi.Partition}
		s := append(r.ends[k], endSample{at: now, end: pi.HighWatermark})
		cutoff := now.Add(-r.age)
		i := len(s) - 1
		for i >= 0 && s[i].at.After(cutoff) {
			i--
		}
		if i >= 0 {
			to = max(to, s[i].end)
			s = s[i:] // the newest sample past the cutoff still counts next time
		}
		r.ends[k] = s
	}
	if n := pi.HighWatermark - pi.LogStartOffset; r.bytes > 0 && pi.NumBytes > r.bytes && n > 0 {
		perRecord := float64(pi.NumBytes) / float64(n)
		to = max(to, pi.HighWatermark-int64(float64(r.bytes)/perRecord))
	}
	return to
}

// committed returns, for topic, the offset below which every group of
// r.groups has committed a partition: ok false when retention need not
// wait (keepUncommitted off, or a topic not in r.topics on which no group
// has committed, as the dead-letter topic nobody consumes as a group). A
// partition of a topic the groups consume but have not committed on yet
// (a first start with the store failing, expired commits) is kept whole.
func (r *retention) committed(c *kfake.Cluster, topic string) func(partition int32) (int64, bool) {
	none := func(int32) (int64, bool) { return 0, false }
	if !r.keepUncommitted {
		return none
	}
	consumed := slices.Contains(r.topics, topic)
	var commits []map[int32]kfake.GroupCommit
	for _, g := range r.groups {
		var cs map[int32]kfake.GroupCommit
		if gi := c.GroupInfo(g); gi != nil {
			cs = gi.Commits[topic]
		}
		if consumed || len(cs) > 0 {
			commits = append(commits, cs) // a nil map: nothing committed, all kept
		}
	}
	if len(commits) == 0 {
		return none
	}
	return func(p int32) (int64, bool) {
		floor := int64(math.MaxInt64)
		for _, cs := range commits {
			c, ok := cs[p]
			if !ok {
				return 0, true // not committed yet: keep everything
			}
			floor = min(floor, c.Offset)
		}
		return floor, true
	}
}
