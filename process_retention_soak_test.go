//go:build soak

package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"logsys/internal/testutil"
)

// TestSoakBrokerRetentionRSS (docs/bench.md, "Embedded broker
// retention"): `logsys all` takes soakRate events per second for
// LOGSYS_SOAK_FOR (default 4m) with the broker's retention on and off;
// it reports RSS over the run, the broker's data on disk and the peak RSS
// of a restart that replays that data:
//
//	LOGSYS_SOAK_FOR=4m go test -tags soak -run TestSoakBrokerRetentionRSS -v -timeout 30m .
//
// The retention arm uses retention_bytes of 1 MiB per partition so that
// the bound is reached within a minute or two; the default (32 MiB)
// bounds the same way at 32 times the data.
func TestSoakBrokerRetentionRSS(t *testing.T) {
	soakFor := 4 * time.Minute
	if v := os.Getenv("LOGSYS_SOAK_FOR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("LOGSYS_SOAK_FOR: %v", err)
		}
		soakFor = d
	}
	for _, arm := range []struct {
		name string
		env  []string
	}{
		{"retention 1 MiB per partition", []string{"LOGSYS_ALL_BROKER_RETENTION_BYTES=1048576"}},
		{"no retention", []string{"LOGSYS_ALL_BROKER_RETENTION=0", "LOGSYS_ALL_BROKER_RETENTION_BYTES=0"}},
	} {
		t.Run(arm.name, func(t *testing.T) {
			dir := t.TempDir()
			ports := testutil.FreePorts(t, 8)
			env := append(allEnv(ports), arm.env...)
			cmd, stderr, exited := startAll(t, dir, env)
			tc := overloadClientTLS(t, filepath.Join(dir, ".logsys", "pki"))
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
			url := "https://127.0.0.1:" + strconv.Itoa(ports[0]) + "/api/v1/logs/batch"

			const soakRate, perBatch = 1200, 120
			// Each event carries a random trace id, as real logs do, so
			// that lz4 cannot fold the batch into a few bytes.
			batch := func() []byte {
				var body bytes.Buffer
				for i := range perBatch {
					fmt.Fprintf(&body, `{"level":"INFO","message":"GET /orders/%d 200 3ms user=42 region=eu-west-1 trace=%016x%016x","source":"soak","metadata":{"request_id":"%016x"}}`+"\n",
						i, rand.Uint64(), rand.Uint64(), rand.Uint64())
				}
				return body.Bytes()
			}
			var (
				mu             sync.Mutex
				accepted, fail int
				wg             sync.WaitGroup
			)
			sem := make(chan struct{}, 8)
			tick := time.NewTicker(time.Second * perBatch / soakRate)
			sample := time.NewTicker(10 * time.Second)
			var rss []int64
			for end := time.Now().Add(soakFor); time.Now().Before(end); {
				select {
				case <-sample.C:
					rss = append(rss, procMem(t, cmd.Process.Pid, "VmRSS"))
				case <-tick.C:
					sem <- struct{}{}
					wg.Add(1)
					go func() {
						defer func() { <-sem; wg.Done() }()
						resp, err := c.Post(url, "application/x-ndjson", bytes.NewReader(batch()))
						ok := err == nil && resp.StatusCode == http.StatusAccepted
						if err == nil {
							_, _ = io.Copy(io.Discard, resp.Body)
							resp.Body.Close()
						}
						mu.Lock()
						if ok {
							accepted += perBatch
						} else {
							fail++
						}
						mu.Unlock()
					}()
				}
			}
			tick.Stop()
			sample.Stop()
			wg.Wait()
			peak := procMem(t, cmd.Process.Pid, "VmHWM")
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			<-exited
			kafka := dirSize(t, filepath.Join(dir, ".logsys", "kafka"))

			again, _, againExited := startAll(t, dir, env)
			replayPeak := procMem(t, again.Process.Pid, "VmHWM")
			_ = again.Process.Signal(syscall.SIGTERM)
			<-againExited

			mib := func(n int64) int64 { return n >> 20 }
			var maxRSS int64
			for _, r := range rss {
				maxRSS = max(maxRSS, r)
			}
			first := rss[min(2, len(rss)-1)] // after 30 s of warm-up
			t.Logf("%s: %d events accepted in %v (%d batches failed); RSS %d MiB at 30 s, %d MiB at the end, %d MiB at most (peak %d MiB); broker data %d MiB; restart peak RSS %d MiB",
				arm.name, accepted, soakFor, fail, mib(first), mib(rss[len(rss)-1]), mib(maxRSS), mib(peak), mib(kafka), mib(replayPeak))
			var series []int64
			for _, r := range rss {
				series = append(series, mib(r))
			}
			t.Logf("%s: RSS every 10 s (MiB): %v", arm.name, series)
			if accepted == 0 {
				t.Errorf("nothing accepted\nstderr:\n%s", stderr)
			}
		})
	}
}

// dirSize is the bytes of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
