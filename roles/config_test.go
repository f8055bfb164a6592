package roles

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
)

// TestEventsURL: the producer URL is a base URL; the legacy full form is
// accepted, every other path, scheme or decoration refused by key.
func TestEventsURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want, err string }{
		{"https://producer:8081", "https://producer:8081/internal/v1/events", ""},
		{"https://producer:8081/", "https://producer:8081/internal/v1/events", ""},
		{"https://127.0.0.1:8081/internal/v1/events", "https://127.0.0.1:8081/internal/v1/events", ""},
		{"https://producer:8081/v1", "", `url: "https://producer:8081/v1" has the path "/v1": give the producer's base URL (https://producer:8081)`},
		{"http://producer:8081", "", "must be the producer's https base URL"},
		{"https://u:hunter2@producer:8081", "", "must be the producer's https base URL"},
		{"https://producer:8081?x=1", "", "must be the producer's https base URL"},
		{"producer:8081", "", "url: "},
	} {
		got, err := ForwardConfig{URL: tt.in}.EventsURL()
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%s: %q %v, want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
		case err != nil && strings.Contains(err.Error(), "hunter2"):
			t.Errorf("%s: the error shows the password: %v", tt.in, err)
		}
	}
}

// TestValidateNamesKeys: every error of a role's Validate starts with the
// key it is about, nested sections included.
func TestValidateNamesKeys(t *testing.T) {
	t.Parallel()
	g := DefaultGatewayConfig()
	g.Addr, g.Identity.MinTLS, g.Producer.Workers, g.Store.MaxConns = "", "1.1", 0, -1
	p := DefaultProducerConfig()
	p.Kafka.Brokers, p.Compression = []string{"kafka"}, "gzip"
	a := DefaultAllConfig()
	a.DataDir, a.ListenHost, a.Broker.Partitions = "", "127.0.0.1:80", 0
	a.Gateway.Producer.URL, a.Consumer.Store.DSN = "https://elsewhere:1", "postgres://db/x"
	for name, tt := range map[string]struct {
		err  error
		want []string
	}{
		"gateway":       {g.Validate(), []string{"addr: is required", `tls.min_tls: "1.1"`, "producer.workers: must be positive", "store.max_conns: may not be negative"}},
		"producer":      {p.Validate(), []string{`kafka.brokers: "kafka" is not host:port`, `compression: "gzip"`}},
		"all":           {a.Validate(), []string{"data_dir: is required", "listen_host: ", "broker.partitions: must be positive"}},
		"all conflicts": {a.Conflicts(), []string{"gateway.producer.url: is set by logsys all", "consumer.store.dsn: is set by logsys all"}},
	} {
		if tt.err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(tt.err.Error(), w) {
				t.Errorf("%s: %q lacks %q", name, tt.err, w)
			}
		}
	}
	if err := DefaultAllConfig().Conflicts(); err != nil {
		t.Errorf("the defaults conflict: %v", err)
	}
}

// TestNewAllFailsCleanly: a start-up failure (here a busy gateway port)
// is returned as an error naming the address, after everything already
// started was released (the CA's and broker's ports are free again).
func TestNewAllFailsCleanly(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := make([]string, 2)
	for i := range free {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		free[i] = ln.Addr().String()
		ln.Close()
	}
	cfg := DefaultAllConfig()
	cfg.DataDir, cfg.CAAddr, cfg.Logger = t.TempDir(), free[0], quietLogger()
	for _, a := range []*string{&cfg.Gateway.LivenessAddr, &cfg.Producer.Addr, &cfg.Producer.LivenessAddr, &cfg.Consumer.Addr, &cfg.Consumer.LivenessAddr} {
		*a = "127.0.0.1:0"
	}
	cfg.Gateway.Addr = busy.Addr().String()
	_, port, _ := net.SplitHostPort(free[1])
	cfg.Broker.Port, _ = strconv.Atoi(port)
	a, err := NewAll(context.Background(), cfg)
	if err == nil {
		a.Close()
		t.Fatal("started on a busy port")
	}
	if !strings.Contains(err.Error(), busy.Addr().String()+" (gateway.addr)") {
		t.Errorf("error %q does not name the address and key", err)
	}
	for _, addr := range free {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("%s still taken after the failed start: %v", addr, err)
			continue
		}
		ln.Close()
	}
}
