package it

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// httpsClient trusts env's chain and presents env/name's certificate, as
// curl would; the files are read again on every handshake.
func httpsClient(t *testing.T, c Cluster, name string, timeout time.Duration) *http.Client {
	t.Helper()
	chain, err := os.ReadFile(filepath.Join(c.PKI, c.Env, "ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(chain) {
		t.Fatal("ca-chain.pem holds no certificate")
	}
	dir := filepath.Join(c.PKI, c.Env, name)
	cfg := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
			return &cert, err
		}}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Timeout: timeout, Transport: tr}
}

// sending posts numbered events of one source to the gateway as the dev
// client, one request at a time from each of a few workers, and keeps
// which ids were accepted (202) and what else was answered.
type sending struct {
	source string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	accepted []string
	failures []string
}

// Each worker's loop ends after maxSends events or sendFor, whichever
// comes first.
const (
	maxSends = 20000
	sendFor  = 10 * time.Minute
)

// startSending starts workers posting to the gateway every interval until
// stopped (or maxSends each). The HTTP timeout is generous: a request
// waits for Kafka's acknowledgement, through broker failovers.
func startSending(t *testing.T, p *pipe, workers int, interval time.Duration) *sending {
	t.Helper()
	cl := httpsClient(t, p.c, "client", 2*time.Minute)
	url := "https://" + p.gateway.Addr() + "/api/v1/logs"
	ctx, cancel := context.WithTimeout(context.Background(), sendFor)
	s := &sending{source: runID(), cancel: cancel}
	t.Cleanup(func() { cancel(); s.wg.Wait() })
	for w := range workers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i := 0; i < maxSends && ctx.Err() == nil; i++ {
				id := uuid.NewString()
				body, _ := json.Marshal(map[string]any{
					"id": id, "level": "INFO", "source": s.source,
					"message": fmt.Sprintf("worker %d event %d", w, i), "metadata": map[string]any{"worker": w, "n": i},
				})
				status, err := post(cl, url, body)
				s.mu.Lock()
				switch {
				case err != nil:
					s.failures = append(s.failures, fmt.Sprintf("%s: %v", id, err))
				case status != http.StatusAccepted:
					s.failures = append(s.failures, fmt.Sprintf("%s: HTTP %d", id, status))
				default:
					s.accepted = append(s.accepted, id)
				}
				s.mu.Unlock()
				time.Sleep(interval)
			}
		}()
	}
	return s
}

func post(cl *http.Client, url string, body []byte) (int, error) {
	resp, err := cl.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (s *sending) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.accepted)
}

// waitAccepted waits until n events were accepted.
func (s *sending) waitAccepted(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for s.count() < n {
		if time.Now().After(deadline) {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("gateway stuck at %d accepted events, want %d (%d failures, last: %v)", len(s.accepted), n, len(s.failures), last(s.failures))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the workers, fails the test on any answer but 202 and returns
// the accepted ids.
func (s *sending) stop(t *testing.T) []string {
	t.Helper()
	s.cancel()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) > 0 {
		t.Errorf("%d of %d events not accepted, first: %s", len(s.failures), len(s.failures)+len(s.accepted), s.failures[0])
	}
	return s.accepted
}

func last(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[len(xs)-1]
}

// storedCounts returns how many rows PostgreSQL holds per id of source.
// It reads the table directly: the store's query API caps at 1000 rows.
func storedCounts(ctx context.Context, dsn, source string) (map[string]int, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("connect postgres: %w", err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT id, count(*) FROM log_events WHERE source = $1 GROUP BY id`, source)
	if err != nil {
		return nil, fmt.Errorf("count stored events: %w", err)
	}
	counts := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		counts[id] = n
	}
	return counts, rows.Err()
}

// requireStoredOnce waits until every accepted id is in PostgreSQL (read
// through dsn), then fails the test unless each is stored exactly once.
func requireStoredOnce(t *testing.T, dsn string, s *sending, accepted []string) {
	t.Helper()
	if len(accepted) == 0 {
		t.Fatal("no event was accepted")
	}
	ctx := timeout(t, 3*time.Minute)
	var counts map[string]int
	var missing []string
	for {
		var err error
		if counts, err = storedCounts(ctx, dsn, s.source); err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for _, id := range accepted {
			if counts[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d of %d accepted events never reached PostgreSQL, e.g. %v", len(missing), len(accepted), missing[:min(5, len(missing))])
		case <-time.After(250 * time.Millisecond):
		}
	}
	want := make(map[string]bool, len(accepted))
	for _, id := range accepted {
		want[id] = true
	}
	for id, n := range counts {
		switch {
		case !want[id]:
			// Only an event answered with something else than 202 may be
			// stored without being accepted; stop() reports those.
			t.Logf("stored although not accepted: %s", id)
		case n != 1:
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	t.Logf("%d accepted events, each stored exactly once", len(accepted))
}
