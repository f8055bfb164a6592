package main

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"logsys/internal/config"
	"logsys/internal/testutil"
	"logsys/pki"
)

// These tests run the real binary: flags, LOGSYS_ variables and files as
// an operator gives them, exit statuses and what is left behind.

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// syncBuffer collects a process's output for reading while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// processBound bounds every wait on a process, so a hung process fails
// the test instead of the run.
const processBound = 2 * time.Minute

// startLogsys runs the binary in dir with the environment stripped of
// configuration variables plus env.
func startLogsys(t *testing.T, dir string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(testutil.Binary(t), args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	p := &process{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitOutput waits until out contains want or the process exits.
func (p *process) waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.NewTimer(processBound)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), want) {
		select {
		case <-p.done:
			if strings.Contains(out.String(), want) {
				return
			}
			t.Fatalf("exited (%v) before printing %q\nstdout:\n%s\nstderr:\n%s", p.err, want, p.stdout, p.stderr)
		case <-deadline.C:
			t.Fatalf("no %q within %v\nstderr:\n%s", want, processBound, p.stderr)
		case <-tick.C:
		}
	}
}

// exitCode waits for the process to end on its own and returns its status.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(processBound):
		t.Fatalf("still running after %v\nstderr:\n%s", processBound, p.stderr)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// stop sends SIGTERM and wants a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t); code != 0 {
		t.Errorf("exit %d after SIGTERM\nstderr:\n%s", code, p.stderr)
	}
}

// allEnv puts every listener of `logsys all` on one of ports (8 of them).
func allEnv(ports []int) []string {
	a := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	return []string{
		"LOGSYS_GATEWAY_ADDR=" + a(0), "LOGSYS_PRODUCER_ADDR=" + a(1), "LOGSYS_CONSUMER_ADDR=" + a(2),
		"LOGSYS_GATEWAY_LIVENESS_ADDR=" + a(3), "LOGSYS_PRODUCER_LIVENESS_ADDR=" + a(4), "LOGSYS_CONSUMER_LIVENESS_ADDR=" + a(5),
		"LOGSYS_ALL_CA_ADDR=" + a(6), "LOGSYS_ALL_BROKER_PORT=" + strconv.Itoa(ports[7]),
	}
}

func newPKI(t *testing.T, dir string) {
	t.Helper()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: []string{"dev"}}); err != nil {
		t.Fatal(err)
	}
}

// TestProcessGatewayFromEnvironment: the gateway listens where
// LOGSYS_GATEWAY_ADDR says, with the PKI and store the environment names,
// and `logsys health --url` reaches it with --pki-dir.
func TestProcessGatewayFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	newPKI(t, filepath.Join(dir, "pki"))
	ports := testutil.FreePorts(t, 2)
	addr, live := "127.0.0.1:"+strconv.Itoa(ports[0]), "127.0.0.1:"+strconv.Itoa(ports[1])
	gw := startLogsys(t, dir, []string{
		"LOGSYS_GATEWAY_ADDR=" + addr, "LOGSYS_GATEWAY_LIVENESS_ADDR=" + live,
		"LOGSYS_GATEWAY_TLS_PKI_DIR=pki", "LOGSYS_GATEWAY_STORE_DATA_DIR=gw-store",
	}, "gateway")
	gw.waitOutput(t, gw.stderr, `msg="gateway listening" role=gateway addr=`+addr)
	h := startLogsys(t, dir, nil, "health", "--url", "https://"+addr+"/readyz", "--pki-dir", "pki")
	if code := h.exitCode(t); code != 0 {
		t.Errorf("health --url: exit %d %s%s", code, h.stdout, h.stderr)
	}
	h = startLogsys(t, dir, nil, "health", "--liveness", "http://"+live+"/healthz")
	if code := h.exitCode(t); code != 0 {
		t.Errorf("health --liveness: exit %d %s%s", code, h.stdout, h.stderr)
	}
	gw.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "gw-store")); err != nil {
		t.Errorf("LOGSYS_GATEWAY_STORE_DATA_DIR not used: %v", err)
	}
	testutil.RequireFree(t, ports)
}

// TestProcessAllDataDir: `logsys all --data-dir X` keeps everything under
// X, and with the default data dir `logsys health --url` needs no flag but
// the URL.
func TestProcessAllDataDir(t *testing.T) {
	dir := t.TempDir()
	ports := testutil.FreePorts(t, 8)
	all := startLogsys(t, dir, allEnv(ports), "all", "--data-dir", "X")
	all.waitOutput(t, all.stdout, "logsys all is running")
	for _, p := range []string{"X/pki/pki.json", "X/pki/dev/ca.pem", "X/kafka", "X/store", "X/identities/gateway"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("--data-dir X: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".logsys")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--data-dir X also wrote ./.logsys (%v)", err)
	}
	all.stop(t)
	testutil.RequireFree(t, ports)

	dir = t.TempDir()
	all = startLogsys(t, dir, allEnv(ports), "all")
	all.waitOutput(t, all.stdout, "logsys all is running")
	h := startLogsys(t, dir, nil, "health", "--url", "https://127.0.0.1:"+strconv.Itoa(ports[0])+"/readyz")
	if code := h.exitCode(t); code != 0 || !strings.Contains(h.stdout.String(), "UP") {
		t.Errorf("health --url after logsys all: exit %d %s%s", code, h.stdout, h.stderr)
	}
	all.stop(t)
	testutil.RequireFree(t, ports)
}

// TestProcessRefusesBadStarts: bad configuration and start-up failures end
// the process with a message naming the key (or address, or file), a
// non-zero status, no panic, and nothing left listening; a refused
// configuration creates nothing at all.
func TestProcessRefusesBadStarts(t *testing.T) {
	tests := []struct {
		name    string
		file    string   // config.yaml in the working directory
		env     []string // besides allEnv
		args    []string
		prepare func(t *testing.T, dir string, ports []int) func()
		created bool // whether the data dir may exist afterwards
		want    []string
	}{
		{name: "unknown section", file: "gatway:\n  addr: \":1\"\n", args: []string{"all"},
			want: []string{"gatway: unknown section; did you mean gateway? (in config.yaml)"}},
		{name: "unknown key", file: "gateway:\n  adr: \":1\"\n", args: []string{"gateway"},
			want: []string{"gateway.adr: unknown key; did you mean gateway.addr? (in config.yaml)"}},
		{name: "unknown variable", env: []string{"LOGSYS_PRODUCER_ADR=:1"}, args: []string{"producer"},
			want: []string{"LOGSYS_PRODUCER_ADR: environment variable names no key"}},
		{name: "duration without unit", file: "gateway:\n  shutdown_grace: 15\n", args: []string{"all"},
			want: []string{"gateway.shutdown_grace: number 15 is not a duration", "(in config.yaml)"}},
		{name: "bad level", env: []string{"LOGSYS_LOG_LEVEL=verbose"}, args: []string{"consumer"},
			want: []string{`log.level: "verbose" must be one of debug, info, warn, error (from LOGSYS_LOG_LEVEL)`}},
		{name: "producer url with a path", env: []string{"LOGSYS_GATEWAY_PRODUCER_URL=https://producer:8081/v1/events"}, args: []string{"gateway"},
			want: []string{`gateway.producer.url: "https://producer:8081/v1/events" has the path "/v1/events"`, "(from LOGSYS_GATEWAY_PRODUCER_URL)"}},
		{name: "producer url under all", env: []string{"LOGSYS_GATEWAY_PRODUCER_URL=https://producer:8081"}, args: []string{"all"},
			want: []string{"gateway.producer.url: is set by logsys all (its own producer)"}},
		{name: "busy port under all", args: []string{"all"}, created: true,
			prepare: func(t *testing.T, dir string, ports []int) func() {
				ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
				if err != nil {
					t.Fatal(err)
				}
				return func() { ln.Close() }
			},
			want: []string{"gateway: listen on 127.0.0.1:", "(gateway.addr)", "address already in use"}},
		{name: "damaged pki under all", args: []string{"all"}, created: true,
			prepare: func(t *testing.T, dir string, _ []int) func() {
				newPKI(t, filepath.Join(dir, ".logsys", "pki"))
				writeText(t, filepath.Join(dir, ".logsys", "pki", "dev", "ca.pem"), "not a certificate\n")
				return func() {}
			},
			want: []string{".logsys/pki/dev/ca.pem: malformed file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ports := testutil.FreePorts(t, 8)
			release := func() {}
			if tt.prepare != nil {
				release = tt.prepare(t, dir, ports)
			}
			if tt.file != "" {
				writeText(t, filepath.Join(dir, "config.yaml"), tt.file)
			}
			p := startLogsys(t, dir, append(allEnv(ports), tt.env...), tt.args...)
			code := p.exitCode(t)
			release()
			stderr := p.stderr.String()
			if code == 0 {
				t.Errorf("exit 0\nstderr:\n%s", stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "panic:") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("panicked:\n%s", stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, ".logsys")); !tt.created && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused configuration still created .logsys (%v)", err)
			}
			testutil.RequireFree(t, ports)
		})
	}
}
