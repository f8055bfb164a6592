package ca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"logsys/internal/testutil"
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca/wire"
	"logsys/pki"
)

// member talks to the CA as one role: it trusts every intermediate of the
// environment (during a rollover the CA serves under the previous one)
// and presents cert.
type member struct {
	t    *testing.T
	url  string
	dir  string
	cert *tls.Certificate
}

// call sends one request and returns the status, the refusal reason and
// the body of a success; status 0 and the error when no answer came.
func (m *member) call(method, path string, body any) (int, string, []byte) {
	m.t.Helper()
	l := pki.Layout{Dir: m.dir}
	pool := x509.NewCertPool()
	for _, p := range []string{l.CACert("dev"), l.PrevCACert("dev")} {
		if certs, err := pki.ReadCertificates(p); err == nil {
			pool.AddCert(certs[0])
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool}
	if m.cert != nil {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return m.cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, m.url+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	res, err := (&http.Client{Transport: tr, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error(), nil // refused at the handshake
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		var e errorResponse
		_ = json.Unmarshal(data, &e)
		return res.StatusCode, e.Reason, nil
	}
	return res.StatusCode, "", data
}

// report reports anchors (SHA-256 fingerprints) as identity.
func (m *member) report(identity string, anchors ...string) (int, string) {
	slices.Sort(anchors)
	status, reason, _ := m.call(http.MethodPost, PathTrust, wire.TrustRequest{Report: wire.Report{Identity: identity, Anchors: anchors}})
	return status, reason
}

func intermediateSHA(t *testing.T, path string) string {
	t.Helper()
	certs, err := pki.ReadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return fingerprint(certs[0])
}

const (
	gatewayID  = "spiffe://" + testTD + "/dev/gateway"
	producerID = "spiffe://" + testTD + "/dev/producer"
)

// TestLyingReportsAreRefused: during a rollover that waits for the
// producer, the gateway tries to report the next intermediate in the
// producer's name, by trust fetch and by renewal, and a client without
// a certificate tries too. Every attempt is refused with 403
// report_identity (or 401 without a certificate), counted, and none gets
// through: the rollover keeps waiting for the producer until the
// producer itself reports.
func TestLyingReportsAreRefused(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	reg := prometheus.NewRegistry()
	srv, url := startCA(t, dir, "dev", func(c *Config) { c.PublishDelay, c.Registerer = 0, reg })
	e := newEnrollee(t, url, dir, "dev")
	gw := &member{t: t, url: url, dir: dir, cert: e.mustObtain(t, newToken(t, dir, "dev", "gateway", nil), nil)}
	pr := &member{t: t, url: url, dir: dir, cert: e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)}
	prev := intermediateSHA(t, l.CACert("dev"))
	if _, err := Rotate(context.Background(), pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	next := intermediateSHA(t, l.CACert("dev"))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if status, reason := gw.report(gatewayID, prev, next); status != http.StatusOK {
		t.Fatalf("the gateway's own report: %d %s", status, reason)
	}

	key := newKey(t)
	lies := []struct {
		name   string
		try    func() (int, string)
		status int
		reason Reason
	}{
		{"trust fetch for another identity", func() (int, string) { return gw.report(producerID, prev, next) }, 403, ReasonReportIdentity},
		{"trust fetch for an identity of another environment", func() (int, string) {
			return gw.report("spiffe://"+testTD+"/prod/producer", prev, next)
		}, 403, ReasonReportIdentity},
		{"renewal reporting for another identity", func() (int, string) {
			s, r, _ := gw.call(http.MethodPost, PathRenew, issueRequest{CSR: csrPEM(t, key), Report: &wire.Report{Identity: producerID, Anchors: []string{next}}})
			return s, r
		}, 403, ReasonReportIdentity},
		{"report without a certificate", func() (int, string) {
			anon := &member{t: t, url: url, dir: dir}
			return anon.report(producerID, next)
		}, 401, ReasonNoClientCert},
		{"bootstrap with a report", func() (int, string) {
			anon := &member{t: t, url: url, dir: dir}
			s, r, _ := anon.call(http.MethodPost, PathBootstrap, issueRequest{Token: newToken(t, dir, "dev", "producer", nil), CSR: csrPEM(t, key),
				Report: &wire.Report{Identity: producerID, Anchors: []string{next}}})
			return s, r
		}, 400, ReasonBadRequest},
		{"anchors that are not fingerprints", func() (int, string) { return gw.report(gatewayID, "next") }, 400, ReasonBadRequest},
	}
	before := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", string(ReasonReportIdentity)))
	issued := len(ledgerRecords(t, dir, "dev"))
	got := 0
	for _, lie := range lies {
		status, reason := lie.try()
		if status != lie.status || reason != string(lie.reason) {
			t.Errorf("%s: %d %q, want %d %s", lie.name, status, reason, lie.status, lie.reason)
		}
		if plan := srv.advance(time.Now()); plan.Phase != PhasePropagating {
			got++
			t.Errorf("%s: the rollover moved to %s without the producer", lie.name, plan.Phase)
		}
	}
	if n := len(ledgerRecords(t, dir, "dev")) - issued; n != 0 {
		got += n
		t.Errorf("%d certificates issued to liars", n)
	}
	if n := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", string(ReasonReportIdentity))) - before; n != 3 {
		t.Errorf("logsys_ca_refused_total{reason=report_identity} grew by %v, want 3", n)
	}
	plan := srv.advance(time.Now())
	if w := plan.Waiting(); got != 0 || len(w) != 1 || w[0].Identity != producerID {
		t.Fatalf("%d lies got through; waiting for %+v, want the producer only", got, w)
	}
	if status, reason := pr.report(producerID, prev, next); status != http.StatusOK {
		t.Fatalf("the producer's own report: %d %s", status, reason)
	}
	if plan := srv.advance(time.Now()); plan.Phase != PhaseActive {
		t.Fatalf("phase %s after every member reported, want active", plan.Phase)
	}
}

// TestStatusIsForTheAdminsOnly: GET /v1/status answers the operator's
// certificate with the phase and every member; a member of the
// environment, a client without a certificate and a certificate of
// another environment are refused.
func TestStatusIsForTheAdminsOnly(t *testing.T) {
	dir := newPKIWith(t, "producer", "operator")
	_, url := startCA(t, dir, "dev", nil)
	e := newEnrollee(t, url, dir, "dev")
	gw := &member{t: t, url: url, dir: dir, cert: e.mustObtain(t, newToken(t, dir, "dev", "gateway", nil), nil)}
	if status, reason := gw.report(gatewayID, intermediateSHA(t, pki.Layout{Dir: dir}.CACert("dev"))); status != http.StatusOK {
		t.Fatalf("report: %d %s", status, reason)
	}
	op := &member{t: t, url: url, dir: dir, cert: loadFileLeaf(t, dir, "dev", "operator")}
	status, reason, body := op.call(http.MethodGet, PathStatus, nil)
	if status != http.StatusOK {
		t.Fatalf("operator: %d %s", status, reason)
	}
	var st wire.Status
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Phase != string(PhaseDone) || len(st.Members) != 1 || st.Members[0].Identity != gatewayID || st.Members[0].LastSeen.IsZero() ||
		len(st.Members[0].Anchors) != 1 || st.Members[0].Serial != serial(gw.cert) || st.Members[0].IssuerSHA256 != st.Current.SHA256 {
		t.Errorf("status %+v, want done with the gateway's report", st)
	}
	for name, m := range map[string]*member{
		"member of the environment": {t: t, url: url, dir: dir, cert: loadFileLeaf(t, dir, "dev", "producer")},
		"no certificate":            {t: t, url: url, dir: dir},
		"operator of prod":          {t: t, url: url, dir: dir, cert: loadFileLeaf(t, dir, "prod", "operator")},
	} {
		status, reason, _ := m.call(http.MethodGet, PathStatus, nil)
		want := map[string]int{"member of the environment": 403, "no certificate": 401}[name]
		if name == "operator of prod" {
			if status != 0 { // refused at the handshake: the CA trusts only dev's intermediates
				t.Errorf("%s: %d %s, want no answer", name, status, reason)
			}
			continue
		}
		if status != want {
			t.Errorf("%s: %d %s, want %d", name, status, reason, want)
		}
	}
}

// TestReportsSurviveARestart: what the members reported is in
// reports.json, so a restarted CA does not wait for reports it already
// had; an unreadable reports file is set aside as empty, which can only
// make the CA wait longer.
func TestReportsSurviveARestart(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	cfg := func(c *Config) { c.PublishDelay = time.Hour }
	srv, url := startCA(t, dir, "dev", cfg)
	e := newEnrollee(t, url, dir, "dev")
	gw := &member{t: t, url: url, dir: dir, cert: e.mustObtain(t, newToken(t, dir, "dev", "gateway", nil), nil)}
	prev := intermediateSHA(t, l.CACert("dev"))
	if _, err := Rotate(context.Background(), pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
		t.Fatal(err)
	}
	next := intermediateSHA(t, l.CACert("dev"))
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	if status, reason := gw.report(gatewayID, prev, next); status != http.StatusOK {
		t.Fatalf("report: %d %s", status, reason)
	}
	if mode := fileMode(t, l.Reports("dev")); mode != 0o600 {
		t.Errorf("reports.json mode %o, want 0600", mode)
	}
	restart := func() Rollover {
		t.Helper()
		c := DefaultConfig()
		c.Dir, c.Env, c.PublishDelay, c.Logger = dir, "dev", time.Hour, testLogger(t)
		s, err := New(c)
		if err != nil {
			t.Fatal(err)
		}
		return *s.plan.Load()
	}
	if p := restart(); p.Phase != PhasePrepared || p.Ready != 1 || p.Counted != 1 {
		t.Errorf("after a restart: %s, %d of %d ready; want prepared with the gateway's report", p.Phase, p.Ready, p.Counted)
	}
	if err := os.WriteFile(l.Reports("dev"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p := restart(); p.Phase != PhasePrepared || p.Ready != 0 || p.Counted != 1 {
		t.Errorf("with a damaged reports file: %s, %d of %d ready; want prepared, waiting for the gateway", p.Phase, p.Ready, p.Counted)
	}
	if ix, _, _ := ReadLedger(dir, "dev"); !slices.ContainsFunc(ix.Steps(), func(r Record) bool { return r.Step == StepPrepared && r.Intermediate == next }) {
		t.Error("the ledger does not record the prepared step")
	}
}
