package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"logsys/internal/config"
	"logsys/internal/testutil"
	"logsys/pki"
)

// Overload of `logsys all` (docs/bench.md, "Overload"): overloadConns
// connections each post overloadBatch-event NDJSON batches in a closed
// loop for overloadFor, honouring Retry-After as a client should. One arm
// runs with the default in-flight budgets, the other with budgets too
// large to ever shed (what logsys did before); each arm is a fresh
// process, and its peak RSS (VmHWM) is read from /proc.
const (
	overloadConns = 256
	overloadBatch = 500
	overloadFor   = 20 * time.Second
)

// BenchmarkAllOverload reports, per arm, the process's peak RSS, the share
// of requests answered 503, the median latency of the accepted ones and
// the accepted events per second:
//
//	go test -run '^$' -bench BenchmarkAllOverload -benchtime 1x .
func BenchmarkAllOverload(b *testing.B) {
	for _, arm := range []struct {
		name string
		env  []string
	}{
		{"shed", nil},
		{"unbounded", []string{"LOGSYS_GATEWAY_MAX_INFLIGHT_EVENTS=1000000000", "LOGSYS_GATEWAY_MAX_INFLIGHT_BYTES=1000000000000"}},
	} {
		b.Run(arm.name, func(b *testing.B) {
			for range b.N {
				r := overload(b, arm.env)
				b.ReportMetric(float64(r.peakRSS)/(1<<20), "peak-RSS-MiB")
				b.ReportMetric(100*float64(r.shed)/float64(max(r.requests, 1)), "%503")
				b.ReportMetric(r.p50.Seconds()*1000, "p50-ms")
				b.ReportMetric(float64(r.accepted)/overloadFor.Seconds(), "accepted-ev/s")
				b.Logf("%s: %d requests, %d answered 503 (every one with Retry-After: %v), %d other failures, %d events accepted, p50 %v p99 %v, peak RSS %d MiB",
					arm.name, r.requests, r.shed, r.retryAfter == r.shed, r.failed, r.accepted, r.p50, r.p99, r.peakRSS>>20)
			}
		})
	}
}

type overloadResult struct {
	requests, shed, retryAfter, failed, accepted int
	p50, p99                                     time.Duration
	peakRSS                                      int64
}

// overload runs one arm against a fresh `logsys all`.
func overload(b *testing.B, env []string) overloadResult {
	b.Helper()
	dir := b.TempDir()
	ports := testutil.FreePorts(b, 8)
	cmd, stderr, _ := startAll(b, dir, append(allEnv(ports), env...))
	client := overloadClientTLS(b, filepath.Join(dir, ".logsys", "pki"))
	url := "https://127.0.0.1:" + strconv.Itoa(ports[0]) + "/api/v1/logs/batch"

	var body bytes.Buffer
	for i := range overloadBatch {
		fmt.Fprintf(&body, `{"level":"INFO","message":"GET /orders/%d 200 3ms user=42 region=eu-west-1","source":"overload","metadata":{"request_id":"r-%d"}}`+"\n", i, i)
	}
	var (
		mu  sync.Mutex
		res overloadResult
		lat []time.Duration
		wg  sync.WaitGroup
	)
	stop := time.Now().Add(overloadFor)
	for range overloadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{TLSClientConfig: client, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
			for time.Now().Before(stop) {
				start := time.Now()
				resp, err := c.Post(url, "application/x-ndjson", bytes.NewReader(body.Bytes()))
				var code int
				var ra string
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code, ra = resp.StatusCode, resp.Header.Get("Retry-After")
				}
				d := time.Since(start)
				mu.Lock()
				res.requests++
				switch {
				case code == http.StatusAccepted:
					res.accepted += overloadBatch
					lat = append(lat, d)
				case code == http.StatusServiceUnavailable:
					res.shed++
					if ra != "" {
						res.retryAfter++
					}
				default:
					res.failed++
				}
				mu.Unlock()
				if code == http.StatusServiceUnavailable {
					wait, _ := strconv.Atoi(ra)
					time.Sleep(time.Duration(max(wait, 1)) * time.Second)
				}
			}
		}()
	}
	wg.Wait()
	res.peakRSS = procMem(b, cmd.Process.Pid, "VmHWM")
	slices.Sort(lat)
	if len(lat) > 0 {
		res.p50, res.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	if res.accepted == 0 {
		b.Errorf("no batch accepted\nstderr:\n%s", stderr)
	}
	return res
}

// startAll runs `logsys all` in dir until the benchmark ends and waits
// until it serves; done closes when it has exited.
func startAll(b testing.TB, dir string, env []string) (cmd *exec.Cmd, stderr *syncBuffer, done <-chan struct{}) {
	b.Helper()
	cmd = exec.Command(testutil.Binary(b), "all")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	stdout := &syncBuffer{}
	stderr = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(processBound); !strings.Contains(stdout.String(), "logsys all is running"); {
		select {
		case <-exited:
			b.Fatalf("logsys all exited\nstderr:\n%s", stderr)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("logsys all not running within %v\nstderr:\n%s", processBound, stderr)
		}
	}
	return cmd, stderr, exited
}

// overloadClientTLS presents the client identity of the PKI logsys all made.
func overloadClientTLS(b testing.TB, pkiDir string) *tls.Config {
	b.Helper()
	l := pki.Layout{Dir: pkiDir}
	cert, err := tls.LoadX509KeyPair(l.CertFile("dev", "client"), l.KeyFile("dev", "client"))
	if err != nil {
		b.Fatal(err)
	}
	chain, err := os.ReadFile(l.ChainFile("dev"))
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(chain)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
}

// procMem is a memory field of /proc/PID/status (VmHWM, the peak RSS;
// VmRSS), in bytes.
func procMem(b testing.TB, pid int, field string) int64 {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc status", field)
	return 0
}
