//go:build soak

// The soak runs only with -tags soak (see docs/testing.md): it takes about
// 35 s of wall clock. Its deterministic equivalent in the default run is
// enroll's TestRolloverWaitsForAFrozenMember, the same rollover with a
// frozen member on a synctest clock.

package roles

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"logsys/internal/testutil"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"logsys/ca"
	"logsys/ca/wire"
	"logsys/enroll"
	"logsys/event"
	"logsys/pki"
	"logsys/store"
	"logsys/tlsx"
)

// TestRolloverWaitsForAFrozenRole runs `logsys all` with its online CA,
// 30-second leaves and trust fetched every 200 ms, while a client that is
// itself enrolled with the CA sends single events and batches. The
// intermediate is rolled over with the producer's renewer frozen: the CA
// does not activate the next intermediate (it waits for the producer
// alone, and says so in its metrics and its status), and no request
// fails. Released, the producer reports, the next intermediate signs, the
// leaf files are re-issued as an operator would, and the previous
// intermediate is retired: prepared, propagating, active, retiring, done,
// with zero failed requests and every accepted event stored.
//
// It runs in real time, bounded: every wait is for a state, never a timed
// assertion.
func TestRolloverWaitsForAFrozenRole(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultAllConfig()
	cfg.DataDir, cfg.CAAddr, cfg.Logger = dir, "127.0.0.1:0", quietLogger()
	cfg.LeafTTL, cfg.CAPublishDelay = 30*time.Second, time.Second
	for _, a := range []*string{&cfg.Gateway.Addr, &cfg.Gateway.LivenessAddr, &cfg.Producer.Addr, &cfg.Producer.LivenessAddr, &cfg.Consumer.Addr, &cfg.Consumer.LivenessAddr} {
		*a = "127.0.0.1:0"
	}
	for _, id := range []*tlsx.Identity{&cfg.Gateway.Identity, &cfg.Producer.Identity, &cfg.Consumer.Identity, &cfg.Broker.Identity} {
		// Connections are recycled gently well before a certificate in
		// them expires (a renewed one leaves at least 10 s of 30).
		id.ReloadInterval, id.MaxConnAge = 200*time.Millisecond, 5*time.Second
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
	pkiDir := filepath.Join(dir, "pki")
	l := pki.Layout{Dir: pkiDir}

	// The client is a member too: enrolled with the CA, so it moves to the
	// next intermediate with the roles.
	tok, _, err := ca.NewToken(ca.TokenOptions{Dir: pkiDir, Env: "dev", Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := enroll.New(enroll.Config{CAURL: a.caURL, TrustDomain: "logsys.local", Env: "dev", Name: "client", Token: tok,
		CABundle: l.ChainFile("dev"), StateDir: t.TempDir(), TrustRefresh: 200 * time.Millisecond, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cr.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	csrc, err := cr.NewSource(tlsx.SourceConfig{Name: "client", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, rstop := context.WithCancel(context.Background())
	rdone := make(chan error, 1)
	go func() { rdone <- cr.Run(rctx) }()
	defer func() { rstop(); <-rdone }()
	d, err := tlsx.NewDialer(csrc, tlsx.AuthorizeNames("logsys.local", "dev", "gateway"), tlsx.Options{NextProtos: []string{"http/1.1"}}, nil, "client")
	if err != nil {
		t.Fatal(err)
	}
	// d.Transport retires the pooled connections made with a certificate
	// the client renewed, before the gateway closes them at its expiry.
	c := &http.Client{Timeout: 10 * time.Second, Transport: d.Transport(&http.Transport{MaxIdleConnsPerHost: 8})}
	base := "https://" + loopbackURLHost(a.GatewayAddr())

	load := newLoad(c, base)
	load.start(3, 1)
	defer load.stop()

	status := func() ca.Rollover {
		t.Helper()
		st, err := ca.FetchStatus(context.Background(), ca.StatusOptions{URL: a.caURL, Dir: pkiDir, Env: "dev"})
		if err != nil {
			t.Fatalf("ca status: %v", err)
		}
		return rolloverOf(st)
	}
	var phases []string
	observe := func() ca.Rollover {
		r := status()
		if len(phases) == 0 || phases[len(phases)-1] != string(r.Phase) {
			phases = append(phases, string(r.Phase))
		}
		return r
	}
	testutil.Eventually(t, 20*time.Second, "every member (four roles and the client) to report", func() bool {
		r := observe()
		return r.Phase == ca.PhaseDone && len(r.Members) == 5 && !slices.ContainsFunc(r.Members, func(m ca.Member) bool { return m.Report == nil })
	})

	release := a.producer.tls.renewer.Hold()
	frozen := false
	defer func() {
		if !frozen {
			release()
		}
	}()
	frozen = true
	prev := readCert(t, l.CACert("dev"))
	if _, err := ca.Rotate(context.Background(), pki.RotateOptions{Dir: pkiDir, Env: "dev", Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	next := readCert(t, l.CACert("dev"))
	testutil.Eventually(t, 20*time.Second, "every member but the producer to hold the next intermediate", func() bool {
		r := observe()
		w := r.Waiting()
		return r.Phase == ca.PhasePropagating && len(w) == 1 && strings.HasSuffix(w[0].Identity, "/dev/producer")
	})
	if v := testutil.MetricValue(t, a.caReg, "logsys_ca_rollover_waiting_members", map[string]string{"env": "dev"}); v != 1 {
		t.Errorf("logsys_ca_rollover_waiting_members = %v, want 1 (the producer)", v)
	}
	if v := testutil.MetricValue(t, a.caReg, "logsys_ca_rollover_phase", map[string]string{"phase": "propagating"}); v != 1 {
		t.Errorf("logsys_ca_rollover_phase{phase=propagating} = %v, want 1", v)
	}
	load.pulse(t, "while the producer is frozen")
	if r := observe(); r.Phase != ca.PhasePropagating || r.Signer != fingerprintOf(prev) {
		t.Fatalf("phase %s, signer %.8s, with the producer frozen: want propagating, signed by the previous intermediate", r.Phase, r.Signer)
	}

	release()
	frozen = false
	testutil.Eventually(t, 20*time.Second, "the next intermediate to sign", func() bool { return observe().Phase == ca.PhaseActive })
	// The operator re-issues the leaf files (dev/client, ...) once it signs.
	if _, err := ca.Rotate(context.Background(), pki.RotateOptions{Dir: pkiDir, Env: "dev"}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 90*time.Second, "the previous intermediate to be retired and dropped by every member", func() bool {
		return observe().Phase == ca.PhaseDone
	})
	load.pulse(t, "after the rollover")
	accepted, failures := load.stop()
	if len(failures) > 0 {
		t.Fatalf("%d requests failed during the rollover, first: %s", len(failures), failures[0])
	}
	if want := []string{"done", "prepared", "propagating", "active", "retiring", "done"}; !isSubsequence(phases, want, "propagating", "active") {
		t.Errorf("phases seen %v, want %v (the short ones may pass between two looks)", phases, want)
	}
	for name, tl := range map[string]*tlsSetup{"gateway": a.gateway.tls, "producer": a.producer.tls, "consumer": a.consumer.tls} {
		if err := tl.src.Certificate().Leaf.CheckSignatureFrom(next); err != nil {
			t.Errorf("%s: certificate not signed by the next intermediate: %v", name, err)
		}
		if slices.Contains(tl.src.AnchorFingerprints(), fingerprintOf(prev)) {
			t.Errorf("%s still trusts the retired intermediate", name)
		}
	}
	ix, _, err := ca.ReadLedger(pkiDir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, s := range ix.Steps() {
		steps = append(steps, s.Step)
		if s.Forced != "" {
			t.Errorf("step %s forced (%s)", s.Step, s.Forced)
		}
	}
	if !slices.Equal(steps, []string{ca.StepPrepared, ca.StepActivated, ca.StepRetired, ca.StepDone}) {
		t.Errorf("ledger steps %v", steps)
	}
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("all %d accepted events to be stored", len(accepted)), func() bool {
		stored := map[string]bool{}
		for _, src := range load.sources() {
			recs, err := a.store.Query(context.Background(), store.Filter{Source: src, Limit: store.MaxLimit})
			if err != nil {
				return false
			}
			for _, r := range recs {
				stored[r.ID] = true
			}
		}
		for _, id := range accepted {
			if !stored[id] {
				return false
			}
		}
		return true
	})
	t.Logf("%d events accepted, 0 failed, phases %v", len(accepted), phases)
}

// rolloverOf turns a status answer back into the parts the test reads.
func rolloverOf(st wire.Status) ca.Rollover {
	r := ca.Rollover{Phase: ca.Phase(st.Phase), Signer: st.Signer}
	for _, m := range st.Members {
		cm := ca.Member{Identity: m.Identity, Lineage: m.Lineage, Waiting: m.Waiting}
		if !m.LastSeen.IsZero() {
			cm.Report = &ca.AnchorReport{At: m.LastSeen, Anchors: m.Anchors}
		}
		r.Members = append(r.Members, cm)
	}
	return r
}

// isSubsequence reports whether got lists phases of want in its order
// (skipping any) and holds every phase of must.
func isSubsequence(got, want []string, must ...string) bool {
	i := 0
	for _, g := range got {
		for i < len(want) && want[i] != g {
			i++
		}
		if i == len(want) {
			return false
		}
		i++
	}
	for _, m := range must {
		if !slices.Contains(got, m) {
			return false
		}
	}
	return len(got) > 0 && got[0] == want[0] && got[len(got)-1] == want[len(want)-1]
}

func fingerprintOf(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	certs, err := pki.ReadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// load sends single events and batches until stopped, recording the ids
// the gateway accepted and every failure (no test calls from its
// goroutines). Like any at-least-once client it names its events, so a
// request the server may not have read is safe to send again.
type load struct {
	c    *http.Client
	base string
	mu   sync.Mutex
	ids  []string
	fail []string
	srcs map[string]bool
	n    int // requests answered
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

func newLoad(c *http.Client, base string) *load {
	return &load{c: c, base: base, srcs: map[string]bool{}, quit: make(chan struct{})}
}

// start runs singles workers sending one event at a time and batches
// workers sending five per request, each request followed by a pause.
func (l *load) start(singles, batches int) {
	for w := range singles + batches {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; i < 100000; i++ {
				select {
				case <-l.quit:
					return
				default:
				}
				src := fmt.Sprintf("roll-%d-%d", w, i/150) // under store.MaxLimit events per source
				// Each event carries its id, so a request is idempotent
				// and the transport may replay it on a kept-alive
				// connection the server closed as it was sent.
				key := event.NewID()
				path, body, pause := "/api/v1/logs", fmt.Sprintf(`{"id":%q,"message":"m%d","source":%q}`, key, i, src), 50*time.Millisecond
				if w >= singles {
					evs := []string{fmt.Sprintf(`{"id":%q,"message":"b%d-0","source":%q}`, key, i, src)}
					for k := 1; k < 5; k++ {
						evs = append(evs, fmt.Sprintf(`{"id":%q,"message":"b%d-%d","source":%q}`, event.NewID(), i, k, src))
					}
					path, body, pause = "/api/v1/logs/batch", "["+strings.Join(evs, ",")+"]", 200*time.Millisecond
				}
				l.send(path, body, src, key)
				time.Sleep(pause)
			}
		}()
	}
}

func (l *load) send(path, body, src, key string) {
	req, err := http.NewRequest(http.MethodPost, l.base+path, bytes.NewBufferString(body))
	var resp *http.Response
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err = l.c.Do(req)
	}
	var got struct {
		Data struct {
			ID  string   `json:"id"`
			IDs []string `json:"ids"`
		} `json:"data"`
	}
	if err == nil {
		decodeJSON(resp, &got)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	switch {
	case err != nil:
		l.fail = append(l.fail, fmt.Sprintf("%s at %s: %v", path, time.Now().Format(time.RFC3339Nano), err))
	case resp.StatusCode != http.StatusAccepted:
		l.fail = append(l.fail, fmt.Sprintf("%s at %s: %s", path, time.Now().Format(time.RFC3339Nano), resp.Status))
	default:
		l.srcs[src] = true
		if got.Data.ID != "" {
			l.ids = append(l.ids, got.Data.ID)
		}
		l.ids = append(l.ids, got.Data.IDs...)
	}
}

// pulse waits until a few more requests were answered, so that a phase
// is checked under load.
func (l *load) pulse(t *testing.T, when string) {
	t.Helper()
	l.mu.Lock()
	from := l.n
	l.mu.Unlock()
	testutil.Eventually(t, 10*time.Second, "requests to be answered "+when, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.n >= from+20
	})
}

// stop ends the load and returns the accepted ids and the failures.
func (l *load) stop() ([]string, []string) {
	l.once.Do(func() { close(l.quit) })
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ids), slices.Clone(l.fail)
}

func (l *load) sources() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for s := range l.srcs {
		out = append(out, s)
	}
	return out
}
