package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"logsys/internal/testutil"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"logsys/ca"
	"logsys/ca/wire"
	"logsys/pki"
)

// TestProcessRolloverThroughTheCommands drives a rollover as an operator
// would, with the binary: `logsys ca` (publish delay from LOGSYS_CA_*),
// `logsys pki rotate --intermediate`, which in an environment the CA serves
// only prepares the next intermediate, `logsys pki rotate` refused while
// it does not sign, and `logsys ca status` (text and --json) with the
// operator certificate of pki init, which shows who the CA waits for until
// that member reports.
func TestProcessRolloverThroughTheCommands(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	newPKI(t, pkiDir)
	l := pki.Layout{Dir: pkiDir}
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePorts(t, 1)[0])
	caProc := startLogsys(t, dir, []string{"LOGSYS_CA_PUBLISH_DELAY=0s", "LOGSYS_CA_POLL_INTERVAL=100ms"},
		"ca", "--pki-dir", "pki", "--env", "dev", "--addr", addr)
	caProc.waitOutput(t, caProc.stderr, `msg="ca listening"`)
	url := "https://" + addr
	c := newCAClient(t, url, pkiDir)
	tok, _, err := ca.NewToken(ca.TokenOptions{Dir: pkiDir, Env: "dev", Name: "client"})
	if err != nil {
		t.Fatal(err)
	}
	member := c.obtain(t, tok, nil, http.StatusOK, "")
	status := func() wire.Status {
		t.Helper()
		var st wire.Status
		out := runOK(t, dir, "ca", "status", "--pki-dir", "pki", "--env", "dev", "--url", url, "--json")
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("ca status --json: %v\n%s", err, out)
		}
		return st
	}
	if st := status(); st.Phase != "done" || len(st.Members) != 1 || st.Members[0].Identity != "spiffe://logsys.local/dev/client" || !st.Members[0].LastSeen.IsZero() {
		t.Fatalf("status before the rollover: %+v", st)
	}

	fileLeaf, err := pki.ReadCertificates(l.CertFile("dev", "client"))
	if err != nil {
		t.Fatal(err)
	}
	out := runOK(t, dir, "pki", "rotate", "--pki-dir", "pki", "--env", "dev", "--intermediate")
	if !strings.Contains(out, "next intermediate of dev prepared") {
		t.Errorf("pki rotate --intermediate in an environment the CA serves:\n%s", out)
	}
	if now, _ := pki.ReadCertificates(l.CertFile("dev", "client")); !now[0].Equal(fileLeaf[0]) {
		t.Error("pki rotate --intermediate re-issued a leaf file the CA's rollover leaves alone")
	}
	p := startLogsys(t, dir, nil, "pki", "rotate", "--pki-dir", "pki", "--env", "dev")
	if code := p.exitCode(t); code != 1 || !strings.Contains(p.stderr.String(), "rollover in progress") {
		t.Errorf("pki rotate of the leaf files while propagating: exit %d\n%s", code, p.stderr)
	}

	var st wire.Status
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if st = status(); st.Phase == "propagating" || time.Now().After(deadline) {
			break
		}
	}
	if st.Phase != "propagating" || !slices.Equal(st.Waiting, []string{"spiffe://logsys.local/dev/client"}) || st.Previous == nil {
		t.Fatalf("status after the rotation: phase %s, waiting %v", st.Phase, st.Waiting)
	}
	text := runOK(t, dir, "ca", "status", "--pki-dir", "pki", "--env", "dev", "--url", url)
	t.Logf("logsys ca status:\n%s", text)
	for _, want := range []string{"rollover propagating", "0 of 1 members hold the next intermediate",
		"waiting for: spiffe://logsys.local/dev/client", "previous ca-prev.pem", "signs new leaves"} {
		if !strings.Contains(text, want) {
			t.Errorf("ca status does not say %q", want)
		}
	}

	anchors := []string{st.Current.SHA256, st.Previous.SHA256}
	slices.Sort(anchors)
	if code := c.report(t, member, wire.Report{Identity: "spiffe://logsys.local/dev/client", Anchors: anchors}); code != http.StatusOK {
		t.Fatalf("report: %d", code)
	}
	if st := status(); st.Phase != "active" || st.Signer != st.Current.SHA256 || len(st.Members[0].Anchors) != 2 {
		t.Errorf("status once the member reported: phase %s signer %.8s members %+v", st.Phase, st.Signer, st.Members)
	}
	next, _ := pki.ReadCertificates(l.CACert("dev"))
	if sum := sha256.Sum256(next[0].Raw); hex.EncodeToString(sum[:]) != st.Current.SHA256 {
		t.Error("status names another current intermediate than ca.pem")
	}
	out = runOK(t, dir, "pki", "rotate", "--pki-dir", "pki", "--env", "dev")
	if now, _ := pki.ReadCertificates(l.CertFile("dev", "client")); now[0].CheckSignatureFrom(next[0]) != nil {
		t.Errorf("pki rotate once active did not re-issue the leaf files with the next intermediate:\n%s", out)
	}
}

// report sends a trust report presenting cur and returns the status.
func (c *caClient) report(t *testing.T, cur *tls.Certificate, r wire.Report) int {
	t.Helper()
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.pool,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cur, nil }}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	body, _ := json.Marshal(wire.TrustRequest{Report: r})
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Post(c.url+wire.PathTrust, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
