package dlq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/tlsx"
)

// client connects as the configured identity with mutual TLS, trusting
// only its environment and only the broker identity.
func (c Config) client(opts ...kgo.Opt) (*kgo.Client, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("dlq config: %w", err)
	}
	sc := tlsx.LayoutSource(c.PKIDir, c.Env, c.Name)
	sc.Logger = slog.New(slog.DiscardHandler)
	src, err := tlsx.NewSource(sc)
	if err != nil {
		return nil, fmt.Errorf("dlq: certificate of %s: %w", c.Name, err)
	}
	id := src.ID()
	d, err := tlsx.NewDialer(src, tlsx.AuthorizeNames(id.TrustDomain, id.Env, c.BrokerName),
		tlsx.Options{MinVersion: tls.VersionTLS13}, nil, c.Name+"->kafka")
	if err != nil {
		return nil, fmt.Errorf("dlq: client tls: %w", err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.Brokers...), kgo.Dialer(d.DialContext), kgo.ClientID("logsys-dlq"),
		kgo.RetryTimeout(c.Timeout), kgo.RecordDeliveryTimeout(c.Timeout),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("dlq: kafka client: %w", err)
	}
	return cl, nil
}

// Filter selects dead letters.
type Filter struct {
	Reason string    // empty: any
	Since  time.Time // zero: from the start of the topic
	// Positions, when given, are the only letters selected.
	Positions []Position
}

func (f Filter) match(l Letter) bool {
	if f.Reason != "" && l.Reason != f.Reason {
		return false
	}
	if !f.Since.IsZero() && l.Time.Before(f.Since) {
		return false
	}
	return len(f.Positions) == 0 || slices.Contains(f.Positions, l.Position)
}

// List returns the dead letters f selects, oldest first (by time, then
// position), reading the dead-letter topic from Since (or its start) up
// to the end it had when List began. No consumer group is used: nothing
// is committed, every call sees everything.
func List(ctx context.Context, c Config, f Filter) ([]Letter, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	adm, err := c.client()
	if err != nil {
		return nil, err
	}
	defer adm.Close()
	starts, ends, err := bounds(ctx, kadm.NewClient(adm), c.DLQTopic, f.Since)
	if err != nil {
		return nil, err
	}
	narrow(f.Positions, starts, ends)
	want := map[int32]int64{} // partitions still to read, and their end
	from := map[int32]kgo.Offset{}
	for p, end := range ends {
		if starts[p] < end {
			want[p], from[p] = end, kgo.NewOffset().At(starts[p])
		}
	}
	var out []Letter
	if len(want) == 0 {
		return out, nil
	}
	cl, err := c.client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.DLQTopic: from}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("dlq: read %s: %d partitions not read to their end: %w", c.DLQTopic, len(want), err)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return nil, fmt.Errorf("dlq: read %s partition %d: %w", c.DLQTopic, errs[0].Partition, errs[0].Err)
		}
		for r := range fs.RecordsAll() {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				continue
			}
			if l := letterOf(r); f.match(l) {
				out = append(out, l)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		}
	}
	slices.SortFunc(out, func(a, b Letter) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out, nil
}

// bounds returns, per partition of topic, the first offset to read (the
// start, or the first record at or after since) and the end offset.
func bounds(ctx context.Context, adm *kadm.Client, topic string, since time.Time) (starts, ends map[int32]int64, err error) {
	list := func(what string, l kadm.ListedOffsets, err error) (map[int32]int64, error) {
		if err == nil {
			err = l.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("dlq: %s offsets of %s: %w", what, topic, err)
		}
		m := map[int32]int64{}
		l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
		return m, nil
	}
	l, err := adm.ListEndOffsets(ctx, topic)
	if ends, err = list("end", l, err); err != nil {
		return nil, nil, err
	}
	if len(ends) == 0 {
		return nil, nil, fmt.Errorf("dlq: topic %s: %w", topic, errNoTopic)
	}
	if since.IsZero() {
		l, err = adm.ListStartOffsets(ctx, topic)
	} else {
		l, err = adm.ListOffsetsAfterMilli(ctx, since.UnixMilli(), topic)
	}
	if starts, err = list("first", l, err); err != nil {
		return nil, nil, err
	}
	for p, o := range starts {
		if o < 0 { // no record at or after since
			starts[p] = ends[p]
		}
	}
	return starts, ends, nil
}

// narrow limits the offsets to read to the positions asked for, if any.
func narrow(ps []Position, starts, ends map[int32]int64) {
	if len(ps) == 0 {
		return
	}
	lo, hi := map[int32]int64{}, map[int32]int64{}
	for _, p := range ps {
		if o, ok := lo[p.Partition]; !ok || p.Offset < o {
			lo[p.Partition] = p.Offset
		}
		hi[p.Partition] = max(hi[p.Partition], p.Offset+1)
	}
	for p := range ends {
		if _, ok := lo[p]; !ok {
			delete(ends, p)
			continue
		}
		starts[p], ends[p] = max(starts[p], lo[p]), min(ends[p], hi[p])
	}
}

var errNoTopic = errors.New("does not exist or may not be described")
