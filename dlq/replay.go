package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/event"
)

// Replayed is one dead letter written back to the events topic.
type Replayed struct {
	Letter Letter   `json:"letter"`
	To     Position `json:"to"` // its new position in the events topic
}

// Skipped is a selected dead letter that was not replayed, and why.
type Skipped struct {
	Letter Letter `json:"letter"`
	Why    string `json:"why"`
}

// ReplayResult is what Replay did.
type ReplayResult struct {
	Replayed []Replayed `json:"replayed"`
	Skipped  []Skipped  `json:"skipped"`
}

// ErrNothingSelected is Replay's answer to a filter that selects
// everything: replaying every dead letter must be asked for (All).
var ErrNothingSelected = errors.New("dlq replay: select dead letters (positions, --reason or --since) or pass --all")

// Replay re-produces the dead letters f selects to the events topic, as
// they are: the same key and value bytes (so the same id and the same
// sender identity, which the gateway stamped and which a replay cannot
// change), the original record's headers and HeaderReplayOf naming the
// dead letter. A letter whose value the consumer would refuse again (not
// an event, or invalid) is skipped and says so; an id conflict is
// replayed (the operator may have removed the stored record it conflicts
// with). With dryRun nothing is written.
//
// Replaying a letter twice writes it twice to the topic, but the store
// keeps one event per (identity, id): the second copy has the same
// content, which the store treats as a redelivery and does not store
// again. A replay that conflicts again is dead-lettered again, carrying
// HeaderReplayOf.
func Replay(ctx context.Context, c Config, f Filter, all, dryRun bool) (ReplayResult, error) {
	var res ReplayResult
	if !all && f.Reason == "" && f.Since.IsZero() && len(f.Positions) == 0 {
		return res, ErrNothingSelected
	}
	letters, err := List(ctx, c, f)
	if err != nil {
		return res, err
	}
	if err := missing(f.Positions, letters); err != nil {
		return res, err
	}
	var recs []*kgo.Record
	for _, l := range letters {
		if _, err := event.DecodeForwarded(l.Value); err != nil {
			res.Skipped = append(res.Skipped, Skipped{l, fmt.Sprintf("the consumer would refuse it again: %v", err)})
			continue
		}
		res.Replayed = append(res.Replayed, Replayed{Letter: l})
		recs = append(recs, &kgo.Record{Topic: c.Topic, Key: l.Key, Value: l.Value, Headers: l.replayHeaders(c.DLQTopic)})
	}
	if dryRun || len(recs) == 0 {
		return res, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cl, err := c.client(kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return ReplayResult{}, err
	}
	defer cl.Close()
	results := cl.ProduceSync(ctx, recs...)
	done := res.Replayed[:0]
	var errs []error
	for i, r := range results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("replay %s: %w", res.Replayed[i].Letter.Position, r.Err))
			continue
		}
		res.Replayed[i].To = Position{r.Record.Partition, r.Record.Offset}
		done = append(done, res.Replayed[i])
	}
	res.Replayed = done
	if len(errs) > 0 {
		return res, fmt.Errorf("dlq: %d of %d replays failed (the others were written): %w", len(errs), len(recs), errors.Join(errs...))
	}
	return res, nil
}

// missing reports positions asked for that hold no dead letter.
func missing(ps []Position, letters []Letter) error {
	found := map[Position]bool{}
	for _, l := range letters {
		found[l.Position] = true
	}
	var errs []error
	for _, p := range ps {
		if !found[p] {
			errs = append(errs, fmt.Errorf("no dead letter at %s", p))
		}
	}
	return errors.Join(errs...)
}
