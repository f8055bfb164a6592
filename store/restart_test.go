package store

import (
	"context"
	"fmt"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresRestartMidStream restarts the server (LOGSYS_TEST_PG_RESTART,
// e.g. ".ci/postgres.sh restart") while a writer streams batches and
// retries failed ones, as the consumer does; every event must end up
// stored exactly once.
func TestPostgresRestartMidStream(t *testing.T) {
	cfg := pgConfig(t)
	restart := requireEnv(t, envPGRestart, "the restart test needs the command that restarts the server")
	s := open(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := startTime(t, ctx, cfg.DSN)

	const size, restartAt, batchesAfter = 50, 5, 5
	var sent []Record
	done := make(chan error, 1)
	restarted, after, failures := false, 0, 0
	for b := 0; after < batchesAfter; b++ {
		if ctx.Err() != nil {
			t.Fatalf("restart did not finish: %v", ctx.Err())
		}
		if b == restartAt {
			go func() {
				out, err := exec.CommandContext(ctx, "sh", "-c", restart).CombinedOutput()
				if err != nil {
					err = fmt.Errorf("%s: %w\n%s", restart, err, out)
				}
				done <- err
			}()
		}
		batch := recs(fmt.Sprintf("restart-%03d", b), size, t0.Add(time.Duration(b)*time.Minute))
		for i := range batch {
			batch[i].Source = "restart"
		}
		failures += writeRetrying(t, ctx, s, batch)
		sent = append(sent, batch...)
		switch {
		case restarted:
			after++ // keep streaming a few batches after the restart
		case b >= restartAt:
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				restarted = true
			default:
			}
		}
	}
	if after := startTime(t, ctx, cfg.DSN); !after.After(before) {
		t.Fatalf("server start time %v did not change from %v: no restart happened", after, before)
	}
	got := all(t, s, "restart")
	seen := map[string]int{}
	for _, r := range got {
		seen[r.ID]++
	}
	for _, r := range sent {
		if seen[r.ID] != 1 {
			t.Errorf("event %s stored %d times", r.ID, seen[r.ID])
		}
	}
	if len(got) != len(sent) {
		t.Fatalf("stored %d events, sent %d", len(got), len(sent))
	}
	t.Logf("%d events in %d batches across a restart; %d failed writes retried", len(sent), len(sent)/size, failures)
}

// writeRetrying writes batch until it succeeds, with capped exponential
// backoff, and returns how many attempts failed.
func writeRetrying(t *testing.T, ctx context.Context, s Store, batch []Record) int {
	t.Helper()
	backoff := 20 * time.Millisecond
	for failed := 0; ; failed++ {
		_, err := s.Write(ctx, batch)
		if err == nil {
			return failed
		}
		select {
		case <-ctx.Done():
			t.Fatalf("write never succeeded: %v", err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

func startTime(t *testing.T, ctx context.Context, dsn string) time.Time {
	t.Helper()
	for {
		conn, err := pgx.Connect(ctx, dsn)
		if err == nil {
			var ts time.Time
			err = conn.QueryRow(ctx, "SELECT pg_postmaster_start_time()").Scan(&ts)
			conn.Close(ctx)
			if err == nil {
				return ts
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("server start time: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
