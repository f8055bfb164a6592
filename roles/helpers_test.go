package roles

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"logsys/event"
	"logsys/pki"
)

// testPKI creates a real `logsys pki init` directory with dev and staging.
func testPKI(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := pki.Init(context.Background(), pki.InitOptions{
		Dir: dir, Envs: []string{"dev", "staging"},
		Names: []string{"gateway", "producer", "consumer", "kafka", "client", "prometheus", "operator"},
	})
	if err != nil {
		t.Fatalf("pki init: %v", err)
	}
	return dir
}

// quietLogger keeps test output readable; set LOGSYS_TEST_LOG=1 to see logs.
func quietLogger() *slog.Logger {
	if os.Getenv("LOGSYS_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// clientTLS is what curl does: trust the env chain, present a leaf.
func clientTLS(t testing.TB, pkiDir, env, name string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	chain, err := os.ReadFile(filepath.Join(pkiDir, env, "ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(chain)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if name != "" {
		// Read on every handshake so that rotated files are picked up.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, env, name, "cert.pem"), filepath.Join(pkiDir, env, name, "key.pem"))
			return &c, err
		}
	}
	return cfg
}

func httpClient(cfg *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// postJSON posts body and decodes the JSON answer, failing the test when
// the request cannot be made; goroutines use tryPost instead.
func postJSON(t testing.TB, c *http.Client, url, ctype, body string) (int, map[string]any) {
	t.Helper()
	code, out, err := tryPost(c, url, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, out
}

// tryPost is postJSON returning the request's error.
func tryPost(c *http.Client, url, ctype, body string) (int, map[string]any, error) {
	resp, err := c.Post(url, ctype, bytes.NewBufferString(body))
	if err != nil {
		return 0, nil, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

func stringsReader(s string) io.Reader { return bytes.NewBufferString(s) }

func decodeJSON(resp *http.Response, v any) {
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
}

// requestEvents are n events of one gateway request from one source, as
// the producer and consumer benchmarks send them: numbered from first,
// stamped ts, each with the metadata meta (shared, not copied).
func requestEvents(first, n int, ts time.Time, meta map[string]any) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = event.Event{ID: event.NewID(), Level: event.Info, Message: fmt.Sprintf("GET /api/v1/orders/%d 200 3ms", first+i),
			Source: "checkout", Timestamp: ts, Identity: "spiffe://logsys.local/dev/client", Metadata: meta}
	}
	return evs
}
