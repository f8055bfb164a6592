//go:build soak

// The soak runs only with -tags soak (see docs/testing.md): it takes 20 s
// of wall clock. Its deterministic equivalent in the default run is
// enroll's TestRotatesUnderLoadAcrossIntermediateRollover, the same
// renewals and rollover on a synctest clock.

package roles

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/pki"
	"logsys/store"
	"logsys/tlsx"
)

// TestShortLivedCertificatesUnderLoad runs `logsys all` with 6-second
// leaves from its CA while clients send events, and rolls the intermediate
// over in the middle: the roles renew many times and move to the new
// intermediate, with zero failed requests and zero lost events.
func TestShortLivedCertificatesUnderLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultAllConfig()
	cfg.DataDir, cfg.CAAddr, cfg.Logger = dir, "127.0.0.1:0", quietLogger()
	cfg.LeafTTL, cfg.CAPublishDelay = 6*time.Second, 2*time.Second
	for _, a := range []*string{&cfg.Gateway.Addr, &cfg.Gateway.LivenessAddr, &cfg.Producer.Addr, &cfg.Producer.LivenessAddr, &cfg.Consumer.Addr, &cfg.Consumer.LivenessAddr} {
		*a = "127.0.0.1:0"
	}
	for _, id := range []*tlsx.Identity{&cfg.Gateway.Identity, &cfg.Producer.Identity, &cfg.Consumer.Identity, &cfg.Broker.Identity} {
		id.ReloadInterval = 200 * time.Millisecond
	}
	cfg.Broker.Port = 0
	a, err := NewAll(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		<-done
		a.Close()
	}()

	// The client keeps a certificate of the first intermediate: the
	// rollover re-issues the files on disk, and the old intermediate stays
	// trusted for the overlap.
	pkiDir := filepath.Join(dir, "pki")
	clientDir := t.TempDir()
	for _, f := range []string{"dev/ca-chain.pem", "dev/client/cert.pem", "dev/client/key.pem"} {
		data, err := os.ReadFile(filepath.Join(pkiDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(clientDir, f)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clientDir, f), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := httpClient(clientTLS(t, clientDir, "dev", "client"))
	url := "https://" + loopbackURLHost(a.GatewayAddr()) + "/api/v1/logs"

	serials := map[string]bool{}
	var serialMu sync.Mutex
	watch := func() {
		for _, ci := range a.gateway.tls.src.Certificates() {
			if ci.Kind == "leaf" {
				serialMu.Lock()
				serials[ci.Serial] = true
				serialMu.Unlock()
			}
		}
	}
	var failed atomic.Int64
	var mu sync.Mutex
	var ids []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		source := fmt.Sprintf("soak-%d", w)
		go func() {
			defer wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				code, body, err := tryPost(c, url, "application/json", fmt.Sprintf(`{"message":"m%d","source":%q}`, i, source))
				if err != nil || code != 202 {
					failed.Add(1)
					t.Errorf("request failed: %d %v %v", code, body, err)
					continue
				}
				mu.Lock()
				ids = append(ids, body["data"].(map[string]any)["id"].(string))
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // a steady stream, not a flood
			}
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	rolled := false
	for time.Now().Before(deadline) {
		watch()
		if !rolled && time.Until(deadline) < 14*time.Second {
			if _, err := pki.Rotate(context.Background(), pki.RotateOptions{Dir: pkiDir, Env: "dev", Intermediate: true}); err != nil {
				t.Fatalf("rotate intermediate: %v", err)
			}
			rolled = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	if failed.Load() > 0 {
		t.Fatalf("%d requests failed while certificates rotated", failed.Load())
	}
	if len(serials) < 4 {
		t.Errorf("gateway used %d certificates in 20 s of 6-second leaves, want at least 4", len(serials))
	}
	newCA, err := pki.ReadCertificates(filepath.Join(pkiDir, "dev", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(a.gateway.tls.src.Certificate().Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(leaf.AuthorityKeyId, newCA[0].SubjectKeyId) {
		t.Errorf("after the rollover the gateway's leaf is still issued by the old intermediate")
	}
	testutil.Eventually(t, 20*time.Second, fmt.Sprintf("all %d accepted events to be stored", len(ids)), func() bool {
		stored := map[string]bool{}
		for w := 0; w < 4; w++ {
			recs, err := a.store.Query(context.Background(), store.Filter{Source: fmt.Sprintf("soak-%d", w), Limit: store.MaxLimit})
			if err != nil {
				return false
			}
			for _, r := range recs {
				stored[r.ID] = true
			}
		}
		for _, id := range ids {
			if !stored[id] {
				return false
			}
		}
		return true
	})
	// Every role now trusts the new intermediate, and each leaf is from it.
	testutil.Eventually(t, 10*time.Second, "every role to trust and use the new intermediate", func() bool {
		rows, err := pki.InspectTrust(pkiDir, filepath.Join(dir, "identities"))
		if err != nil || len(rows) != 4 {
			return false
		}
		for _, r := range rows {
			if !r.TrustsCurrent || !r.TrustsPrevious || r.LeafIssuedBy != "current" {
				return false
			}
		}
		return true
	})
	t.Logf("%d events, %d gateway certificates, rollover done", len(ids), len(serials))
}
