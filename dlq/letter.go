// Package dlq owns the dead letters: the form in which the consumer moves
// a record it can never store to the dead-letter topic (the original key,
// value and headers, plus why and from where: Headers), and the
// operator's side (`logsys dlq`): reading them (List, Show) and replaying
// selected ones to the events topic after the cause was fixed (Replay).
//
// A replay re-sends the record's key and value byte for byte: the sender
// identity is the one the gateway stamped into the value, and nothing in
// this package can change it.
package dlq

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"logsys/event"
	"logsys/pack"
	"logsys/store"
)

// The headers a dead letter carries besides the original record's.
const (
	// HeaderError is the full reason, as the consumer logged it.
	HeaderError = "logsys-error"
	// HeaderReason is its class: one of the Reason constants.
	HeaderReason = "logsys-reason"
	// HeaderOrigin is topic/partition/offset of the original record.
	HeaderOrigin = "logsys-origin"
	// HeaderReplayOf marks a record that `logsys dlq replay` wrote to the
	// events topic: the dead letter's topic/partition/offset. The consumer
	// keeps it when it dead-letters the record again.
	HeaderReplayOf = "logsys-replay-of"
)

// Reasons, the values of HeaderReason.
const (
	ReasonIDConflict = "id_conflict" // the sender's id is stored with other content
	ReasonNotJSON    = "not_json"    // the value is not a JSON event at all
	ReasonInvalid    = "invalid"     // an event the store refuses (field, limit, encoding)
	// ReasonMalformedPack: the record says it is a pack (package pack)
	// but its header or value is not of that form; it is dead-lettered
	// whole.
	ReasonMalformedPack = "malformed_pack"
)

// Reasons lists every Reason constant.
var Reasons = []string{ReasonIDConflict, ReasonInvalid, ReasonNotJSON, ReasonMalformedPack}

// Reason classifies why a record was dead-lettered.
func Reason(err error) string {
	switch {
	case errors.Is(err, store.ErrIDConflict):
		return ReasonIDConflict
	case errors.Is(err, event.ErrNotJSON):
		return ReasonNotJSON
	case errors.Is(err, pack.ErrMalformed):
		return ReasonMalformedPack
	default:
		return ReasonInvalid
	}
}

// Headers returns the headers of the dead letter of rec: rec's own, then
// the reason, its class and rec's position.
func Headers(rec *kgo.Record, reason error) []kgo.RecordHeader {
	return append(append([]kgo.RecordHeader{}, rec.Headers...),
		kgo.RecordHeader{Key: HeaderError, Value: []byte(reason.Error())},
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(Reason(reason))},
		kgo.RecordHeader{Key: HeaderOrigin, Value: []byte(fmt.Sprintf("%s/%d/%d", rec.Topic, rec.Partition, rec.Offset))})
}

// Position is where a dead letter is: partition and offset in the
// dead-letter topic, written "P/O".
type Position struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Partition, p.Offset) }

// ParsePosition reads "P/O", or "O" for partition 0.
func ParsePosition(s string) (Position, error) {
	var p Position
	ps, os, ok := strings.Cut(s, "/")
	if !ok {
		ps, os = "0", s
	}
	if _, err := fmt.Sscanf(ps+" "+os, "%d %d", &p.Partition, &p.Offset); err != nil || p.Partition < 0 || p.Offset < 0 ||
		fmt.Sprintf("%d/%d", p.Partition, p.Offset) != ps+"/"+os {
		return Position{}, fmt.Errorf("dead letter %q: want PARTITION/OFFSET (or OFFSET of partition 0)", s)
	}
	return p, nil
}

// Header is one record header, its value as text.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Letter is one dead letter.
type Letter struct {
	Position
	Time time.Time `json:"time"` // when it was dead-lettered
	// Reason is the class (HeaderReason); records dead-lettered before it
	// existed get it from their error text.
	Reason string `json:"reason"`
	Error  string `json:"error"`
	Origin string `json:"origin,omitempty"` // topic/partition/offset of the original
	// PackIndex is the event's position in the pack it came from
	// (pack.IndexHeader), when it was one event of a pack.
	PackIndex string `json:"pack_index,omitempty"`
	// ReplayOf is set on a record that was itself a replay of an earlier
	// dead letter (it failed again).
	ReplayOf string `json:"replay_of,omitempty"`
	// Identity and ID are what the value says, when it is JSON at all.
	Identity string   `json:"identity,omitempty"`
	ID       string   `json:"id,omitempty"`
	Key      []byte   `json:"key,omitempty"`
	Value    []byte   `json:"value"`
	Headers  []Header `json:"headers,omitempty"`
}

// letterOf reads a record of the dead-letter topic.
func letterOf(r *kgo.Record) Letter {
	l := Letter{Position: Position{r.Partition, r.Offset}, Time: r.Timestamp.UTC(), Key: r.Key, Value: r.Value}
	for _, h := range r.Headers {
		l.Headers = append(l.Headers, Header{h.Key, string(h.Value)})
		switch h.Key {
		case HeaderError:
			l.Error = string(h.Value)
		case HeaderReason:
			l.Reason = string(h.Value)
		case HeaderOrigin:
			l.Origin = string(h.Value)
		case HeaderReplayOf:
			l.ReplayOf = string(h.Value)
		case pack.IndexHeader:
			l.PackIndex = string(h.Value)
		}
	}
	if l.Reason == "" {
		l.Reason = reasonOfText(l.Error)
	}
	var v struct {
		ID       any `json:"id"`
		Identity any `json:"identity"`
	}
	if json.Unmarshal(r.Value, &v) == nil {
		l.ID, l.Identity = text(v.ID), text(v.Identity)
	}
	return l
}

// text shows a JSON value that should have been a string.
func text(v any) string {
	if s, ok := v.(string); ok || v == nil {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// reasonOfText classifies an error text written without HeaderReason.
func reasonOfText(s string) string {
	switch {
	case strings.HasPrefix(s, store.ErrIDConflict.Error()):
		return ReasonIDConflict
	case strings.HasPrefix(s, event.ErrNotJSON.Error()):
		return ReasonNotJSON
	case strings.HasPrefix(s, pack.ErrMalformed.Error()):
		return ReasonMalformedPack
	default:
		return ReasonInvalid
	}
}

// replayHeaders are the headers a replayed record carries: the original
// record's (the dead letter's own are dropped, and so are pack.Header and
// pack.IndexHeader: a replay is one event) and HeaderReplayOf.
func (l Letter) replayHeaders(topic string) []kgo.RecordHeader {
	var hs []kgo.RecordHeader
	for _, h := range l.Headers {
		switch h.Key {
		case HeaderError, HeaderReason, HeaderOrigin, HeaderReplayOf, pack.Header, pack.IndexHeader:
			continue
		}
		hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	return append(hs, kgo.RecordHeader{Key: HeaderReplayOf, Value: []byte(topic + "/" + l.Position.String())})
}
