package main

import (
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"logsys/internal/testutil"
	"logsys/store"
)

// TestProcessAllSurvivesKill9: `logsys all` is killed with SIGKILL three
// times while clients send events, and started again on the same data
// directory each time. Every event answered 202 is stored, exactly once.
//
// This is the documented contract of the embedded broker without
// sync_writes (the default): a 202 means the broker acknowledged the
// event, and the broker acknowledges a batch after writing it to its
// segment file, so it is in the page cache and survives the death of the
// process (not of the machine: that needs all.broker.sync_writes). The
// consumer commits offsets only after the store wrote a batch, so what was
// in flight is redelivered, and the store keeps one event per (identity,
// id).
func TestProcessAllSurvivesKill9(t *testing.T) {
	const (
		cycles  = 3
		senders = 4
		load    = 1500 * time.Millisecond // of sending before each kill
		after   = 300 * time.Millisecond  // of sending into the dead process
	)
	dir := t.TempDir()
	ports := testutil.FreePorts(t, 8)
	env := allEnv(ports)
	gateway := "https://127.0.0.1:" + strconv.Itoa(ports[0])

	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		statuses = map[int]int{}
	)
	for cycle := range cycles {
		all := startLogsys(t, dir, env, "all")
		all.waitOutput(t, all.stdout, "logsys all is running")
		c := gatewayClient(t, filepath.Join(dir, ".logsys", "pki"))
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					id := fmt.Sprintf("kill-%d-%d-%d", cycle, g, n)
					code := postEvent(c, gateway, `{"id":"`+id+`","message":"`+id+`","source":"killtest","timestamp":"2026-01-01T00:00:00Z"}`)
					mu.Lock()
					statuses[code]++
					if code == http.StatusAccepted {
						accepted[id] = true
					}
					mu.Unlock()
					if code == 0 {
						time.Sleep(20 * time.Millisecond) // the process is gone
					}
				}
			})
		}
		time.Sleep(load)
		if err := all.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		close(stop)
		wg.Wait()
		<-all.done
		mu.Lock()
		t.Logf("cycle %d: killed; %d accepted so far, statuses %v", cycle+1, len(accepted), statuses)
		mu.Unlock()
		testutil.RequireFree(t, ports)
	}
	if len(accepted) < cycles*senders {
		t.Fatalf("only %d events accepted: the load did not run", len(accepted))
	}

	// Started once more, the pipeline drains what the broker holds.
	all := startLogsys(t, dir, env, "all")
	all.waitOutput(t, all.stdout, "logsys all is running")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, ".logsys", "store", store.SQLiteFile)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stored := func() map[string]int {
		rows, err := db.Query(`SELECT id, COUNT(*) FROM log_events WHERE source = 'killtest' GROUP BY id`)
		if err != nil {
			t.Fatalf("count stored events: %v", err)
		}
		defer rows.Close()
		m := map[string]int{}
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				t.Fatal(err)
			}
			m[id] = n
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	lost := func(m map[string]int) int {
		n := 0
		for id := range accepted {
			if m[id] == 0 {
				n++
			}
		}
		return n
	}
	var got map[string]int
	testutil.Eventually(t, 60*time.Second, "every accepted event stored", func() bool { got = stored(); return lost(got) == 0 })
	all.stop(t)
	got = stored()
	var dup, unanswered int
	for id, n := range got {
		if n > 1 {
			dup++
		}
		if !accepted[id] {
			unanswered++ // stored, but its answer died with the process
		}
	}
	t.Logf("%d kill -9 cycles: accepted (202) %d, stored %d, lost %d, duplicated %d; stored without a 202 (answer lost in the kill) %d; statuses %v",
		cycles, len(accepted), len(got), lost(got), dup, unanswered, statuses)
	if lost(got) != 0 || dup != 0 {
		t.Errorf("lost %d, duplicated %d; want 0 and 0", lost(got), dup)
	}
}
