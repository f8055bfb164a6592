package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"logsys/ca"
	"logsys/ca/wire"
	"logsys/internal/testutil"
	"logsys/pki"
)

// TestProcessCALedgerSurvivesACrashAndDrivesRevoke runs `logsys ca`,
// obtains four certificates of one identity (three bootstraps, one
// renewal), kills the CA without warning and starts it again, then uses
// `logsys pki inspect --issued` and `logsys pki revoke --name` as an
// operator would: every record survived the crash, revoke names every
// live serial of the identity (and its leaf file), and none of them
// renews afterwards.
func TestProcessCALedgerSurvivesACrashAndDrivesRevoke(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	newPKI(t, pkiDir)
	addr := "127.0.0.1:" + strconv.Itoa(testutil.FreePorts(t, 1)[0])
	startCA := func() *process {
		p := startLogsys(t, dir, nil, "ca", "--pki-dir", "pki", "--env", "dev", "--addr", addr, "--poll", "100ms")
		p.waitOutput(t, p.stderr, `msg="ca listening"`)
		return p
	}
	caProc := startCA()
	c := newCAClient(t, "https://"+addr, pkiDir)
	var live []*tls.Certificate
	for range 3 {
		tok, _, err := ca.NewToken(ca.TokenOptions{Dir: pkiDir, Env: "dev", Name: "client"})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, c.obtain(t, tok, nil, http.StatusOK, ""))
	}
	live = append(live, c.obtain(t, "", live[0], http.StatusOK, ""))

	if err := caProc.cmd.Process.Kill(); err != nil { // a crash, not a shutdown
		t.Fatal(err)
	}
	<-caProc.done
	startCA()

	out := runOK(t, dir, "pki", "inspect", "--pki-dir", "pki", "--issued", "--identity", "client")
	t.Logf("pki inspect --issued --identity client:\n%s", out)
	for i, cert := range live {
		row := lineWith(out, pki.FormatSerial(cert.Leaf.SerialNumber))
		if row == "" || !strings.Contains(row, "live") {
			t.Errorf("inspect --issued: certificate %d missing or not live:\n%s", i, out)
		}
	}
	if row := lineWith(out, pki.FormatSerial(live[3].Leaf.SerialNumber)); !strings.Contains(row, pki.FormatSerial(live[0].Leaf.SerialNumber)) || !strings.Contains(row, "renew") {
		t.Errorf("the renewal's row does not name its parent: %q", row)
	}

	out = runOK(t, dir, "pki", "revoke", "--pki-dir", "pki", "--env", "dev", "--name", "client")
	t.Logf("pki revoke --name client:\n%s", out)
	file, err := pki.ReadCertificates(pki.Layout{Dir: pkiDir}.CertFile("dev", "client"))
	if err != nil {
		t.Fatal(err)
	}
	for _, sn := range []string{pki.FormatSerial(live[0].Leaf.SerialNumber), pki.FormatSerial(live[1].Leaf.SerialNumber),
		pki.FormatSerial(live[2].Leaf.SerialNumber), pki.FormatSerial(live[3].Leaf.SerialNumber), pki.FormatSerial(file[0].SerialNumber)} {
		if !strings.Contains(lineWith(out, "revoked serial "+sn), "spiffe://logsys.local/dev/client") {
			t.Errorf("revoke --name client does not say it revoked %s:\n%s", sn, out)
		}
	}
	renewed := 0
	for i, cert := range live {
		if _, status, reason := c.try(t, "", cert); status != http.StatusForbidden || reason != string(ca.ReasonRevoked) {
			renewed++
			t.Errorf("renewal with certificate %d after revoke: %d %q, want 403 revoked", i, status, reason)
		}
	}
	if renewed != 0 {
		t.Fatalf("%d of %d revoked certificates renewed", renewed, len(live))
	}
	var rows []ca.IssuedCert
	if err := json.Unmarshal([]byte(runOK(t, dir, "pki", "inspect", "--pki-dir", "pki", "--issued", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(live) {
		t.Fatalf("inspect --issued --json: %d rows, want %d", len(rows), len(live))
	}
	for _, r := range rows {
		if r.Status != ca.IssuedRevoked {
			t.Errorf("row %+v after revoke, want revoked", r)
		}
	}
}

// runOK runs the binary to completion and returns its stdout.
func runOK(t *testing.T, dir string, args ...string) string {
	t.Helper()
	p := startLogsys(t, dir, nil, args...)
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("logsys %s: exit %d\n%s%s", strings.Join(args, " "), code, p.stdout, p.stderr)
	}
	return p.stdout.String()
}

func lineWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

// caClient speaks the CA's protocol like any client would.
type caClient struct {
	url  string
	pool *x509.CertPool
}

func newCAClient(t *testing.T, url, pkiDir string) *caClient {
	t.Helper()
	inter, err := pki.ReadCertificates(pki.Layout{Dir: pkiDir}.CACert("dev"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(inter[0])
	return &caClient{url: url, pool: pool}
}

// obtain bootstraps with tok or renews presenting cur and wants status
// (and reason); it returns the certificate when one was issued.
func (c *caClient) obtain(t *testing.T, tok string, cur *tls.Certificate, status int, reason string) *tls.Certificate {
	t.Helper()
	cert, got, why := c.try(t, tok, cur)
	if got != status || why != reason {
		t.Fatalf("status %d %q, want %d %q", got, why, status, reason)
	}
	return cert
}

// try bootstraps with tok or renews presenting cur; it returns the
// certificate issued, or the status and reason of the refusal.
func (c *caClient) try(t *testing.T, tok string, cur *tls.Certificate) (*tls.Certificate, int, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: c.pool}
	path := wire.PathBootstrap
	if cur != nil {
		path = wire.PathRenew
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cur, nil }
	}
	body, _ := json.Marshal(wire.IssueRequest{Token: tok, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Post(c.url+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		var e wire.ErrorResponse
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s: answer %d %s is not an error response: %v", path, res.StatusCode, data, err)
		}
		return nil, res.StatusCode, e.Reason
	}
	var ir wire.IssueResponse
	if err := json.Unmarshal(data, &ir); err != nil {
		t.Fatal(err)
	}
	out := &tls.Certificate{PrivateKey: key}
	for rest := []byte(ir.Certificate); ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		out.Certificate = append(out.Certificate, b.Bytes)
	}
	if out.Leaf, err = x509.ParseCertificate(out.Certificate[0]); err != nil {
		t.Fatal(fmt.Errorf("issued certificate: %w", err))
	}
	return out, http.StatusOK, ""
}
