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
type Store interface {
	// Write stores recs in one transaction, idempotently by ID: IDs
	// already stored (redeliveries), and repeats within recs, are skipped.
	// It returns how many records were new. On error nothing of recs is
	// stored, except that when the connection is lost during the commit
	// the outcome is unknown; retrying the same batch is always safe. An
	// invalid record (see Record.Validate) yields a *RecordError matching
	// ErrInvalidRecord.
	Write(ctx context.Context, recs []Record) (inserted int, err error)
	// Query returns the records matching f, newest first (by timestamp,
	// then ID), at most min(f.Limit, MaxLimit); DefaultLimit when f.Limit
	// is 0. An invalid filter yields a *FilterError.
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
