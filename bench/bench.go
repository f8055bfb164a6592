package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// singleBody is the event of the single-event arms.
var singleBody = []byte(`{"level":"INFO","message":"GET /orders/42 200 3ms","source":"bench","metadata":{"host":"web-1"}}`)

// batchBody is n events as NDJSON.
func batchBody(n int) []byte {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.Write(singleBody)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// runner carries one run's state.
type runner struct {
	cfg      Config
	deadline time.Time
	m        *meter
	prog     *progress
	rep      *Report
	// brokerPIDs are the real brokers' processes (--brokers), if local.
	brokerPIDs []int
}

// arm is one side of a comparison.
type arm struct {
	name string
	p    proto
	l    load
}

// Run performs a bench run and returns its report. It never asserts
// targets; it measures them.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &runner{cfg: cfg, deadline: start.Add(cfg.Duration), m: &meter{}}
	cpuNote := "CPU is getrusage of the whole process: the load generator, gateway, producer and embedded broker all run in it"
	if len(cfg.Brokers) > 0 {
		cpuNote = "CPU is getrusage of the whole process (load generator, gateway, producer); broker CPU is /proc of the processes listening on the broker ports"
	}
	r.rep = &Report{Machine: machine(), Started: start.UTC(), Brokers: strings.Join(cfg.Brokers, ","), Notes: []string{
		cpuNote,
		"wire bytes are counted on the client's TCP connections (TLS records and HTTP framing, not TCP/IP headers)",
		"comparisons run their two arms interleaved (A B A B) at the same concurrency, closed loop",
	}}
	r.prog = newProgress(cfg.Progress, cfg.Duration, r.m)
	defer r.prog.close()
	ctx, cancel := context.WithDeadline(ctx, r.deadline)
	defer cancel()
	var err error
	if cfg.Gateway != "" {
		err = r.remote(ctx)
	} else {
		err = r.embedded(ctx)
	}
	r.rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		return r.rep, err
	}
	r.targets()
	return r.rep, nil
}

// left reports whether at least d of the run's budget remains; when not,
// the section is recorded as skipped.
func (r *runner) left(d time.Duration, section string) bool {
	if time.Until(r.deadline) >= d {
		return true
	}
	r.rep.Skipped = append(r.rep.Skipped, section)
	return false
}

// measure runs one arm alone.
func (r *runner) measure(ctx context.Context, a arm) Row {
	r.prog.set("warm-up " + a.name)
	w := a.l
	w.duration = min(r.cfg.Arm/5, 300*time.Millisecond)
	w.run(ctx, &meter{})
	r.prog.set(a.name)
	a.l.duration = r.cfg.Arm
	a.l.requests = r.cfg.Requests
	a.l.rate = r.cfg.Rate
	s := a.l.run(ctx, r.m)
	closeIdle(a.l.client)
	row := newRow(a.name, a.p, a.l, s)
	r.rep.Rows = append(r.rep.Rows, row)
	return row
}

// compare runs arms a and b interleaved in two rounds and records the
// ratio of b's throughput to a's.
func (r *runner) compare(ctx context.Context, ratio string, a, b arm) (Row, Row) {
	sa, sb := &stats{}, &stats{}
	// Warm-up, not measured: connections, session caches, pools.
	for _, x := range []arm{a, b} {
		r.prog.set("warm-up " + x.name)
		l := x.l
		l.duration, l.requests = min(r.cfg.Arm/5, 300*time.Millisecond), 0
		l.run(ctx, &meter{})
	}
	for round := 0; round < 2; round++ {
		for _, x := range []struct {
			a arm
			s *stats
		}{{a, sa}, {b, sb}} {
			r.prog.set(x.a.name)
			l := x.a.l
			l.duration, l.rate = r.cfg.Arm/2, r.cfg.Rate
			if r.cfg.Requests > 0 {
				l.requests = max(r.cfg.Requests/2, 1)
			}
			x.s.merge(l.run(ctx, r.m))
		}
	}
	closeIdle(a.l.client)
	closeIdle(b.l.client)
	ra, rb := newRow(a.name, a.p, a.l, sa), newRow(b.name, b.p, b.l, sb)
	r.rep.Rows = append(r.rep.Rows, ra, rb)
	v := 0.0
	if ra.EventsPerSec > 0 {
		v = rb.EventsPerSec / ra.EventsPerSec
	}
	r.rep.Ratios = append(r.rep.Ratios, Ratio{Name: ratio, Of: b.name, To: a.name, Value: v})
	return ra, rb
}

// remote drives a running gateway given by URL.
func (r *runner) remote(ctx context.Context) error {
	tc, err := clientTLS(r.cfg.CertFile, r.cfg.KeyFile, r.cfg.CAFile, true, nil)
	if err != nil {
		return err
	}
	p := protoH1
	if r.cfg.HTTP2 {
		p = protoH2
	}
	w := &wire{}
	l := load{client: newClient(tc, w, p, r.cfg.Conns, true), conns: r.cfg.Conns, wire: w, events: r.cfg.Batch}
	base := strings.TrimSuffix(r.cfg.Gateway, "/")
	if r.cfg.Batch == 1 {
		l.url, l.ctype, l.body = base+"/api/v1/logs", "application/json", singleBody
	} else {
		l.url, l.ctype, l.body = base+"/api/v1/logs/batch", "application/x-ndjson", batchBody(r.cfg.Batch)
	}
	r.cfg.Arm = min(r.cfg.Arm, time.Until(r.deadline))
	r.measure(ctx, arm{name: "remote gateway", p: p, l: l})
	return nil
}

// embedded starts the pipeline in a temporary (or given) data directory
// and runs every section that fits the budget.
func (r *runner) embedded(ctx context.Context) error {
	dir := r.cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "logsys-bench-")
		if err != nil {
			return fmt.Errorf("bench data dir: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	r.prog.set("pki and pipeline")
	pkiDir := filepath.Join(dir, "pki-ecdsa-p256")
	if len(r.cfg.Brokers) > 0 {
		pkiDir = r.cfg.PKIDir
		r.brokerPIDs = r.findBrokers()
	} else if err := makePKI(ctx, pkiDir, "ecdsa-p256"); err != nil {
		return err
	}
	p, err := startPipeline(ctx, dir, pkiDir, "hybrid", []bool{true, false}, r.cfg.Brokers)
	if err != nil {
		return fmt.Errorf("start pipeline: %w", err)
	}
	defer p.close()
	certF, keyF, caF := clientFiles(pkiDir)
	tc, err := clientTLS(certF, keyF, caF, true, nil)
	if err != nil {
		return err
	}
	leaf, err := firstCert(certF)
	if err != nil {
		return err
	}
	conns := r.cfg.Conns
	mk := func(name string, pr proto, url string, c *tls.Config, keepAlive bool, n int, batch int) arm {
		w := &wire{}
		l := load{client: newClient(c, w, pr, n, keepAlive), url: url, conns: n, wire: w, events: batch,
			ctype: "application/json", body: singleBody, newConnEach: !keepAlive, brokers: r.brokerPIDs}
		if batch > 1 {
			l.ctype, l.body = "application/x-ndjson", batchBody(batch)
		}
		return arm{name: name, p: pr, l: l}
	}
	compareTime := r.cfg.Arm*2 + time.Second

	// Baseline: the physical limit of this machine with Go's net/http.
	if r.left(compareTime, "baseline") {
		plain, err := serve(bareHandler(), nil)
		if err != nil {
			return err
		}
		bareTLS, err := bareServerTLS(pkiDir, nil)
		if err != nil {
			plain.close()
			return err
		}
		secure, err := serve(bareHandler(), bareTLS)
		if err != nil {
			plain.close()
			return err
		}
		r.compare(ctx, "baseline bare handler: mTLS / plaintext",
			mk("bare handler plaintext", protoPlain, "http://"+plain.addr()+"/", tc, true, conns, 1),
			mk("bare handler mTLS", protoH1, "https://"+secure.addr()+"/", tc, true, conns, 1))
		plain.close()
		secure.close()
	}
	gw := p.gateways[0] // producer hop over HTTP/2 (the current default)
	gwURL := "https://" + gw.Addr()
	if r.left(compareTime, "gateway mTLS vs plaintext") {
		plain, err := serve(asPeer(gw.Handler(), leaf), nil)
		if err != nil {
			return err
		}
		r.compare(ctx, "gateway handler: mTLS / plaintext",
			mk("gateway plaintext (bench wrapper)", protoPlain, "http://"+plain.addr()+"/api/v1/logs", tc, true, conns, 1),
			mk("gateway single mTLS", protoH1, gwURL+"/api/v1/logs", tc, true, conns, 1))
		plain.close()
	}
	if r.left(compareTime, "client->gateway h2 vs http/1.1") {
		r.compare(ctx, "client->gateway: h2 / http/1.1",
			mk("gateway single mTLS (h1 again)", protoH1, gwURL+"/api/v1/logs", tc, true, conns, 1),
			mk("gateway single h2", protoH2, gwURL+"/api/v1/logs", tc, true, conns, 1))
	}
	if r.left(compareTime, "gateway->producer h2 vs http/1.1") {
		r.compare(ctx, "gateway->producer: h2 / http/1.1",
			mk("gw->producer http/1.1", protoH1, "https://"+p.gateways[1].Addr()+"/api/v1/logs", tc, true, conns, 1),
			mk("gw->producer h2", protoH1, gwURL+"/api/v1/logs", tc, true, conns, 1))
	}
	if r.left(r.cfg.Arm*2+time.Second, "batch ingest") {
		bc := max(min(conns, 16), 1)
		r.compare(ctx, "batch ingest: gw->producer h2 / http/1.1",
			mk(fmt.Sprintf("batch %d gw->producer http/1.1", r.cfg.Batch), protoH1, "https://"+p.gateways[1].Addr()+"/api/v1/logs/batch", tc, true, bc, r.cfg.Batch),
			mk(fmt.Sprintf("batch %d gw->producer h2", r.cfg.Batch), protoH1, gwURL+"/api/v1/logs/batch", tc, true, bc, r.cfg.Batch))
	}
	r.otlpArms(ctx, gwURL, tc, mk)
	if err := r.connections(ctx, pkiDir, tc, mk); err != nil {
		return err
	}
	if err := r.handshakes(ctx, dir); err != nil {
		return err
	}
	if r.cfg.StormClients > 0 && r.left(5*time.Second, "reconnect storm") {
		r.prog.set(fmt.Sprintf("reconnect storm of %d", r.cfg.StormClients))
		s := storm(tc, gwURL+"/api/v1/logs", singleBody, r.cfg.StormClients, r.m)
		r.rep.Storm = &s
	}
	return nil
}

// connections compares connection reuse with a new connection per
// request, with and without resumption, against the product's server TLS
// configuration serving the bare handler (so the handshake dominates).
func (r *runner) connections(ctx context.Context, pkiDir string, tc *tls.Config, mk func(string, proto, string, *tls.Config, bool, int, int) arm) error {
	if !r.left(r.cfg.Arm*3+time.Second, "new connection per request") {
		return nil
	}
	sc, err := productServerTLS(pkiDir, 0)
	if err != nil {
		return err
	}
	srv, err := serve(bareHandler(), sc)
	if err != nil {
		return err
	}
	defer srv.close()
	url := "https://" + srv.addr() + "/"
	n := max(min(r.cfg.Conns, 8), 1)
	noResume := tc.Clone()
	noResume.ClientSessionCache = nil
	reuse := r.measure(ctx, mk("product TLS, reuse", protoH1, url, tc, true, n, 1))
	for _, x := range []struct {
		name string
		c    *tls.Config
	}{{"product TLS, new conn, resumed", tc}, {"product TLS, new conn, full", noResume}} {
		row := r.measure(ctx, mk(x.name, protoH1, url, x.c, false, n, 1))
		if reuse.EventsPerSec > 0 {
			r.rep.Ratios = append(r.rep.Ratios, Ratio{Name: x.name[len("product TLS, "):] + " / reuse", Of: x.name, To: reuse.Name, Value: row.EventsPerSec / reuse.EventsPerSec})
		}
	}
	return nil
}

func firstCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read client certificate: %w", err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("client certificate: no PEM block in " + path)
	}
	return x509.ParseCertificate(b.Bytes)
}

var _ = http.MethodPost
