package roles

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/store"
)

// TestStoreDiskFull puts the embedded store on a tmpfs of its own and
// fills it to the last byte under load: SQLite's writes fail (SQLITE_FULL)
// for ten graces, readiness is DOWN with the reason and the lag grows;
// once space is freed everything accepted is stored once. Mounting needs
// root: the test skips visibly without it.
func TestStoreDiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("SKIPPED: mounting a small tmpfs for the store needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: cannot mount a tmpfs for the store: %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	p := startPipelineWith(t, store.Config{DataDir: dir})
	p.stopConsumer()
	p.startConsumerWith(outageConsumer)
	l := startLoad(t, p, "disk-full", 4, 5*time.Millisecond)
	l.waitAccepted(t, 200)

	filler := filepath.Join(dir, "filler")
	fillDisk(t, filler)
	full := time.Now()
	h := p.waitStoreDown(t)
	t.Logf("consumer readiness on a full disk: %v", h.Reasons)
	during := l.count()
	l.waitAccepted(t, during+100)
	p.requireLagCovers(t, "with the disk full")
	if d := 10*outageGrace - time.Since(full); d > 0 {
		time.Sleep(d)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "consumer readiness back UP", func() bool {
		code, _ := p.readiness(t, p.consumer.Addr())
		return code == http.StatusOK
	})
	l.requireAllStoredOnce(t, p.store)
	t.Logf("disk full for %v: %v failed attempts", time.Since(full).Round(time.Millisecond),
		testutil.MetricValue(t, p.consumer.metrics.reg, "logsys_consumer_store_failures_total", nil))
}

// fillDisk writes path until its file system has no byte left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for n := len(buf); n > 0; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", path, err)
				}
				break
			}
		}
	}
}
