package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"logsys/event"
)

// migrationLockKey is the advisory lock that serialises migrations of one
// database ("logsys" in ASCII).
const migrationLockKey int64 = 0x6c6f6773797300

type pgStore struct {
	pool  *pgxpool.Pool
	certs *keyPair // nil without a client certificate in the DSN
}

func openPostgres(ctx context.Context, cfg Config) (Store, error) {
	s, err := connectPostgres(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ms, err := migrations("postgres")
	if err == nil {
		err = s.migrate(ctx, ms)
	}
	if err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("migrate postgres: %w", redact(err, cfg.DSN))
	}
	return s, nil
}

// connectPostgres creates the pool without migrating.
func connectPostgres(ctx context.Context, cfg Config) (*pgStore, error) {
	pc, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", redact(err, cfg.DSN))
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	kp, err := reloadClientCert(&pc.ConnConfig.Config, cfg.DSN)
	if err != nil {
		return nil, err
	}
	if kp != nil {
		kp.recycle(pc) // connections move to a rotated client certificate
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", redact(err, cfg.DSN))
	}
	return &pgStore{pool: pool, certs: kp}, nil
}

// migrate applies the pending ones of ms in one transaction holding a
// transaction-scoped advisory lock, so concurrent Opens apply each
// migration once; a failed migration leaves the schema unchanged.
func (s *pgStore) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := pgVersions(ctx, tx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil { // no arguments: simple protocol, several statements
			return fmt.Errorf("apply %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return fmt.Errorf("record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func pgVersions(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) (map[int]bool, error) {
	rows, err := q.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	m := map[int]bool{}
	for _, v := range vs {
		m[int(v)] = true
	}
	return m, nil
}

var columnList = append(strings.Split(strings.ReplaceAll(columns, " ", ""), ","), "batch_index")

// Write first copies recs straight into log_events under a savepoint:
// when no key is taken (the common case: new events) that is all. When
// the copy fails on the server (a key taken, by a stored record or within
// recs, or any other error), it is rolled back to the savepoint and recs
// go the careful way: copied into a staging table dropped at commit (with
// each record's position in recs), then the new ones inserted in that
// order; when some keys were taken, the staged records are compared with
// the stored ones. All of it happens in one transaction.
func (s *pgStore) Write(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, ctx.Err()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("write: begin: %w", err)
	}
	defer tx.Rollback(ctx)
	now := time.Now()
	if n, ok, err := copyDirect(ctx, tx, recs, now); err != nil {
		return 0, err
	} else if ok {
		if err := tx.Commit(ctx); err != nil {
			return 0, fmt.Errorf("write: commit: %w", err)
		}
		return n, nil
	}
	return s.writeStaged(ctx, tx, recs, now)
}

// copyDirect copies recs into log_events under a savepoint; ok is false
// (and the savepoint rolled back) when the server refused the copy, for
// Write's staging path to find out why. A record that fails validation is
// an error, as on every path.
func copyDirect(ctx context.Context, tx pgx.Tx, recs []Record, now time.Time) (int, bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("write: savepoint: %w", err)
	}
	src, rowErr := copySource(recs, now, false)
	n, err := sp.CopyFrom(ctx, pgx.Identifier{"log_events"}, columnList[:len(columnList)-1], src)
	if err == nil {
		if err := sp.Commit(ctx); err != nil { // releases the savepoint
			return 0, false, fmt.Errorf("write: release savepoint: %w", err)
		}
		return int(n), true, nil
	}
	if *rowErr != nil {
		return 0, false, fmt.Errorf("write: %w", *rowErr)
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return 0, false, fmt.Errorf("write: copy: %w", err) // the connection's, not the data's
	}
	if err := sp.Rollback(ctx); err != nil {
		return 0, false, fmt.Errorf("write: rollback to savepoint: %w", err)
	}
	return 0, false, nil
}

// copySource is the COPY rows of recs (with batch_index when staged);
// *rowErr is the validation error that ended it, if any (pgx reports a
// source error as the server's COPY failure).
func copySource(recs []Record, now time.Time, staged bool) (pgx.CopyFromSource, *error) {
	i := 0
	rowErr := new(error)
	return pgx.CopyFromFunc(func() ([]any, error) {
		if i == len(recs) {
			return nil, nil
		}
		r, err := batchRow(i, recs[i], now)
		i++
		if err != nil {
			*rowErr = err
			return nil, err
		}
		var md any
		if r.metadata != nil {
			md = r.metadata
		}
		row := []any{r.id, r.level, r.message, r.source, r.timestamp, md, r.identity, r.partition, r.offset, r.receivedAt, r.timestampFilled}
		if staged {
			row = append(row, int32(i-1))
		}
		return row, nil
	}), rowErr
}

// writeStaged is Write's careful path, in tx.
func (s *pgStore) writeStaged(ctx context.Context, tx pgx.Tx, recs []Record, now time.Time) (int, error) {
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE log_events_staging (LIKE log_events INCLUDING DEFAULTS,
		batch_index integer NOT NULL) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("write: create staging table: %w", err)
	}
	src, rowErr := copySource(recs, now, true)
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"log_events_staging"}, columnList, src); err != nil {
		if *rowErr != nil {
			return 0, fmt.Errorf("write: %w", *rowErr)
		}
		return 0, fmt.Errorf("write: copy: %w", classify(err))
	}
	tag, err := tx.Exec(ctx, `INSERT INTO log_events (`+columns+`) SELECT `+columns+
		` FROM log_events_staging ORDER BY batch_index ON CONFLICT (producer_identity, id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("write: insert: %w", classify(err))
	}
	inserted := int(tag.RowsAffected())
	if inserted < len(recs) {
		// Each staged record meets the stored one of its key: itself, an
		// earlier record of recs, or one stored before.
		rows, err := tx.Query(ctx, `SELECT s.batch_index FROM log_events_staging s
			JOIN log_events e ON e.producer_identity = s.producer_identity AND e.id = s.id
			WHERE (e.level, e.message, e.source, e.metadata) IS DISTINCT FROM (s.level, s.message, s.source, s.metadata)
				OR (e.timestamp <> s.timestamp AND NOT (e.timestamp_filled AND s.timestamp_filled))
			ORDER BY s.batch_index`)
		if err != nil {
			return 0, fmt.Errorf("write: compare: %w", err)
		}
		idx, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return 0, fmt.Errorf("write: compare: %w", err)
		}
		if len(idx) > 0 {
			conflicts := make([]int, len(idx))
			for k, v := range idx {
				conflicts[k] = int(v)
			}
			return 0, fmt.Errorf("write: %w", &ConflictError{Indexes: conflicts})
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("write: commit: %w", err)
	}
	return inserted, nil
}

// classify marks PostgreSQL data exceptions (SQLSTATE class 22) and
// integrity violations (23) as invalid records: retrying cannot help.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")) {
		return fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	return err
}

func (s *pgStore) Query(ctx context.Context, f Filter) ([]Record, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, err
	}
	q, args := selectSQL(f, func(n int) string { return "$" + strconv.Itoa(n) }, func(t time.Time) any { return t })
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var rec Record
		var level string
		var md []byte
		if err := rows.Scan(&rec.ID, &level, &rec.Message, &rec.Source, &rec.Timestamp, &md,
			&rec.Identity, &rec.KafkaPartition, &rec.KafkaOffset, &rec.ReceivedAt, &rec.TimestampFilled); err != nil {
			return nil, fmt.Errorf("query: scan: %w", err)
		}
		rec.Level = event.Level(level)
		rec.Timestamp = rec.Timestamp.UTC()
		rec.ReceivedAt = rec.ReceivedAt.UTC()
		if rec.Metadata, err = decodeMetadata(md); err != nil {
			return nil, fmt.Errorf("query: record %s: %w", rec.ID, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return out, nil
}

func (s *pgStore) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func (s *pgStore) Close() error {
	s.pool.Close()
	return nil
}

// versions lists the applied migrations (tests).
func (s *pgStore) versions(ctx context.Context) ([]int, error) {
	m, err := pgVersions(ctx, s.pool)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(m)), nil
}
