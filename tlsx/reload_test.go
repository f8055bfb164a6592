package tlsx_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

const reloads = "logsys_tls_reloads_total"

// runSource loads name's files and runs its watcher with short timings.
func (f *fixture) runSource(env, name string) *tlsx.Source {
	f.t.Helper()
	f.ca.WriteLeaf(f.dir, f.ca.Leaf(env, name))
	cfg := f.sourceConfig(env, name)
	cfg.PollInterval = 100 * time.Millisecond
	cfg.Debounce = 20 * time.Millisecond
	src, err := tlsx.NewSource(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); src.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
	return src
}

// TestRotationUnderTraffic rotates the server's then the client's
// certificate on disk while requests keep flowing, and checks that fresh
// handshakes pick up each new certificate with no failed request.
func TestRotationUnderTraffic(t *testing.T) {
	f := newFixture(t)
	producer := f.runSource("dev", "producer")
	gateway := f.runSource("dev", "gateway")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeNames(td, "dev", "gateway"), tlsx.Options{}), "producer")
	shared := mustDialer(t, f, gateway, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, "gw")

	var calls, failed atomic.Int64
	var lastErr atomic.Value
	var serverSerial, clientSerial atomic.Value // seen on full handshakes
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d := shared // resumes
			if i%2 == 0 {
				fresh, err := tlsx.NewDialer(gateway, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, f.m, "gw")
				if err != nil {
					lastErr.Store(err)
					failed.Add(1)
					continue
				}
				d = fresh // full handshake
			}
			line, cs, err := call(d, addr)
			calls.Add(1)
			if err != nil {
				failed.Add(1)
				lastErr.Store(err)
				continue
			}
			if !cs.DidResume {
				serverSerial.Store(fmt.Sprintf("%x", cs.PeerCertificates[0].SerialNumber))
				clientSerial.Store(line[strings.LastIndexByte(line, ' ')+1:])
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
	waitFor := func(what string, v *atomic.Value, want string) {
		t.Helper()
		for range 500 {
			if v.Load() == want {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("%s never became %s (last %v)", what, want, v.Load())
	}

	newProducer := f.ca.Leaf("dev", "producer")
	f.ca.WriteLeaf(f.dir, newProducer)
	waitFor("server serial", &serverSerial, fmt.Sprintf("%x", newProducer.Serial))

	newGateway := f.ca.Leaf("dev", "gateway")
	f.ca.WriteLeaf(f.dir, newGateway)
	waitFor("client serial", &clientSerial, fmt.Sprintf("%x", newGateway.Serial))

	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during rotation; last: %v", failed.Load(), calls.Load(), lastErr.Load())
	}
	if got := testutil.MetricValue(t, f.reg, reloads, map[string]string{"result": "success"}); got < 2 {
		t.Errorf("successful reloads = %v, want at least 2", got)
	}
}

// TestFailedReloadKeepsMaterial writes broken files and checks each reload
// is refused, counted, and leaves the previous certificate in use.
func TestFailedReloadKeepsMaterial(t *testing.T) {
	f := newFixture(t)
	src := f.source("dev", "producer")
	good := src.Certificate().Leaf.SerialNumber
	files := testpki.Paths(f.dir, "dev", "producer")
	other := testpki.New(t, testpki.Options{Envs: []string{"dev"}})
	foreign := other.Leaf("dev", "producer")
	stranger := f.ca.Leaf("dev", "producer")

	tests := []struct {
		name  string
		write map[string][]byte // nil value removes the file
	}{
		{"garbage certificate", map[string][]byte{files.Cert: []byte("not a certificate\n")}},
		{"key of another certificate", map[string][]byte{files.Key: stranger.KeyPEM}},
		{"certificate from another CA", map[string][]byte{files.Cert: foreign.CertPEM, files.Key: foreign.KeyPEM}},
		{"certificate from another env", map[string][]byte{files.Cert: f.ca.Leaf("staging", "producer").CertPEM}},
		{"expired certificate", expiredPair(f)},
		{"certificate without spiffe id", pair(f.ca.Leaf("dev", "producer", testpki.NoURI()), files)},
		{"crl from another CA", map[string][]byte{files.CRL: other.CRLPEM("dev")}},
		{"garbage crl", map[string][]byte{files.CRL: []byte("garbage")}},
		{"root as the only anchor", map[string][]byte{files.CA: f.ca.Root().PEM}},
		{"anchor from another env", map[string][]byte{files.CA: f.ca.CAPEM("staging")}},
		{"missing key", map[string][]byte{files.Key: nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			saved := map[string][]byte{}
			for p, data := range tc.write {
				saved[p] = mustRead(t, p)
				if data == nil {
					if err := os.Remove(p); err != nil {
						t.Fatal(err)
					}
					continue
				}
				f.ca.WriteFile(p, data, 0o600)
			}
			before := testutil.MetricValue(t, f.reg, reloads, map[string]string{"source": "producer", "result": "failure"})
			if err := src.Reload(); err == nil {
				t.Fatal("reload accepted broken files")
			}
			if got := src.Certificate().Leaf.SerialNumber; got.Cmp(good) != 0 {
				t.Fatalf("serial changed to %x after a failed reload", got)
			}
			if got := testutil.MetricValue(t, f.reg, reloads, map[string]string{"source": "producer", "result": "failure"}); got != before+1 {
				t.Fatalf("failures = %v, want %v", got, before+1)
			}
			for p, data := range saved {
				f.ca.WriteFile(p, data, 0o600)
			}
			if err := src.Reload(); err != nil {
				t.Fatalf("reload of restored files: %v", err)
			}
		})
	}
}

func pair(l *testpki.Leaf, files testpki.Files) map[string][]byte {
	return map[string][]byte{files.Cert: l.CertPEM, files.Key: l.KeyPEM}
}

func expiredPair(f *fixture) map[string][]byte {
	return pair(f.ca.Leaf("dev", "producer", testpki.Expired()), testpki.Paths(f.dir, "dev", "producer"))
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWatcherCountsARejectedStateOnce checks that a broken file seen by
// the watcher is counted once, not at every poll, and that fixing it
// reloads.
func TestWatcherCountsARejectedStateOnce(t *testing.T) {
	f := newFixture(t)
	src := f.runSource("dev", "producer")
	files := testpki.Paths(f.dir, "dev", "producer")
	failure := map[string]string{"source": "producer", "result": "failure"}

	f.ca.WriteFile(files.Cert, []byte("garbage"), 0o644)
	waitMetric(t, f.reg, reloads, failure, 1)
	time.Sleep(500 * time.Millisecond) // several polls
	if got := testutil.MetricValue(t, f.reg, reloads, failure); got != 1 {
		t.Fatalf("failures = %v after repeated polls of the same content, want 1", got)
	}
	next := f.ca.Leaf("dev", "producer")
	f.ca.WriteLeaf(f.dir, next)
	for range 250 {
		if src.Certificate().Leaf.SerialNumber.Cmp(next.Serial) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the repaired certificate was never loaded")
}

// TestIntermediateRollover rotates the environment's intermediate with the
// new leaf arriving before, then after, the new bundle.
func TestIntermediateRollover(t *testing.T) {
	f := newFixture(t)
	producer := f.source("dev", "producer")
	addr := f.serve(mustServerConfig(t, producer, tlsx.AuthorizeAny(), tlsx.Options{}), "producer")
	first := f.ca.Intermediate("dev")
	oldGateway := f.ca.Leaf("dev", "gateway")

	// Leaf first: it does not chain to the anchors on disk yet.
	f.ca.RolloverIntermediate("dev")
	second := f.ca.Leaf("dev", "producer")
	f.ca.WriteLeaf(f.dir, second)
	if err := producer.Reload(); err == nil {
		t.Fatal("leaf from an unknown intermediate accepted before its bundle")
	}
	f.ca.WriteEnv(f.dir, "dev") // ca.pem = new intermediate, bundle.pem = both + root
	if err := producer.Reload(); err != nil {
		t.Fatalf("reload with bundle: %v", err)
	}
	if producer.Certificate().Leaf.SerialNumber.Cmp(second.Serial) != 0 {
		t.Fatal("new leaf not in use after its bundle arrived")
	}
	pool := f.ca.Pool("dev")
	newGateway := f.ca.Leaf("dev", "gateway")
	for _, l := range []*testpki.Leaf{oldGateway, newGateway} {
		if _, _, err := callRaw(l.ClientConfig(pool, "localhost"), addr); err != nil {
			t.Fatalf("client from %s refused during rollover: %v", l.Chain[1].Subject.CommonName, err)
		}
	}

	// Bundle first, then the leaf: both steps are consistent.
	f.ca.RolloverIntermediate("dev")
	f.ca.WriteEnv(f.dir, "dev")
	if err := producer.Reload(); err != nil {
		t.Fatalf("reload with the next bundle: %v", err)
	}
	third := f.ca.Leaf("dev", "producer")
	f.ca.WriteLeaf(f.dir, third)
	if err := producer.Reload(); err != nil {
		t.Fatalf("reload of the next leaf: %v", err)
	}

	// End of rollover: only the newest intermediate stays trusted.
	f.ca.DropIntermediate("dev")
	f.ca.WriteEnv(f.dir, "dev")
	if err := producer.Reload(); err != nil {
		t.Fatalf("reload after rollover: %v", err)
	}
	if got := len(producer.Certificates()); got != 2 {
		t.Fatalf("%d certificates loaded, want leaf + 1 anchor", got)
	}
	if _, _, err := callRaw(oldGateway.ClientConfig(f.ca.Pool("dev"), "localhost"), addr); err == nil {
		t.Fatalf("client from retired intermediate %s still accepted", first.Cert.Subject.CommonName)
	}
	waitMetric(t, f.reg, failures, map[string]string{"listener": "producer", "reason": "unknown_ca"}, 1)
}
