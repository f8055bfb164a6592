package dashboards_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"logsys/ca"
	"logsys/dashboards"
	"logsys/enroll"
	"logsys/pki"
	"logsys/roles"
	"logsys/store"
	"logsys/tlsx"
)

// source says where a dashboard metric is expected to come from, for the
// failure message.
var source = map[string]string{
	"logsys_build_info":                            "every role: roles/metrics.go newRoleMetrics (info gauge)",
	"logsys_ca_report_age_seconds":                 "logsys ca: ca/metrics.go rolloverCollector, one series per identity with a live certificate",
	"logsys_ca_rollover_forced_total":              "logsys ca: ca/metrics.go registerRollover creates {env, reason} at 0",
	"logsys_ca_rollover_phase":                     "logsys ca: ca/metrics.go rolloverCollector (phase of the last plan)",
	"logsys_ca_rollover_phase_seconds":             "logsys ca: ca/metrics.go rolloverCollector",
	"logsys_ca_rollover_waiting_members":           "logsys ca: ca/metrics.go rolloverCollector",
	"logsys_circuit_breaker_state":                 "gateway: roles/metrics.go breaker gauge, set by newBreaker for target=producer",
	"logsys_consumer_lag_records":                  "consumer: roles/metrics.go lag gauge, set by Consumer.updateLag (roles/consumer_health.go) every lag interval",
	"logsys_consumer_store_failing":                "consumer: roles/consumer_health.go newStoreHealth, exported at 0 from the start",
	"logsys_events_total":                          "every role: roles/metrics.go events counter (role, result); nothing increments it yet if absent",
	"logsys_gateway_shed_requests_total":           "gateway: roles/gateway_shed.go newAdmission (every route and budget at 0)",
	"logsys_http_request_duration_seconds_bucket":  "gateway and producer: roles/metrics.go instrument()",
	"logsys_http_requests_total":                   "gateway and producer: roles/metrics.go instrument()",
	"logsys_tls_certificate_expiry_seconds":        "every role: tlsx/metrics.go expiry collector (Source registered with Metrics)",
	"logsys_tls_crl_next_update_seconds":           "every role: tlsx/metrics.go crl collector (Source registered with Metrics)",
	"logsys_tls_reload_rejections_total":           "every role: tlsx/metrics.go addSource (zero series per reject reason)",
	"logsys_tls_handshake_duration_seconds_bucket": "every role: tlsx Listener/Dialer ObserveHandshake",
	"logsys_tls_handshake_failures_total":          "every role: tlsx initListener (zero series per reason)",
	"logsys_tls_reloads_total":                     "every role: tlsx/metrics.go creates it only on the first reload; addSource should create {source, result=success|failure} at 0",
}

// TestRolesExportDashboardMetrics runs gateway, producer, consumer, the
// embedded broker and store on loopback with mutual TLS, sends one event
// through, scrapes every role's /metrics as Prometheus does (with the
// prometheus client certificate) and checks that each metric a dashboard
// or alert queries is exported by at least one role.
func TestRolesExportDashboardMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole pipeline")
	}
	want, err := dashboards.MetricNames()
	if err != nil {
		t.Fatal(err)
	}
	p := startPipeline(t)

	client := mtlsClient(t, p.pkiDir, "client")
	resp, err := client.Post("https://"+p.gateway.Addr()+"/api/v1/logs", "application/json",
		strings.NewReader(`{"level":"INFO","message":"dashboard probe","source":"dashboards-test"}`))
	if err != nil {
		t.Fatalf("send event: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("send event: gateway answered %s", resp.Status)
	}
	waitStored(t, p.store, 1)

	scraper := mtlsClient(t, p.pkiDir, "prometheus")
	targets := map[string]string{"gateway": p.gateway.Addr(), "producer": p.producer.Addr(), "consumer": p.consumer.Addr()}
	caMetrics := startCA(t, p.pkiDir)
	var missing []string
	// Some series appear just after the event is stored (lag is set per
	// poll), so scrape again for a bounded time before reporting.
	for deadline := time.Now().Add(15 * time.Second); ; {
		exported := map[string][]string{}
		for role, addr := range targets {
			for _, name := range scrape(t, scraper, "https://"+addr+"/metrics") {
				exported[name] = append(exported[name], role)
			}
		}
		for _, name := range scrape(t, http.DefaultClient, caMetrics) {
			exported[name] = append(exported[name], "ca")
		}
		missing = missing[:0]
		for _, name := range want {
			if len(exported[name]) == 0 {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, name := range missing {
		t.Errorf("no role exports %s (queried by a dashboard or alert); expected from %s", name, source[name])
	}
}

// startCA runs `logsys ca` (ca.Run) for dev of pkiDir, with its metrics
// on plain HTTP, and enrolls one member so that every rollover series
// exists; it returns the metrics URL.
func startCA(t *testing.T, pkiDir string) string {
	t.Helper()
	ports := make([]string, 2)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().String()
		ln.Close()
	}
	cfg := ca.DefaultConfig()
	cfg.Dir, cfg.Env, cfg.Addr, cfg.MetricsAddr = pkiDir, "dev", ports[0], ports[1]
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ca.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ca: %v", err)
		}
	})
	tok, _, err := ca.NewToken(ca.TokenOptions{Dir: pkiDir, Env: "dev", Name: "gateway"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := enroll.New(enroll.Config{CAURL: "https://" + ports[0], TrustDomain: "logsys.local", Env: "dev", Name: "gateway", Token: tok,
		CABundle: pki.Layout{Dir: pkiDir}.ChainFile("dev"), StateDir: t.TempDir(), Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ectx, ecancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ecancel()
	if err := r.Ensure(ectx); err != nil {
		t.Fatalf("enroll with the ca: %v", err)
	}
	return "http://" + ports[1] + "/metrics"
}

// pipeline is the running roles.
type pipeline struct {
	pkiDir   string
	store    store.Store
	gateway  *roles.Gateway
	producer *roles.Producer
	consumer *roles.Consumer
}

func startPipeline(t *testing.T) *pipeline {
	t.Helper()
	dir := t.TempDir()
	p := &pipeline{pkiDir: filepath.Join(dir, "pki")}
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: p.pkiDir, Envs: []string{"dev"}}); err != nil {
		t.Fatalf("pki init: %v", err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	id := func(name string) tlsx.Identity {
		i := tlsx.DefaultIdentity(name)
		i.PKIDir = p.pkiDir
		return i
	}
	bc := roles.DefaultBrokerConfig()
	bc.Identity, bc.Port, bc.DataDir, bc.Partitions, bc.Logger = id("kafka"), 0, filepath.Join(dir, "kafka"), 1, quiet
	broker, err := roles.NewBroker(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { broker.Close() })
	if p.store, err = store.Open(context.Background(), store.Config{DataDir: filepath.Join(dir, "store")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.store.Close() })

	pc := roles.DefaultProducerConfig()
	pc.Identity, pc.Addr, pc.LivenessAddr, pc.Logger = id("producer"), "127.0.0.1:0", "127.0.0.1:0", quiet
	pc.Kafka.Brokers = broker.Addrs()
	if p.producer, err = roles.NewProducer(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	run(t, "producer", p.producer.Run, p.producer.Close)

	cc := roles.DefaultConsumerConfig()
	cc.Identity, cc.Addr, cc.LivenessAddr, cc.Logger = id("consumer"), "127.0.0.1:0", "127.0.0.1:0", quiet
	cc.Kafka.Brokers, cc.SharedStore = broker.Addrs(), p.store
	if p.consumer, err = roles.NewConsumer(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	run(t, "consumer", p.consumer.Run, p.consumer.Close)

	gc := roles.DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = id("gateway"), "127.0.0.1:0", "127.0.0.1:0", quiet
	gc.Producer.URL = "https://" + p.producer.Addr() + "/internal/v1/events"
	gc.SharedStore = p.store
	if p.gateway, err = roles.NewGateway(context.Background(), gc); err != nil {
		t.Fatal(err)
	}
	run(t, "gateway", p.gateway.Run, p.gateway.Close)
	return p
}

// run starts a role; cleanup stops it (cleanups run in reverse, so the
// gateway stops first) and waits for Run to return.
func run(t *testing.T, name string, runFn func(context.Context) error, closeFn func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runFn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s stopped with: %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop within 30s", name)
		}
		closeFn()
	})
}

// mtlsClient presents dev/<name> and trusts only the dev intermediate.
func mtlsClient(t *testing.T, pkiDir, name string) *http.Client {
	t.Helper()
	l := pki.Layout{Dir: pkiDir}
	ca, err := os.ReadFile(l.CACert("dev"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("no certificate in ca.pem")
	}
	cert, err := tls.LoadX509KeyPair(l.CertFile("dev", name), l.KeyFile("dev", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

func waitStored(t *testing.T, s store.Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		recs, err := s.Query(context.Background(), store.Filter{Limit: store.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events stored after 30s, want %d", len(recs), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape returns the series names of one /metrics answer (text format).
func scrape(t *testing.T, c *http.Client, url string) []string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	return seriesNames(resp.Body)
}

// seriesNames returns the distinct metric names of samples in the text
// exposition format.
func seriesNames(r io.Reader) []string {
	var names []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names = append(names, line[:i])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestSeriesNames(t *testing.T) {
	in := "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 2\nb 3\n\nh_bucket{le=\"+Inf\"} 1\n"
	if got, want := seriesNames(strings.NewReader(in)), []string{"a_total", "b", "h_bucket"}; !slices.Equal(got, want) {
		t.Errorf("seriesNames = %q, want %q", got, want)
	}
}
