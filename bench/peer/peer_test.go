//go:build linux

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"logsys/internal/testpki"
)

func TestParseProcStat(t *testing.T) {
	busy, total, err := parseProcStat("cpu  100 5 50 800 20 1 4 0 7 0\ncpu0 1 2 3\n")
	// busy = user+nice+system+irq+softirq+steal = 160 ticks; total 980.
	if err != nil || busy != 1600*time.Millisecond || total != 9800*time.Millisecond {
		t.Fatalf("parseProcStat = %v, %v, %v", busy, total, err)
	}
	if _, _, err := parseProcStat("intr 1 2 3\n"); err == nil {
		t.Fatal("a /proc/stat without a cpu line was accepted")
	}
}

func TestSumMetrics(t *testing.T) {
	text := `# HELP logsys_http_requests_total x
logsys_http_requests_total{code="202",role="producer",route="/internal/v1/events"} 40
logsys_http_requests_total{code="400",role="producer",route="/internal/v1/events"} 2
logsys_http_requests_total{code="200",role="producer",route="/metrics"} 9
logsys_events_total{result="accepted",role="producer"} 1.5e+03
logsys_events_total{result="failed",role="producer"} 7
`
	got := sumMetrics(text, producerMetrics)
	if got["posts"] != 42 || got["events"] != 1500 || got["kafka_compr"] != 0 {
		t.Fatalf("sumMetrics = %v", got)
	}
}

func TestParseReport(t *testing.T) {
	rep := `{"latencies":{"total":9000000,"mean":3000000,"50th":2500000,"90th":4000000,"95th":4500000,"99th":8000000,"max":9000000,"min":1000000},
"requests":1000,"rate":50.1,"throughput":49.9,"success":0.998,"duration":20000000000,"wait":3000000,
"status_codes":{"202":998,"503":2},"errors":["503 Service Unavailable"]}`
	r, err := parseReport([]byte(rep))
	if err != nil {
		t.Fatal(err)
	}
	if r.ok() != 998 || r.Latencies.P50 != 2500*time.Microsecond || r.Latencies.P99 != 8*time.Millisecond || r.seconds() != 20.003 {
		t.Fatalf("parseReport = %+v", r)
	}
}

// Every body is what its endpoint expects: one event, NDJSON lines of
// events, or an OTLP request holding n records.
func TestBodies(t *testing.T) {
	if n := len(singleEvent); n < 150 || n > 190 {
		t.Errorf("single event is %d bytes, want about 170", n)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(singleEvent), &ev); err != nil || ev["message"] == nil || ev["source"] == nil {
		t.Fatalf("single event %v: %v", ev, err)
	}
	sc := bufio.NewScanner(strings.NewReader(ndjson(500)))
	lines := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("NDJSON line %d is not JSON", lines+1)
		}
		lines++
	}
	if lines != 500 {
		t.Fatalf("NDJSON has %d lines, want 500", lines)
	}
	for _, n := range []int{1, 500} {
		var req struct {
			ResourceLogs []struct {
				ScopeLogs []struct {
					LogRecords []struct {
						SeverityText string `json:"severityText"`
						Body         struct {
							StringValue string `json:"stringValue"`
						} `json:"body"`
					} `json:"logRecords"`
				} `json:"scopeLogs"`
			} `json:"resourceLogs"`
		}
		if err := json.Unmarshal([]byte(otlpLogs(n)), &req); err != nil {
			t.Fatal(err)
		}
		recs := req.ResourceLogs[0].ScopeLogs[0].LogRecords
		if len(recs) != n || recs[n-1].SeverityText != "INFO" || recs[0].Body.StringValue == "" {
			t.Fatalf("OTLP body of %d holds %d records: %+v", n, len(recs), recs[0])
		}
	}
	for _, sys := range []string{"bare", "logsys", "otel"} {
		for _, sh := range shapes {
			if _, err := targetFor(sys, sh, "127.0.0.1:1", answerMinimal); err != nil {
				t.Errorf("%s %s: %v", sys, sh.name, err)
			}
		}
	}
}

// The committed templates fill completely; a placeholder left over is
// an error naming it.
func TestFillTemplates(t *testing.T) {
	dir := t.TempDir()
	for file, repl := range map[string]map[string]string{
		"logsys.yaml":  {"@GWPORT@": "1", "@PRPORT@": "2", "@PKI@": "/p", "@DATA@": "/d", "@BROKERS@": `"127.0.0.1:19093"`},
		"otelcol.yaml": {"@PORT@": "3", "@ENVDIR@": "/p/dev", "@BROKERS@": `"127.0.0.1:19093"`},
	} {
		dst := filepath.Join(dir, file)
		if err := fill(file, dst, repl); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if file == "logsys.yaml" {
			if err := fill(file, dst, repl, "gateway.producer.workers=2"); err != nil {
				t.Fatal(err)
			}
			if b, _ := os.ReadFile(dst); !strings.Contains(string(b), "    workers: 2\n") {
				t.Fatalf("variant setting missing:\n%s", b)
			}
		}
		delete(repl, "@BROKERS@")
		err := fill(file, dst, repl)
		if err == nil || !strings.Contains(err.Error(), "@BROKERS@ not replaced") {
			t.Fatalf("%s without @BROKERS@: %v", file, err)
		}
	}
	if got := brokerList("127.0.0.1:1, 127.0.0.1:2"); got != `"127.0.0.1:1", "127.0.0.1:2"` {
		t.Fatalf("brokerList = %s", got)
	}
}

func TestSummarizeRatios(t *testing.T) {
	ms := []measurement{
		{System: "bare", Shape: "single16", Round: 1, OK: 1000, Events: 1000, Seconds: 1, EventsPerSec: 1000, P50ms: 1, P99ms: 2, AppCPU: map[string]float64{"bare": 0.01}},
		{System: "otel", Shape: "single16", Round: 1, OK: 200, Events: 200, Seconds: 1, EventsPerSec: 200, P50ms: 4, P99ms: 8, AppCPU: map[string]float64{"otelcol": 0.04}},
		{System: "logsys", Shape: "single16", Round: 1, OK: 300, Requests: 301, Events: 300, Seconds: 1, EventsPerSec: 300, P50ms: 2, P99ms: 4,
			AppCPU: map[string]float64{"gateway": 0.03, "producer": 0.03}, Producer: counters{"posts": 100, "events": 300}},
		{System: "logsys", Shape: "single16", Round: 2, OK: 500, Requests: 500, Events: 500, Seconds: 1, EventsPerSec: 500, P50ms: 2, P99ms: 6,
			AppCPU: map[string]float64{"gateway": 0.05, "producer": 0.05}, Producer: counters{"posts": 100, "events": 500}},
	}
	rep := summarize(ms, []string{"bare", "logsys", "otel"}, []string{"single16"})
	if rep.find("logsys/w2", "single16") != nil {
		t.Fatal("a row for a system that was not measured")
	}
	l := rep.find("logsys", "single16")
	if l == nil || l.Rounds != 2 || l.EventsPerSec != 400 || l.MinEvS != 300 || l.MaxEvS != 500 || l.Errors != 1 || l.P99ms != 5 {
		t.Fatalf("logsys row = %+v", l)
	}
	if l.AppUs != 200 || l.AppSplitUs["gateway"] != 100 {
		t.Fatalf("logsys CPU per event = %v %v, want 200 us (gateway 100)", l.AppUs, l.AppSplitUs)
	}
	var out strings.Builder
	rep.table(&out)
	for _, want := range []string{
		"| logsys gateway+producer, single events, 16 workers | 400 | 300-500 | 2.00 | 5.00 | 200.0 (gw 100.0 + prod 100.0) |",
		"| logsys gateway+producer, single events, 16 workers | 2.00x | 0.40x | 0.50x | 2.00x | 0.62x | 2.50x | 1.00x | 20.00x |",
		"| logsys gateway+producer, single events, 16 workers | - | - | - | - | 4.00 | - | - |",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks\n%s\nin\n%s", want, out.String())
		}
	}
}

// The bare server answers 202 to a client with a certificate of its
// environment and refuses the handshake without one.
func TestBareServer(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	dir := t.TempDir()
	ca.Leaf("dev", "gateway")
	cli := ca.Leaf("dev", "client")
	ca.WriteLayout(dir)
	f := testpki.Paths(dir, "dev", "gateway")
	tc, err := bareTLS(f.Cert, f.Key, f.CA)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newBareServer(tc)
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	url := "https://" + ln.Addr().String() + "/"
	post := func(cert []tls.Certificate) (int, error) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool("dev"), Certificates: cert}}}
		defer c.CloseIdleConnections()
		resp, err := c.Post(url, "application/json", strings.NewReader(singleEvent))
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if code, err := post([]tls.Certificate{cli.TLS}); err != nil || code != http.StatusAccepted {
		t.Fatalf("with a client certificate: %d, %v; want 202", code, err)
	}
	if code, err := post(nil); err == nil {
		t.Fatalf("without a client certificate the server answered %d", code)
	}
	// And identityTLS reads the same layout.
	if _, err := identityTLS(filepath.Join(dir, "dev"), "client"); err != nil {
		t.Fatal(err)
	}
	if _, err := identityTLS(filepath.Join(dir, "dev"), "nobody"); err == nil {
		t.Fatal("identityTLS of a missing identity succeeded")
	}
}

// A child started by the harness is stopped by SIGTERM and its early
// exit is reported with its log.
func TestProcStartStop(t *testing.T) {
	dir := t.TempDir()
	p, err := start("sleeper", filepath.Join(dir, "s.log"), "/bin/sh", nil, "-c", "echo started; exec sleep 30")
	if err != nil {
		t.Fatal(err)
	}
	if cpu, err := cpuOf(p.pid()); err != nil || cpu < 0 {
		t.Fatalf("cpuOf = %v, %v", cpu, err)
	}
	for i := 0; i < 500; i++ { // until the shell has written its line
		if b, _ := os.ReadFile(p.log); len(b) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.stop(5 * time.Second)
	err = p.exited()
	if err == nil || !strings.Contains(err.Error(), "started") {
		t.Fatalf("exited() = %v, want the log tail", err)
	}
	q, err := start("false", filepath.Join(dir, "f.log"), "/bin/false", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-q.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := waitTLS(ctx, q, "127.0.0.1:1", &tls.Config{}, time.Second); err == nil || !strings.Contains(err.Error(), "false exited") {
		t.Fatalf("waitTLS on an exited process: %v", err)
	}
}

func TestVariants(t *testing.T) {
	o := options{systems: []string{"bare", "logsys", "otel"}}
	if err := o.addVariants([]string{"w2=gateway.producer.workers=2", "h2=gateway.producer.http2=true,producer.linger=1ms"}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.systems, " "); got != "bare logsys logsys/w2 logsys/h2 otel" {
		t.Fatalf("systems = %s", got)
	}
	if got := o.variants["h2"]; len(got) != 2 || got[1] != "producer.linger=1ms" {
		t.Fatalf("variant h2 = %v", got)
	}
	if err := o.addVariants([]string{"gc=env.GOGC=400,gateway.producer.workers=1"}); err != nil {
		t.Fatal(err)
	}
	if file, env := variantEnv(o.variants["gc"]); !slices.Equal(file, []string{"gateway.producer.workers=1"}) || !slices.Equal(env, []string{"GOGC=400"}) {
		t.Fatalf("variant gc: file %v, env %v", file, env)
	}
	if kind("logsys/w2") != "logsys" || kind("otel") != "otel" {
		t.Fatal("kind")
	}
	for _, bad := range []string{"w2", "=gateway.addr=1", "w2=GOGC=50", "w2=env.=1", "w2=env.GOGC", "a/b=log.level=debug", "w2=gateway..addr=1", "w2=consumer.group=g"} {
		o := options{systems: []string{"logsys"}}
		if err := o.addVariants([]string{bad}); err == nil {
			t.Errorf("-variant %q accepted", bad)
		}
	}
	o = options{systems: []string{"logsys"}}
	if err := o.addVariants([]string{"a=log.level=debug", "a=log.level=info"}); err == nil {
		t.Error("a variant name given twice was accepted")
	}
}

func TestSetYAML(t *testing.T) {
	doc := `# comment
log:
  level: warn
gateway:
  addr: 127.0.0.1:1
  producer:
    url: https://x  # the hop
producer:
  addr: 127.0.0.1:2
`
	tests := []struct{ key, value, want string }{
		{"gateway.producer.url", "https://y", "  producer:\n    url: https://y\nproducer:"},
		{"gateway.producer.workers", "2", "    url: https://x  # the hop\n    workers: 2\nproducer:"},
		{"producer.linger", "1ms", "  addr: 127.0.0.1:2\n  linger: 1ms\n"},
		{"producer.kafka.topic", "t", "  addr: 127.0.0.1:2\n  kafka:\n    topic: t\n"},
		{"consumer.group", "g", "  addr: 127.0.0.1:2\nconsumer:\n  group: g\n"},
		{"log.level", "debug", "log:\n  level: debug\ngateway:"},
	}
	for _, tt := range tests {
		got, err := setYAML(doc, tt.key, tt.value)
		if err != nil || !strings.Contains(got, tt.want) {
			t.Errorf("setYAML(%s=%s) = %v\n%s\nwant it to hold\n%s", tt.key, tt.value, err, got, tt.want)
		}
	}
	if _, err := setYAML(doc, "gateway..addr", "x"); err == nil {
		t.Error("an empty path element was accepted")
	}
	// The real template takes a variant and stays complete.
	b, err := os.ReadFile("logsys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := setYAML(string(b), "gateway.producer.workers", "2")
	if err != nil || !strings.Contains(got, "  producer:\n    url: https://127.0.0.1:@PRPORT@/internal/v1/events\n    workers: 2\n") {
		t.Fatalf("template with a variant:\n%s\n%v", got, err)
	}
}

func TestParentOf(t *testing.T) {
	for stat, want := range map[string]int{
		"31692 (postgres) S 1 31692 31692 0 -1":          1,
		"31700 (postgres: logsys (x)) S 31692 31700 0 0": 31692,
		"garbage": -1,
		"7 (x) S": -1,
	} {
		if got := parentOf(stat); got != want {
			t.Errorf("parentOf(%q) = %d, want %d", stat, got, want)
		}
	}
}

// TestLogsysAnswer: -logsys-answer minimal sends Prefer: return=minimal to
// the logsys arms (variants included) and to no other; full sends none.
func TestLogsysAnswer(t *testing.T) {
	g := &loadgen{requestTimeout: time.Second}
	prefers := func(args []string) bool {
		for i := range args {
			if args[i] == "-header" && i+1 < len(args) && args[i+1] == "Prefer: return=minimal" {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		sys, answer string
		want        bool
	}{
		{"logsys", answerMinimal, true}, {"logsys/gogc", answerMinimal, true}, {"logsys", answerFull, false},
		{"otel", answerMinimal, false}, {"bare", answerMinimal, false}, {"otel", answerFull, false},
	} {
		for _, sh := range shapes {
			tg, err := targetFor(c.sys, sh, "127.0.0.1:1", c.answer)
			if err != nil {
				t.Fatalf("%s %s: %v", c.sys, sh.name, err)
			}
			if got := prefers(g.attackArgs("a", tg, time.Second, 0, "1", "1", "b", "o")); got != c.want {
				t.Errorf("%s %s -logsys-answer %s: Prefer sent %v, want %v", c.sys, sh.name, c.answer, got, c.want)
			}
		}
	}
	if _, err := targetFor("logsys", shapes[0], "127.0.0.1:1", "ids"); err == nil {
		t.Error("answer ids: no error")
	}
	o := options{bin: "b", pki: "p", work: "w", templates: "t", duration: time.Second, rounds: 1, logsysAnswer: "ids"}
	if err := o.validate(); err == nil || !strings.Contains(err.Error(), "-logsys-answer") {
		t.Errorf("validate with -logsys-answer ids: %v", err)
	}
}
