package bench

import (
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis; utime 250, stime 50 ticks.
	stat := "4242 (java (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 40 0 123 456 789"
	got, err := parseStatCPU(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 5"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestListeningInodes(t *testing.T) {
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:4A85 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:4A85 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 100 0 0 10 0
`
	got := listeningInodes(table, 19077) // 0x4A85
	if !slices.Equal(got, []string{"1111"}) {
		t.Fatalf("listeningInodes = %v, want [1111] (the LISTEN entry only)", got)
	}
}

// The process listening on a port is found, and its CPU read, through
// /proc: here the test process's own listener.
func TestListenerPIDsFindsThisProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pids, err := ListenerPIDs(ln.Addr().(*net.TCPAddr).Port)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, os.Getpid()) {
		t.Fatalf("ListenerPIDs = %v, want it to hold this process %d", pids, os.Getpid())
	}
	if cpu, err := ProcCPU(os.Getpid()); err != nil || cpu < 0 {
		t.Fatalf("ProcCPU = %v, %v", cpu, err)
	}
	ln.Close()
	if _, err := ListenerPIDs(ln.Addr().(*net.TCPAddr).Port); err == nil {
		t.Fatal("a closed listener was still found")
	}
}
