package main

import (
	"database/sql"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"logsys/dlq"
	"logsys/internal/testutil"
	"logsys/store"
)

// TestProcessDLQ: through the binary, against the embedded broker of
// `logsys all`. An id conflict (the same client id with other content)
// is dead-lettered; `dlq list` shows it with its reason, `dlq show`
// prints it whole; after the operator removed the stored event it
// conflicted with, `dlq replay` stores it (with the sender identity it
// carries), and a second replay stores nothing twice and dead-letters
// nothing.
func TestProcessDLQ(t *testing.T) {
	dir := t.TempDir()
	ports := testutil.FreePorts(t, 8)
	env := allEnv(ports)
	dlqArgs := []string{"--pki-dir", ".logsys/pki", "--brokers", "127.0.0.1:" + strconv.Itoa(ports[7])}
	gateway := "https://127.0.0.1:" + strconv.Itoa(ports[0])
	all := startLogsys(t, dir, env, "all")
	all.waitOutput(t, all.stdout, "logsys all is running")
	c := gatewayClient(t, filepath.Join(dir, ".logsys", "pki"))

	const (
		first  = `{"id":"dlq-1","message":"first content","source":"dlqtest","timestamp":"2026-01-01T00:00:00Z"}`
		second = `{"id":"dlq-1","message":"second content","source":"dlqtest","timestamp":"2026-01-01T00:00:00Z"}`
		third  = `{"id":"dlq-1","message":"third content","source":"dlqtest","timestamp":"2026-01-01T00:00:00Z"}`
	)
	for _, body := range []string{first, second} {
		if code := postEvent(c, gateway, body); code != http.StatusAccepted {
			t.Fatalf("POST %s: %d", body, code)
		}
	}
	letters := func() []dlq.Letter {
		p := startLogsys(t, dir, nil, append([]string{"dlq", "list", "--json"}, dlqArgs...)...)
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("dlq list: exit %d\n%s", code, p.stderr)
		}
		var ls []dlq.Letter
		if err := json.Unmarshal([]byte(p.stdout.String()), &ls); err != nil {
			t.Fatalf("dlq list --json: %v\n%s", err, p.stdout)
		}
		return ls
	}
	var ls []dlq.Letter
	testutil.Eventually(t, 30*time.Second, "the conflict in dlq list", func() bool { ls = letters(); return len(ls) > 0 })
	if len(ls) != 1 || ls[0].Reason != dlq.ReasonIDConflict || ls[0].ID != "dlq-1" ||
		ls[0].Identity != "spiffe://logsys.local/dev/client" || !strings.Contains(string(ls[0].Value), "second content") {
		t.Fatalf("dlq list: %+v, want the second content of dlq-1 from the dev client as an id_conflict", ls)
	}
	pos := ls[0].Position.String()

	p := startLogsys(t, dir, nil, append([]string{"dlq", "list", "--reason", "id_conflict", "--since", "1h"}, dlqArgs...)...)
	if code := p.exitCode(t); code != 0 || !strings.Contains(p.stdout.String(), pos+" ") || !strings.Contains(p.stdout.String(), "1 dead letters") {
		t.Errorf("dlq list --reason id_conflict: exit %d\n%s%s", code, p.stdout, p.stderr)
	}
	p = startLogsys(t, dir, nil, append([]string{"dlq", "list", "--reason", "invalid"}, dlqArgs...)...)
	if code := p.exitCode(t); code != 0 || !strings.Contains(p.stdout.String(), "0 dead letters") {
		t.Errorf("dlq list --reason invalid: exit %d\n%s%s", code, p.stdout, p.stderr)
	}
	p = startLogsys(t, dir, nil, append([]string{"dlq", "show", pos}, dlqArgs...)...)
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("dlq show: exit %d\n%s", code, p.stderr)
	}
	for _, want := range []string{"reason    id_conflict", `logsys-error: "id conflict: id \"dlq-1\"`, "logsys-origin: \"log-events/", `"message": "second content"`} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("dlq show lacks %q:\n%s", want, p.stdout)
		}
	}
	t.Logf("dlq show %s:\n%s", pos, p.stdout)
	p = startLogsys(t, dir, nil, append([]string{"dlq", "replay"}, dlqArgs...)...)
	if code := p.exitCode(t); code == 0 || !strings.Contains(p.stderr.String(), "--all") {
		t.Errorf("dlq replay without a selection: exit %d, want a refusal naming --all\n%s", code, p.stderr)
	}

	// The fix: the operator removes the stored event the dead letter
	// conflicts with, the pipeline stopped.
	all.stop(t)
	db, err := sql.Open("sqlite", filepath.Join(dir, ".logsys", "store", store.SQLiteFile))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`DELETE FROM log_events WHERE id = 'dlq-1' AND producer_identity = 'spiffe://logsys.local/dev/client'`)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("delete the first content: %v (%d rows)", err, n)
	}
	db.Close()
	testutil.RequireFree(t, ports)
	all = startLogsys(t, dir, env, "all")
	all.waitOutput(t, all.stdout, "logsys all is running")

	for i := range 2 {
		p = startLogsys(t, dir, nil, append([]string{"dlq", "replay", pos}, dlqArgs...)...)
		if code := p.exitCode(t); code != 0 || !strings.Contains(p.stdout.String(), "replayed "+pos+" (id_conflict, id dlq-1 from spiffe://logsys.local/dev/client) -> log-events/") {
			t.Fatalf("dlq replay %s (#%d): exit %d\n%s%s", pos, i+1, code, p.stdout, p.stderr)
		}
	}
	// A third content of the same id has the same key, so the same
	// partition: once it is dead-lettered and the replay is stored, both
	// replays were handled (the consumer dead-letters a conflict of a
	// batch before it writes the rest).
	if code := postEvent(c, gateway, third); code != http.StatusAccepted {
		t.Fatalf("POST third: %d", code)
	}
	testutil.Eventually(t, 30*time.Second, "the third content dead-lettered", func() bool { return len(letters()) >= 2 })
	var evs []storedEvent
	code := 0
	testutil.Eventually(t, 30*time.Second, "the replay stored", func() bool {
		evs, code = storedEvents(t, c, gateway, "dlqtest", 100)
		return len(evs) > 0
	})
	ls = letters()
	if len(ls) != 2 || !strings.Contains(string(ls[1].Value), "third content") || ls[1].ReplayOf != "" {
		t.Fatalf("dead letters after two replays: %+v\nwant the first conflict and the third content only (a replay dead-lettered again would be one more)", ls)
	}
	evs, code = storedEvents(t, c, gateway, "dlqtest", 100)
	if code != http.StatusOK || len(evs) != 1 || evs[0].Message != "second content" || evs[0].Identity != "spiffe://logsys.local/dev/client" {
		t.Fatalf("stored events of dlqtest: %d %+v, want exactly the replayed second content", code, evs)
	}
	all.stop(t)
}
