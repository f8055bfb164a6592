package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"logsys/event"
)

// Query limits.
const (
	// DefaultLimit is the number of records Query returns when Filter.Limit is 0.
	DefaultLimit = 100
	// MaxLimit is the most records one Query returns.
	MaxLimit = 1000
)

// Record is a stored event with where the consumer read it and when.
type Record struct {
	event.Event
	KafkaPartition int32
	KafkaOffset    int64
	// ReceivedAt is when the consumer read the record; Write uses the
	// current time when it is zero.
	ReceivedAt time.Time
}

// Store is the log-event store. Implementations are safe for concurrent use.
//
// A record is identified by its key (Identity, ID): the same ID sent by two
// identities is two records, so no sender can claim the IDs of another.
// Two records with one key have the same content when their Level, Message,
// Source, Timestamp (to the microsecond) and Metadata (as JSON values) are
// equal; KafkaPartition, KafkaOffset and ReceivedAt are not content. When
// both have TimestampFilled (the gateway set the timestamp: the client
// sent none, and its retry got another), their Timestamps are not content
// either; the stored one is kept.
type Store interface {
	// Write stores recs in one transaction, idempotently by key. Write
	// accepts exactly the records event.Event.Validate accepts (with
	// ReceivedAt, when set, in years 1 to 9999); the backends add no rule
	// of their own.
	//
	//   - A record whose key is already stored, or taken by an earlier
	//     record of recs, with the same content is a redelivery: skipped,
	//     not an error, not counted.
	//   - A record whose key is already stored, or taken by an earlier
	//     record of recs, with other content is an id conflict: Write
	//     stores nothing and returns a *ConflictError (matching
	//     ErrIDConflict) listing every such record of recs. Writing recs
	//     without them then succeeds, unless another writer stored a
	//     conflicting record meanwhile.
	//   - An invalid record yields a *RecordError matching
	//     ErrInvalidRecord, and nothing is stored; it is reported before
	//     any conflict.
	//
	// It returns how many records were new. On any error nothing of recs
	// is stored, except that when the connection is lost during the commit
	// the outcome is unknown; retrying the same batch is always safe.
	Write(ctx context.Context, recs []Record) (inserted int, err error)
	// Query returns the records matching f, newest first (by timestamp,
	// then ID, then Identity), at most min(f.Limit, MaxLimit);
	// DefaultLimit when f.Limit is 0. An invalid filter yields a
	// *FilterError.
	Query(ctx context.Context, f Filter) ([]Record, error)
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the connections.
	Close() error
}

// ErrInvalidRecord is matched (errors.Is) by Write errors caused by a
// record that can never be stored; such a batch must not be retried as is.
var ErrInvalidRecord = errors.New("invalid record")

// RecordError names the record of a batch that could not be stored.
type RecordError struct {
	Index int    // position in the batch
	ID    string // the event ID, possibly empty
	Err   error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d (id %q): %v", e.Index, e.ID, e.Err)
}

// Unwrap returns the cause and ErrInvalidRecord.
func (e *RecordError) Unwrap() []error { return []error{ErrInvalidRecord, e.Err} }

// ErrIDConflict is matched (errors.Is) by Write errors caused by records
// whose key is stored with other content; see ConflictError.
var ErrIDConflict = errors.New("id conflict")

// ConflictError lists the records of a batch whose key (Identity, ID) is
// already stored, or taken by an earlier record of the batch, with other
// content. The batch was not stored.
type ConflictError struct {
	Indexes []int // positions in the batch, ascending; never empty
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%v: records %v of the batch are stored with other content", ErrIDConflict, e.Indexes)
}

// Unwrap returns ErrIDConflict.
func (e *ConflictError) Unwrap() error { return ErrIDConflict }

// Open validates cfg, connects to the backend it selects and applies
// pending schema migrations.
func Open(ctx context.Context, cfg Config) (Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("store config: %w", err)
	}
	if cfg.DSN != "" {
		return openPostgres(ctx, cfg)
	}
	return openSQLite(ctx, cfg)
}
