package roles

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"logsys/internal/testutil"
	"logsys/store"
)

// holdingProducer is a producer over real mutual TLS (the producer's
// certificate, the gateway's verified) that reports each batch as it
// arrives and answers 202 only once release is closed: the gateway's
// requests stay in flight for as long as a test needs.
type holdingProducer struct {
	srv     *httptest.Server
	arrived chan struct{}
	release chan struct{}
}

func startHoldingProducer(t *testing.T, pkiDir string) *holdingProducer {
	t.Helper()
	dir := filepath.Join(pkiDir, "dev")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "producer", "cert.pem"), filepath.Join(dir, "producer", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := os.ReadFile(filepath.Join(dir, "ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(chain)
	p := &holdingProducer{arrived: make(chan struct{}, 64), release: make(chan struct{})}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		p.arrived <- struct{}{}
		<-p.release
		w.WriteHeader(http.StatusAccepted)
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS13}
	p.srv.StartTLS()
	t.Cleanup(func() {
		p.open()
		p.srv.Close()
	})
	return p
}

// open lets every held and future batch through.
func (p *holdingProducer) open() {
	select {
	case <-p.release:
	default:
		close(p.release)
	}
}

// shedGateway runs a gateway forwarding to a holding producer.
func shedGateway(t *testing.T, edit func(*GatewayConfig)) (*Gateway, *holdingProducer, *http.Client) {
	t.Helper()
	pkiDir := testPKI(t)
	p := startHoldingProducer(t, pkiDir)
	st, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(t.TempDir(), "store")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	gc := DefaultGatewayConfig()
	gc.Identity, gc.Addr, gc.LivenessAddr, gc.Logger = fastIdentity(pkiDir, "gateway"), "127.0.0.1:0", "", quietLogger()
	gc.Producer.URL, gc.SharedStore = p.srv.URL, st
	edit(&gc)
	g, err := NewGateway(context.Background(), gc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		p.open() // the drain must be able to deliver
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway stopped with: %v", err)
		}
		g.Close()
	})
	return g, p, httpClient(clientTLS(t, pkiDir, "dev", "client"))
}

// ndjson is a batch of n events.
func ndjson(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"message":"event %d","source":"shed-test"}`+"\n", i)
	}
	return b.String()
}

// post sends body and returns status, Retry-After and body.
func post(t *testing.T, c *http.Client, url, ctype string, body io.Reader) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// TestGatewayShedsBeyondInflightEvents: while a batch that fills
// max_inflight_events waits for the producer, every further request (the
// JSON API and OTLP) is answered 503 with Retry-After and the reason, and
// counted; once the producer answers, the budget is free again.
func TestGatewayShedsBeyondInflightEvents(t *testing.T) {
	t.Parallel()
	g, p, c := shedGateway(t, func(gc *GatewayConfig) { gc.MaxBatchEvents, gc.MaxInflightEvents = 10, 10 })
	base := "https://" + g.Addr()
	held := make(chan int, 1)
	go func() {
		code, _, _, err := tryPostRaw(c, base+"/api/v1/logs/batch", "application/x-ndjson", ndjson(10))
		if err != nil {
			t.Error(err)
		}
		held <- code
	}()
	<-p.arrived // the 10 events are in flight

	reason := `{"status":"error","error":"gateway overloaded: too much in flight (gateway.max_inflight_events); retry later"}` + "\n"
	for _, r := range []struct {
		name, path, ctype, body string
		events                  int
	}{
		{"single event", "/api/v1/logs", "application/json", `{"message":"m","source":"s"}`, 1},
		{"batch", "/api/v1/logs/batch", "application/x-ndjson", ndjson(3), 3},
		{"json batch", "/api/v1/logs/batch", "application/json", `[{"message":"m","source":"s"}]`, 1},
	} {
		code, ra, body := post(t, c, base+r.path, r.ctype, strings.NewReader(r.body))
		if code != http.StatusServiceUnavailable || ra != "1" || body != reason {
			t.Errorf("%s: got %d Retry-After %q %q, want 503 Retry-After 1 %q", r.name, code, ra, body, reason)
		}
	}
	code, ra, body := post(t, c, base+OTLPPath, "application/json", strings.NewReader(otlpJSON))
	if code != http.StatusServiceUnavailable || ra != "1" || !strings.Contains(body, `"code":14`) || !strings.Contains(body, "max_inflight_events") {
		t.Errorf("OTLP: got %d Retry-After %q %q, want 503 Retry-After 1 and an UNAVAILABLE status", code, ra, body)
	}

	for route, want := range map[string]float64{"/api/v1/logs": 1, "/api/v1/logs/batch": 2, OTLPPath: 1} {
		if got := shedCount(t, g, route, shedEvents); got != want {
			t.Errorf("shed requests of %s = %v, want %v", route, got, want)
		}
	}
	if got := testutil.MetricValue(t, g.metrics.reg, "logsys_events_total", map[string]string{"role": "gateway", "result": "shed"}); got != 6 {
		t.Errorf("shed events = %v, want 6", got)
	}

	p.open()
	if code := <-held; code != http.StatusAccepted {
		t.Fatalf("the held batch got %d, want 202", code)
	}
	if code, _, body := post(t, c, base+"/api/v1/logs/batch", "application/x-ndjson", strings.NewReader(ndjson(10))); code != http.StatusAccepted {
		t.Fatalf("after the producer answered: %d %s, want 202", code, body)
	}
	if b, e := g.adm.inUse(); b != 0 || e != 0 {
		t.Errorf("after every answer %d bytes and %d events are still reserved", b, e)
	}
}

// TestGatewayShedsBeforeReadingTheBody: with max_inflight_bytes held by a
// request in flight, a request whose Content-Length does not fit is
// answered 503 before a byte of its body is read: its body never ends,
// and the answer comes anyway.
func TestGatewayShedsBeforeReadingTheBody(t *testing.T) {
	t.Parallel()
	g, p, c := shedGateway(t, func(gc *GatewayConfig) {
		gc.MaxBodyBytes, gc.MaxBatchBytes, gc.MaxInflightBytes = 4<<10, 8<<10, 8<<10
	})
	base := "https://" + g.Addr()
	first := ndjson(60) // about 3 KiB
	held := make(chan int, 1)
	go func() {
		code, _, _, err := tryPostRaw(c, base+"/api/v1/logs/batch", "application/x-ndjson", first)
		if err != nil {
			t.Error(err)
		}
		held <- code
	}()
	<-p.arrived

	pr, pw := io.Pipe() // a body that is never written
	defer pw.Close()
	req, err := http.NewRequest(http.MethodPost, base+"/api/v1/logs/batch", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 6 << 10 // 3 KiB + 6 KiB > 8 KiB
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"status":"error","error":"gateway overloaded: too much in flight (gateway.max_inflight_bytes); retry later"}` + "\n"
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || string(b) != want {
		t.Errorf("got %d Retry-After %q %q, want 503 Retry-After 1 %q", resp.StatusCode, resp.Header.Get("Retry-After"), b, want)
	}
	if got := shedCount(t, g, "/api/v1/logs/batch", shedBytes); got != 1 {
		t.Errorf("shed requests by bytes = %v, want 1", got)
	}
	// A request that fits is admitted while the first is still held.
	second := make(chan int, 1)
	go func() {
		code, _, _, err := tryPostRaw(c, base+"/api/v1/logs", "application/json", `{"message":"small","source":"s"}`)
		if err != nil {
			t.Error(err)
		}
		second <- code
	}()
	<-p.arrived
	p.open()
	if code := <-held; code != http.StatusAccepted {
		t.Errorf("the held batch got %d, want 202", code)
	}
	if code := <-second; code != http.StatusAccepted {
		t.Errorf("the small event got %d, want 202", code)
	}
}

// shedCount reads logsys_gateway_shed_requests_total{route, budget}.
func shedCount(t *testing.T, g *Gateway, route, budget string) float64 {
	t.Helper()
	return testutil.MetricValue(t, g.metrics.reg, "logsys_gateway_shed_requests_total", map[string]string{"route": route, "budget": budget})
}

// tryPostRaw posts body and returns the status, for goroutines.
func tryPostRaw(c *http.Client, url, ctype, body string) (int, string, string, error) {
	resp, err := c.Post(url, ctype, strings.NewReader(body))
	if err != nil {
		return 0, "", "", fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), nil
}

// TestInflightBudgetsValidate: a budget smaller than one request could
// never admit it.
func TestInflightBudgetsValidate(t *testing.T) {
	t.Parallel()
	c := DefaultGatewayConfig()
	c.MaxInflightBytes, c.MaxInflightEvents = c.MaxBatchBytes-1, c.MaxBatchEvents-1
	err := c.Validate()
	for _, want := range []string{"max_inflight_bytes: ", "max_inflight_events: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want an error naming %s", err, want)
		}
	}
}

// TestGatewayReservesUnknownLengthsUntilRead: a chunked body (no
// Content-Length) reserves the route's whole limit while it is read, then
// only what it was, so requests in flight are counted by their size.
func TestGatewayReservesUnknownLengthsUntilRead(t *testing.T) {
	t.Parallel()
	g, p, c := shedGateway(t, func(gc *GatewayConfig) {
		gc.MaxBodyBytes, gc.MaxBatchBytes, gc.MaxInflightBytes = 4<<10, 8<<10, 8<<10
	})
	base := "https://" + g.Addr()
	body := ndjson(40)
	held := make(chan int, 1)
	go func() {
		pr, pw := io.Pipe()
		go func() { _, _ = io.WriteString(pw, body); pw.Close() }()
		req, err := http.NewRequest(http.MethodPost, base+"/api/v1/logs/batch", pr)
		if err != nil {
			t.Error(err)
			held <- 0
			return
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := c.Do(req) // ContentLength 0 with a body: sent chunked
		if err != nil {
			t.Error(err)
			held <- 0
			return
		}
		resp.Body.Close()
		held <- resp.StatusCode
	}()
	<-p.arrived
	if b, e := g.adm.inUse(); b != int64(len(body)) || e != 40 {
		t.Errorf("a chunked batch in flight holds %d bytes and %d events, want %d and 40", b, e, len(body))
	}
	second := make(chan int, 1)
	go func() {
		code, _, _, err := tryPostRaw(c, base+"/api/v1/logs/batch", "application/x-ndjson", ndjson(40))
		if err != nil {
			t.Error(err)
		}
		second <- code
	}()
	<-p.arrived // admitted beside the first
	p.open()
	for _, ch := range []chan int{held, second} {
		if code := <-ch; code != http.StatusAccepted {
			t.Errorf("got %d, want 202", code)
		}
	}
}
