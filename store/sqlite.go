package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"logsys/event"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLiteFile is the embedded store's file name under Config.DataDir.
const SQLiteFile = "logsys.db"

// sqliteParams: wait up to 10s for another writer (process or connection)
// instead of failing, WAL so readers never block the writer, a full fsync
// per commit (the consumer commits Kafka offsets only after Write returns),
// and BEGIN IMMEDIATE for every transaction so that a writer takes the
// write lock up front rather than failing to upgrade a read lock.
const sqliteParams = "?_busy_timeout=10000&_journal_mode=WAL&_synchronous=FULL&_txlock=immediate"

type sqliteStore struct {
	db *sql.DB
}

func openSQLite(ctx context.Context, cfg Config) (Store, error) {
	s, err := connectSQLiteFile(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ms, err := migrations("sqlite")
	if err == nil {
		err = s.migrate(ctx, ms)
	}
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("migrate %s: %w", filepath.Join(cfg.DataDir, SQLiteFile), err)
	}
	return s, nil
}

// connectSQLiteFile creates (0600, in a 0700 directory) and opens the file,
// without migrating it.
func connectSQLiteFile(ctx context.Context, cfg Config) (*sqliteStore, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create store dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, SQLiteFile)
	// Create the file 0600 ourselves; SQLite gives its -wal and -shm
	// files the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create store file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create store file: %w", err)
	}
	db, err := sql.Open("sqlite", path+sqliteParams)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := connectSQLite(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &sqliteStore{db: db}, nil
}

// connectSQLite opens the first connection, retrying while the file is
// busy. A connection switches the file to WAL as it opens; on a new file
// opened by several processes at once that switch can fail with
// SQLITE_BUSY without waiting for the busy timeout. WAL mode is then
// recorded in the file, so later connections no longer need the switch.
func connectSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.PingContext(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// migrate applies the pending ones of ms in one BEGIN IMMEDIATE
// transaction, which excludes every other writer, including other
// processes' migrate.
func (s *sqliteStore) migrate(ctx context.Context, ms []migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := sqliteVersions(ctx, tx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("apply %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func sqliteVersions(ctx context.Context, q querier) (map[int]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	v := map[int]bool{}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		v[n] = true
	}
	return v, rows.Err()
}

// Write inserts recs one by one in a BEGIN IMMEDIATE transaction; a
// record whose key is taken is compared with the stored one.
func (s *sqliteStore) Write(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, ctx.Err()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("write: begin: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO log_events (`+columns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (producer_identity, id) DO NOTHING`)
	if err != nil {
		return 0, fmt.Errorf("write: prepare: %w", err)
	}
	defer stmt.Close()
	var stored *sql.Stmt // prepared at the first taken key
	now := time.Now()
	inserted := 0
	var conflicts []int
	for i, rec := range recs {
		r, err := batchRow(i, rec, now)
		if err != nil {
			return 0, fmt.Errorf("write: %w", err)
		}
		var md any
		if r.metadata != nil {
			md = string(r.metadata)
		}
		res, err := stmt.ExecContext(ctx, r.id, r.level, r.message, r.source, r.timestamp.UnixMicro(), md,
			r.identity, r.partition, r.offset, r.receivedAt.UnixMicro(), r.timestampFilled)
		if err != nil {
			return 0, fmt.Errorf("write: insert record %d: %w", i, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("write: insert record %d: %w", i, err)
		}
		inserted += int(n)
		if n == 1 {
			continue
		}
		if stored == nil {
			if stored, err = tx.PrepareContext(ctx, `SELECT level, message, source, timestamp, metadata, timestamp_filled
				FROM log_events WHERE producer_identity = ? AND id = ?`); err != nil {
				return 0, fmt.Errorf("write: prepare: %w", err)
			}
			defer stored.Close()
		}
		old := row{}
		var ts int64
		if err := stored.QueryRowContext(ctx, r.identity, r.id).Scan(&old.level, &old.message, &old.source, &ts, &old.metadata, &old.timestampFilled); err != nil {
			return 0, fmt.Errorf("write: read stored record %d: %w", i, err)
		}
		old.timestamp = time.UnixMicro(ts).UTC()
		if !sameContent(old, r) {
			conflicts = append(conflicts, i)
		}
	}
	if len(conflicts) > 0 {
		return 0, fmt.Errorf("write: %w", &ConflictError{Indexes: conflicts})
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("write: commit: %w", err)
	}
	return inserted, nil
}

func (s *sqliteStore) Query(ctx context.Context, f Filter) ([]Record, error) {
	f, err := f.normalize()
	if err != nil {
		return nil, err
	}
	q, args := selectSQL(f, func(int) string { return "?" }, func(t time.Time) any { return t.UnixMicro() })
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var rec Record
		var level string
		var ts, recv int64
		var md []byte
		if err := rows.Scan(&rec.ID, &level, &rec.Message, &rec.Source, &ts, &md,
			&rec.Identity, &rec.KafkaPartition, &rec.KafkaOffset, &recv, &rec.TimestampFilled); err != nil {
			return nil, fmt.Errorf("query: scan: %w", err)
		}
		rec.Level = event.Level(level)
		rec.Timestamp = time.UnixMicro(ts).UTC()
		rec.ReceivedAt = time.UnixMicro(recv).UTC()
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

func (s *sqliteStore) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

func (s *sqliteStore) Close() error { return s.db.Close() }

// versions lists the applied migrations (tests).
func (s *sqliteStore) versions(ctx context.Context) ([]int, error) {
	m, err := sqliteVersions(ctx, s.db)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(m)), nil
}
