package enroll

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"net"
	"net/http"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/pki"
	"logsys/tlsx"
)

// TestRolloverWaitsForAFrozenMember: three enrolled roles (the gateway
// calls the producer and the consumer every 20 s, each time over a new
// mTLS connection) and an intermediate rollover during which the
// consumer's renewer is frozen. While it is, the CA keeps signing with the
// previous intermediate however long it waits: the phase stays
// propagating with one member missing, and the alert conditions of
// deploy/prometheus/alerts.yml hold (stuck for more than 30 minutes, the
// consumer silent for more than 15). Once released, the consumer reports,
// the next intermediate signs, the previous one is retired when its last
// leaf expires and leaves every bundle: prepared, propagating, active,
// retiring, done, with zero failed requests. Time is the bubble's clock.
func TestRolloverWaitsForAFrozenMember(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		l := pki.Layout{Dir: dir}
		n := &testutil.Network{}
		reg := prometheus.NewRegistry()
		serve(t, newCA(t, dir, func(c *ca.Config) {
			c.LeafTTL, c.PublishDelay, c.PollInterval, c.Registerer = time.Hour, 5*time.Minute, time.Minute, reg
		}), n.Listen(caAddr))
		var srcs []*tlsx.Source
		var renewers []*Renewer
		for _, name := range []string{"gateway", "producer", "consumer"} {
			r := newRenewer(t, renewerConfig(t, n, dir, name))
			srcs, renewers = append(srcs, ensure(t, r)), append(renewers, r)
			run(t, r)
		}
		gateway := srcs[0]
		for i, addr := range []string{"producer:8081", "consumer:8082"} {
			tcfg, err := tlsx.ServerConfig(srcs[i+1], tlsx.AuthorizeNames(testTD, "dev", "gateway"), tlsx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, "ok")
			})}
			ln := tlsx.NewListener(n.Listen(addr), tcfg, nil, "test", tlsx.WithLogger(testLogger(t)))
			served := make(chan error, 1)
			go func() { served <- hs.Serve(ln) }()
			t.Cleanup(func() { _ = hs.Close(); <-served })
		}
		dialer, err := tlsx.NewDialer(gateway, tlsx.AuthorizeNames(testTD, "dev", "producer", "consumer"), tlsx.Options{}, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{DisableKeepAlives: true, DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := n.Dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			host, _, _ := net.SplitHostPort(addr)
			c := tls.Client(raw, dialer.Config(host))
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		}}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		var requests, failures int
		traffic := func() {
			for _, url := range []string{"https://producer:8081/", "https://consumer:8082/"} {
				requests++
				res, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if err == nil && res.StatusCode != http.StatusOK {
						err = errors.New(res.Status)
					}
				}
				if err != nil {
					failures++
					t.Errorf("request %d to %s at %v failed: %v", requests, url, time.Now(), err)
				}
			}
		}
		var phases []string
		observe := func() string {
			for _, p := range ca.Phases {
				if gauge(t, reg, "logsys_ca_rollover_phase", "phase", string(p)) == 1 {
					if len(phases) == 0 || phases[len(phases)-1] != string(p) {
						phases = append(phases, string(p))
					}
					return string(p)
				}
			}
			return ""
		}
		// until runs the traffic every 20 s until cond holds (or d passed).
		until := func(d time.Duration, what string, cond func() bool) {
			t.Helper()
			for deadline := time.Now().Add(d); ; {
				traffic()
				observe()
				if cond() {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("not within %v: %s (phases %v)", d, what, phases)
				}
				time.Sleep(20 * time.Second)
			}
		}
		until(time.Minute, "no rollover yet", func() bool { return observe() == string(ca.PhaseDone) })

		prev := testpki.IssuerFromLayout(t, dir, "dev").Cert
		release := renewers[2].Hold()
		time.Sleep(time.Minute)
		synctest.Wait()
		if _, err := ca.Rotate(context.Background(), pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
			t.Fatalf("rotate: %v", err)
		}
		next := testpki.IssuerFromLayout(t, dir, "dev").Cert
		until(10*time.Minute, "propagating", func() bool { return observe() == string(ca.PhasePropagating) })
		until(10*time.Minute, "gateway and producer to report", func() bool {
			return gauge(t, reg, "logsys_ca_rollover_waiting_members", "env", "dev") == 1
		})
		// 40 minutes into the rollover, with the consumer frozen.
		until(45*time.Minute, "the rollover to be stuck for 30 minutes", func() bool {
			return gauge(t, reg, "logsys_ca_rollover_phase_seconds", "phase", string(ca.PhasePropagating)) > 1800
		})
		if got := gauge(t, reg, "logsys_ca_report_age_seconds", "name", "consumer"); got <= 900 {
			t.Errorf("consumer silent for %v s, want more than 900 (the alert threshold)", got)
		}
		if got := gauge(t, reg, "logsys_ca_report_age_seconds", "name", "producer"); got > 120 {
			t.Errorf("producer silent for %v s, want at most two trust refreshes", got)
		}
		if got := gauge(t, reg, "logsys_ca_rollover_waiting_members", "env", "dev"); got != 1 {
			t.Errorf("waiting members %v, want 1 (the consumer)", got)
		}
		for _, src := range srcs {
			if err := src.Certificate().Leaf.CheckSignatureFrom(prev); err != nil {
				t.Fatalf("%s holds a certificate of the next intermediate before the consumer trusts it: %v", src.Name(), err)
			}
		}

		for _, o := range []pki.RotateOptions{{Dir: dir, Env: "dev"}, {Dir: dir, Env: "dev", Intermediate: true}} {
			if _, err := ca.Rotate(context.Background(), o); !errors.Is(err, ca.ErrRolloverInProgress) {
				t.Errorf("rotate %+v while propagating: %v, want %v", o, err, ca.ErrRolloverInProgress)
			}
		}

		release()
		until(5*time.Minute, "activation", func() bool { return observe() == string(ca.PhaseActive) })
		// The leaf files of the PKI directory are the operator's: re-issued
		// once the next intermediate signs, or retirement waits for them.
		if _, err := ca.Rotate(context.Background(), pki.RotateOptions{Dir: dir, Env: "dev"}); err != nil {
			t.Fatalf("rotate the leaf files once active: %v", err)
		}
		until(3*time.Hour, "done", func() bool { return observe() == string(ca.PhaseDone) })
		for _, src := range srcs {
			if err := src.Certificate().Leaf.CheckSignatureFrom(next); err != nil {
				t.Errorf("%s does not hold a certificate of the next intermediate: %v", src.Name(), err)
			}
			if slices.Contains(src.AnchorFingerprints(), sha(prev)) {
				t.Errorf("%s still trusts the retired intermediate", src.Name())
			}
		}
		if _, err := os.Stat(l.PrevCACert("dev")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ca-prev.pem after the rollover: %v", err)
		}
		if want := []string{"done", "prepared", "propagating", "active", "retiring", "done"}; !slices.Equal(phases, want) &&
			!slices.Equal(phases, slices.Delete(slices.Clone(want), 4, 5)) {
			t.Errorf("phases %v, want %v", phases, want)
		}
		var steps []string
		ix, _, err := ca.ReadLedger(dir, "dev")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ix.Steps() {
			steps = append(steps, s.Step)
			if s.Forced != "" {
				t.Errorf("step %s forced (%s): the rollover waited for nobody", s.Step, s.Forced)
			}
		}
		if !slices.Equal(steps, []string{ca.StepPrepared, ca.StepActivated, ca.StepRetired, ca.StepDone}) {
			t.Errorf("ledger steps %v", steps)
		}
		t.Logf("%d requests, %d failed; phases %v", requests, failures, phases)
	})
}

func sha(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// gauge reads the series of name with label=value in reg.
func gauge(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	return testutil.MetricValue(t, reg, name, map[string]string{label: value})
}
