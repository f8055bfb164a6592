package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func smallConfig() Config {
	c := QuickConfig()
	c.Arm, c.Duration, c.Conns, c.Batch = 300*time.Millisecond, 40*time.Second, 4, 20
	c.Handshakes, c.StormClients = 5, 20
	return c
}

// A short run against the embedded pipeline returns a sane report that
// survives a JSON round trip.
func TestRunEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the pipeline")
	}
	rep, err := Run(context.Background(), smallConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Skipped) > 0 {
		t.Fatalf("sections skipped within a generous budget: %v", rep.Skipped)
	}
	for _, name := range []string{"bare handler mTLS", "gateway single mTLS", "gateway plaintext (bench wrapper)", "product TLS, new conn, resumed",
		"OTLP single", "OTLP batch 20"} {
		row, ok := findRow(rep, name)
		if !ok {
			t.Fatalf("row %q missing", name)
		}
		if row.Events == 0 || row.Errors != 0 || row.EventsPerSec <= 0 || row.P99ms < row.P50ms || row.MaxMs < row.P99ms {
			t.Errorf("row %q is not sane: %+v", name, row)
		}
		if row.WireBytesPerEvent <= 0 {
			t.Errorf("row %q counted no bytes on the wire", name)
		}
	}
	if row, _ := findRow(rep, "product TLS, new conn, resumed"); row.Resumed == 0 || row.NewConns < row.Requests {
		t.Errorf("new-connection arm: %d requests, %d connections, %d resumed", row.Requests, row.NewConns, row.Resumed)
	}
	if len(rep.Handshakes) != 2 || rep.Handshakes[0].FullUs <= 0 || rep.Handshakes[0].HitRate == 0 {
		t.Errorf("handshake table: %+v", rep.Handshakes)
	}
	if rep.Storm == nil || rep.Storm.Failed != 0 || rep.Storm.Clients != 20 {
		t.Errorf("storm: %+v", rep.Storm)
	}
	if len(rep.Targets) == 0 || len(rep.Ratios) < 5 {
		t.Errorf("targets %d, ratios %d", len(rep.Targets), len(rep.Ratios))
	}
	var buf bytes.Buffer
	if err := rep.JSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("JSON output does not parse: %v", err)
	}
	if len(back.Rows) != len(rep.Rows) || back.Rows[0].Name != rep.Rows[0].Name {
		t.Errorf("JSON round trip lost rows")
	}
	buf.Reset()
	if err := rep.Table(&buf); err != nil || !strings.Contains(buf.String(), "gateway single mTLS") {
		t.Errorf("table output: %v\n%s", err, buf.String())
	}
}

func findRow(r *Report, name string) (Row, bool) {
	for _, x := range r.Rows {
		if x.Name == name {
			return x, true
		}
	}
	return Row{}, false
}

// --gateway drives a running gateway with the given client certificate.
func TestRunRemote(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the pipeline")
	}
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if err := makePKI(context.Background(), pkiDir, "ecdsa-p256"); err != nil {
		t.Fatal(err)
	}
	p, err := startPipeline(context.Background(), dir, pkiDir, "hybrid", []bool{false}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	cfg := smallConfig()
	cfg.Gateway = "https://" + p.gateways[0].Addr()
	cfg.CertFile, cfg.KeyFile, cfg.CAFile = clientFiles(pkiDir)
	for _, batch := range []int{1, 10} {
		cfg.Batch = batch
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Rows) != 1 || rep.Rows[0].Events == 0 || rep.Rows[0].Errors != 0 || rep.Rows[0].Batch != batch {
			t.Errorf("batch %d: %+v", batch, rep.Rows)
		}
	}
}

// The plaintext arm works only through the bench wrapper: the gateway's
// handler itself still refuses a request without a verified certificate.
func TestPlaintextNeedsBenchWrapper(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the pipeline")
	}
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	if err := makePKI(context.Background(), pkiDir, "ecdsa-p256"); err != nil {
		t.Fatal(err)
	}
	p, err := startPipeline(context.Background(), dir, pkiDir, "x25519", []bool{true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	srv, err := serve(p.gateways[0].Handler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	resp, err := http.Post("http://"+srv.addr()+"/api/v1/logs", "application/json", bytes.NewReader(singleBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("gateway handler without TLS answered %d, want 403", resp.StatusCode)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means valid
	}{
		{"default", func(*Config) {}, ""},
		{"quick", func(c *Config) { *c = QuickConfig() }, ""},
		{"conns zero", func(c *Config) { c.Conns = 0 }, "--conns 0"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate"},
		{"batch too large", func(c *Config) { c.Batch = 6000 }, "--batch 6000"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "--duration"},
		{"unknown key type", func(c *Config) { c.KeyTypes = []string{"dsa"} }, `"dsa"`},
		{"storm too large", func(c *Config) { c.StormClients = 20000 }, "--storm"},
		{"gateway not https", func(c *Config) {
			c.Gateway, c.CertFile, c.KeyFile, c.CAFile = "http://127.0.0.1:8080", "c", "k", "ca"
		}, "must be an https URL"},
		{"gateway without cert", func(c *Config) { c.Gateway = "https://127.0.0.1:8080" }, "needs --cert, --key and --ca"},
		{"cert without gateway", func(c *Config) { c.CertFile = "c.pem" }, "only with --gateway"},
		{"brokers", func(c *Config) { c.Brokers, c.PKIDir = []string{"127.0.0.1:19093", "[::1]:19094"}, "pki" }, ""},
		{"brokers without pki dir", func(c *Config) { c.Brokers = []string{"127.0.0.1:19093"} }, "--brokers needs --pki-dir"},
		{"broker without port", func(c *Config) { c.Brokers, c.PKIDir = []string{"127.0.0.1"}, "pki" }, `"127.0.0.1" must be host:port`},
		{"pki dir without brokers", func(c *Config) { c.PKIDir = "pki" }, "--pki-dir applies only with --brokers"},
		{"brokers and gateway", func(c *Config) {
			c.Brokers, c.PKIDir = []string{"127.0.0.1:19093"}, "pki"
			c.Gateway, c.CertFile, c.KeyFile, c.CAFile = "https://127.0.0.1:8080", "c", "k", "ca"
		}, "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	s := &stats{}
	for i := 100; i >= 1; i-- {
		s.lat = append(s.lat, time.Duration(i)*time.Millisecond)
	}
	p50, p95, p99, mx := s.percentiles()
	if p50 != 50*time.Millisecond || p95 != 95*time.Millisecond || p99 != 99*time.Millisecond || mx != 100*time.Millisecond {
		t.Fatalf("got %v %v %v %v", p50, p95, p99, mx)
	}
}
