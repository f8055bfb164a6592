package roles

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"logsys/pki"
	"logsys/tlsx"
)

// TestBootstrapStopsWithTheRoleContext points every role at a CA that
// refuses connections. Each keeps retrying (a CA that is not up yet is no
// reason to give up) until its context is cancelled, and then returns at
// that very instant of the fake clock with the cancellation, instead of
// waiting out the bootstrap timeout under a context of its own.
func TestBootstrapStopsWithTheRoleContext(t *testing.T) {
	t.Parallel()
	pkiDir := t.TempDir()
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: pkiDir}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	caURL := "https://" + ln.Addr().String()
	ln.Close() // nobody answers there
	id := func(name string) tlsx.Identity {
		id := tlsx.DefaultIdentity(name)
		id.PKIDir, id.CAURL, id.CAToken = pkiDir, caURL, "lst.dev.unused"
		id.CABundle = pki.Layout{Dir: pkiDir}.ChainFile("dev")
		id.StateDir = filepath.Join(t.TempDir(), name)
		return id
	}
	roles := []struct {
		name  string
		start func(context.Context) error
	}{
		{"gateway", func(ctx context.Context) error {
			cfg := DefaultGatewayConfig()
			cfg.Identity, cfg.Addr, cfg.LivenessAddr, cfg.Logger = id("gateway"), "127.0.0.1:0", "", quietLogger()
			_, err := NewGateway(ctx, cfg)
			return err
		}},
		{"producer", func(ctx context.Context) error {
			cfg := DefaultProducerConfig()
			cfg.Identity, cfg.Addr, cfg.LivenessAddr, cfg.Logger = id("producer"), "127.0.0.1:0", "", quietLogger()
			_, err := NewProducer(ctx, cfg)
			return err
		}},
		{"consumer", func(ctx context.Context) error {
			cfg := DefaultConsumerConfig()
			cfg.Identity, cfg.Addr, cfg.LivenessAddr, cfg.Logger = id("consumer"), "127.0.0.1:0", "", quietLogger()
			_, err := NewConsumer(ctx, cfg)
			return err
		}},
		{"broker", func(ctx context.Context) error {
			cfg := DefaultBrokerConfig()
			cfg.Identity, cfg.Port, cfg.DataDir, cfg.Logger = id("kafka"), 0, "", quietLogger()
			_, err := NewBroker(ctx, cfg)
			return err
		}},
	}
	for _, role := range roles {
		t.Run(role.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				done := make(chan error, 1)
				go func() { done <- role.start(ctx) }()
				time.Sleep(10 * time.Second)
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("gave up while the CA was unreachable: %v", err)
				default:
				}
				cancelled := time.Now()
				cancel()
				synctest.Wait()
				select {
				case err := <-done:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("returned %v, want the cancellation", err)
					}
					if d := time.Since(cancelled); d != 0 {
						t.Fatalf("returned %v after the cancellation, want at once", d)
					}
				default:
					t.Fatal("still bootstrapping after its context was cancelled")
				}
			})
		})
	}
}
