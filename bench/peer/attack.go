//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// loadgen runs vegeta: closed loop (rate 0, a fixed number of workers,
// each waiting for its answer), HTTP/1.1 keep-alive, the client's
// certificate, trusting only the environment's intermediate.
type loadgen struct {
	vegeta         string
	cert, key, ca  string
	dir            string // results and bodies
	requestTimeout time.Duration
}

// result is one attack as vegeta reports it, plus the CPU vegeta used.
type result struct {
	Requests   int64            `json:"requests"`
	Success    float64          `json:"success"` // ratio of 2xx/3xx answers
	Duration   time.Duration    `json:"duration"`
	Wait       time.Duration    `json:"wait"`
	Latencies  latencies        `json:"latencies"`
	Codes      map[string]int64 `json:"status_codes"`
	Errors     []string         `json:"errors"`
	LoadgenCPU time.Duration    `json:"-"`
}

type latencies struct {
	P50  time.Duration `json:"50th"`
	P99  time.Duration `json:"99th"`
	Max  time.Duration `json:"max"`
	Mean time.Duration `json:"mean"`
}

// ok is the number of successful requests.
func (r result) ok() int64 {
	return int64(r.Success*float64(r.Requests) + 0.5)
}

// seconds is the attack's span: sending time plus the wait for the last
// answers.
func (r result) seconds() float64 { return (r.Duration + r.Wait).Seconds() }

// attackArgs is vegeta's command line for one attack of t (body and out
// are the files of its body and results).
func (g *loadgen) attackArgs(name string, t target, d time.Duration, rate float64, workers, maxWorkers, body, out string) []string {
	args := []string{"attack", "-name", name,
		"-duration", d.String(), "-rate", strconv.FormatFloat(rate, 'f', -1, 64), "-workers", workers, "-max-workers", maxWorkers,
		"-http2=false", "-keepalive=true", "-timeout", g.requestTimeout.String(),
		"-cert", g.cert, "-key", g.key, "-root-certs", g.ca,
		"-header", "Content-Type: " + t.ctype}
	if t.prefer != "" {
		args = append(args, "-header", "Prefer: "+t.prefer)
	}
	return append(args, "-body", body, "-output", out)
}

// attack sends t with workers closed-loop workers for d.
func (g *loadgen) attack(ctx context.Context, name string, t target, workers int, d time.Duration) (result, error) {
	return g.attackAt(ctx, name, t, workers, d, 0)
}

// attackAt is attack at rate requests/s (open loop, up to 4 x workers
// concurrent requests); rate 0 is attack's closed loop.
func (g *loadgen) attackAt(ctx context.Context, name string, t target, workers int, d time.Duration, rate float64) (result, error) {
	name = strings.ReplaceAll(name, "/", "-") // logsys/NAME variants
	body := filepath.Join(g.dir, name+".body")
	if err := os.WriteFile(body, []byte(t.body), 0o600); err != nil {
		return result{}, fmt.Errorf("write body: %w", err)
	}
	out := filepath.Join(g.dir, name+".bin")
	defer os.Remove(out)
	w, maxW := strconv.Itoa(workers), strconv.Itoa(workers)
	if rate > 0 {
		maxW = strconv.Itoa(4 * workers)
	}
	cmd := exec.CommandContext(ctx, g.vegeta, g.attackArgs(name, t, d, rate, w, maxW, body, out)...)
	cmd.Stdin = strings.NewReader("POST " + t.url + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("vegeta attack %s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	var cpu time.Duration
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	rep, err := exec.CommandContext(ctx, g.vegeta, "report", "-type", "json", out).Output()
	if err != nil {
		return result{}, fmt.Errorf("vegeta report %s: %w", name, err)
	}
	r, err := parseReport(rep)
	r.LoadgenCPU = cpu
	return r, err
}

func parseReport(b []byte) (result, error) {
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("vegeta report: %w", err)
	}
	return r, nil
}
