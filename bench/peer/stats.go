//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// counters are named cumulative values; a measurement is the difference
// of two snapshots.
type counters map[string]float64

func (c counters) sub(o counters) counters {
	d := counters{}
	for k, v := range c {
		d[k] = v - o[k]
	}
	return d
}

// jmx keeps KafkaStats.java attached to the broker: one snapshot of the
// broker's produce counters per line written to it.
type jmx struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startJMX(ctx context.Context, javaFile string, pid int, topic string) (*jmx, error) {
	cmd := exec.CommandContext(ctx, "java", "-XX:TieredStopAtLevel=1", "-Xmx64m", javaFile, strconv.Itoa(pid), topic)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start KafkaStats: %w", err)
	}
	j := &jmx{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !j.out.Scan() || j.out.Text() != "ready" {
		j.close()
		return nil, fmt.Errorf("KafkaStats did not attach to pid %d", pid)
	}
	return j, nil
}

func (j *jmx) snapshot() (counters, error) {
	if j == nil {
		return counters{}, nil
	}
	if _, err := io.WriteString(j.in, "\n"); err != nil {
		return nil, fmt.Errorf("KafkaStats: %w", err)
	}
	c := counters{}
	for j.out.Scan() {
		line := j.out.Text()
		if line == "end" {
			return c, nil
		}
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err == nil {
			c[k] = f
		}
	}
	return nil, fmt.Errorf("KafkaStats ended: %v", j.out.Err())
}

func (j *jmx) close() {
	if j == nil {
		return
	}
	j.in.Close()
	done := make(chan struct{})
	go func() { _ = j.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = j.cmd.Process.Kill()
		<-done
	}
}

// scrape reads the Prometheus text exposition at url (mutual TLS with
// tc) and sums the samples of each wanted metric whose labels contain
// every given label pair.
func scrape(ctx context.Context, tc *tls.Config, url string, want map[string][]string) (counters, error) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: false}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: HTTP %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	return sumMetrics(string(b), want), nil
}

// sumMetrics sums, for each key of want ("name" or "name{...}" alias ->
// [metric name, label="value", ...]), the matching samples.
func sumMetrics(text string, want map[string][]string) counters {
	out := counters{}
	for alias := range want {
		out[alias] = 0
	}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, val := line[:i], line[i+1:]
		name, labels, _ := strings.Cut(series, "{")
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
	next:
		for alias, w := range want {
			if w[0] != name {
				continue
			}
			for _, l := range w[1:] {
				if !strings.Contains(labels, l) {
					continue next
				}
			}
			out[alias] += v
		}
	}
	return out
}

// producerMetrics are the producer's series the findings need: requests
// from the gateway (its forwarder's batches), the events in them, and
// what its Kafka client wrote.
var producerMetrics = map[string][]string{
	"posts":          {"logsys_http_requests_total", `route="/internal/v1/events"`},
	"events":         {"logsys_events_total", `role="producer"`, `result="accepted"`},
	"kafka_uncompr":  {"logsys_kafka_produce_bytes_total"},
	"kafka_compr":    {"logsys_kafka_produce_compressed_bytes_total"},
	"kafka_wr_bytes": {"logsys_kafka_write_bytes_total"},
}
