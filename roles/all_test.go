package roles

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"logsys/internal/testutil"
)

// startAll runs `logsys all` in-process on free ports.
func startAll(t *testing.T, dataDir string, useCA bool) (*All, *lockedBuffer, func()) {
	t.Helper()
	cfg := DefaultAllConfig()
	cfg.DataDir, cfg.UseCA, cfg.CAAddr, cfg.Logger = dataDir, useCA, "127.0.0.1:0", quietLogger()
	for _, a := range []*string{&cfg.Gateway.Addr, &cfg.Gateway.LivenessAddr, &cfg.Producer.Addr, &cfg.Producer.LivenessAddr, &cfg.Consumer.Addr, &cfg.Consumer.LivenessAddr} {
		*a = "127.0.0.1:0"
	}
	cfg.Broker.Port = 0
	out := &lockedBuffer{}
	cfg.Out = out
	a, err := NewAll(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewAll: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		a.Close()
	}
	return a, out, stop
}

// TestAllWithOnlineCA: `logsys all` by default gets 1-hour certificates
// from its own CA, and an event travels end to end with them; a restart on
// the same data dir works again.
func TestAllWithOnlineCA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for run := 0; run < 2; run++ {
		a, out, stop := startAll(t, dir, true)
		testutil.Eventually(t, 5*time.Second, "the summary to name the CA", func() bool {
			return strings.Contains(out.String(), "online CA https://127.0.0.1:")
		})
		for _, ci := range a.gateway.tls.src.Certificates() {
			if ci.Kind == "leaf" {
				if life := ci.NotAfter.Sub(ci.NotBefore); life > 2*time.Hour {
					t.Fatalf("gateway leaf lives %v, want about an hour", life)
				}
			}
		}
		c := httpClient(clientTLS(t, dir+"/pki", "dev", "client"))
		url := "https://" + loopbackURLHost(a.GatewayAddr())
		code, body := postJSON(t, c, url+"/api/v1/logs", "application/json", `{"message":"via ca","source":"all"}`)
		if code != 202 {
			t.Fatalf("run %d: POST %d %v", run, code, body)
		}
		id := body["data"].(map[string]any)["id"].(string)
		testutil.Eventually(t, 10*time.Second, "the event to be readable", func() bool {
			resp, err := c.Get(url + "/api/v1/logs?source=all")
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			var got struct {
				Data struct{ Events []struct{ ID string } } `json:"data"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&got)
			for _, e := range got.Data.Events {
				if e.ID == id {
					return true
				}
			}
			return false
		})
		resp, err := c.Get(url + "/api/v1/health")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("health with 1-hour leaves: %v %v (short leaves must not count as expiring)", resp, err)
		}
		resp.Body.Close()
		// The CA's metrics are served with the gateway's.
		resp, err = httpClient(clientTLS(t, dir+"/pki", "dev", "prometheus")).Get(url + "/metrics")
		if err != nil {
			t.Fatalf("metrics: %v", err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, family := range []string{"logsys_ca_rollover_phase", "logsys_http_requests_total"} {
			if !bytes.Contains(metrics, []byte("\n"+family+"{")) {
				t.Errorf("run %d: the gateway's /metrics (%d) has no %s", run, resp.StatusCode, family)
			}
		}
		stop()
	}
}

// lockedBuffer is a bytes.Buffer safe for one writer and one reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
