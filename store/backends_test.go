package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"logsys/event"
)

// The PostgreSQL half of the suite runs when LOGSYS_TEST_PG_DSN is set
// (see .ci/postgres.sh); without it the tests skip visibly, or fail when
// CI is set, because then the service is required.
const (
	envPGDSN     = "LOGSYS_TEST_PG_DSN"
	envPGRestart = "LOGSYS_TEST_PG_RESTART"
)

// backend gives each test a fresh, empty database of one kind.
type backend struct {
	name   string
	config func(tb testing.TB) Config
}

var backends = []backend{
	{"sqlite", func(tb testing.TB) Config { return Config{DataDir: tb.TempDir()} }},
	{"postgres", pgConfig},
}

// forEachBackend runs fn as a subtest against every backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b) })
	}
}

// requireEnv returns the variable or skips (fails under CI) naming it.
func requireEnv(tb testing.TB, name, what string) string {
	tb.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s not set: %s; start one with `eval \"$(.ci/postgres.sh start PKI_DIR)\"`", name, what)
	if os.Getenv("CI") != "" {
		tb.Fatal("CI is set and the service is missing: " + msg)
	}
	tb.Skip("SKIPPED: " + msg)
	return ""
}

// pgConfig creates a schema of its own for the test (dropped at cleanup)
// and returns a config whose connections use it as search_path.
func pgConfig(tb testing.TB) Config {
	tb.Helper()
	dsn := requireEnv(tb, envPGDSN, "PostgreSQL store tests need a server")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect %s: %v", envPGDSN, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parse %s: %v", envPGDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema) // pgx sends unknown parameters as run-time settings
	u.RawQuery = q.Encode()
	return Config{DSN: u.String(), MaxConns: 8}
}

// open opens cfg and closes the store at cleanup.
func open(tb testing.TB, cfg Config) Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// recs returns n valid records of source src with IDs src-00000...,
// timestamps one millisecond apart from start (oldest first) and
// levels cycling through event.Levels.
func recs(src string, n int, start time.Time) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{
			Event: event.Event{
				ID: fmt.Sprintf("%s-%05d", src, i), Level: event.Levels[i%len(event.Levels)],
				Message: fmt.Sprintf("message %d", i), Source: src, Timestamp: start.Add(time.Duration(i) * time.Millisecond),
				Metadata: map[string]any{"i": float64(i)}, Identity: "spiffe://logsys.local/dev/client",
			},
			KafkaPartition: int32(i % 3), KafkaOffset: int64(i), ReceivedAt: start.Add(time.Hour),
		}
	}
	return out
}

// all returns every record of source src, paging through Query by Until;
// records must have distinct timestamps.
func all(tb testing.TB, s Store, src string) []Record {
	tb.Helper()
	var out []Record
	f := Filter{Source: src, Limit: MaxLimit}
	for {
		page, err := s.Query(context.Background(), f)
		if err != nil {
			tb.Fatalf("query: %v", err)
		}
		out = append(out, page...)
		if len(page) < MaxLimit {
			return out
		}
		f.Until = page[len(page)-1].Timestamp
	}
}

func ids(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
