package ca

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/pki"
)

// forge signs a client certificate carrying uri with env's real
// intermediate, bypassing pki's signer (which refuses such identities):
// what an attacker holding a mis-issued certificate would present.
func forge(t *testing.T, dir, env, uri string) *tls.Certificate {
	t.Helper()
	l := testpki.SignWith(t, testpki.IssuerFromLayout(t, dir, env), env, "client", testpki.WithURI(uri),
		testpki.ValidFor(time.Hour), testpki.WithIPs(), testpki.WithExtKeyUsage(x509.ExtKeyUsageClientAuth))
	return &l.TLS
}

// TestRenewalRefusesNonCanonicalIdentities presents dev-signed, valid,
// unrevoked certificates whose identities a loose parser would read as
// dev/client (issue 12 item 6) or that claim the CA's reserved name, and
// counts how many the CA renews.
func TestRenewalRefusesNonCanonicalIdentities(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", nil)
	l := pki.Layout{Dir: dir}
	ids := []string{
		"spiffe://logsys.local/dev/%63lient",
		"spiffe://LOGSYS.local/dev/client",
		"spiffe://logsys.local/dev/./client",
		"spiffe://logsys.local/dev//client",
		"spiffe://logsys.local/dev/client/",
		"spiffe://logsys.local/dev/ca",
	}
	renewed := 0
	for _, id := range ids {
		c := newRawClient(t, caURL, l.ChainFile("dev"), forge(t, dir, "dev", id))
		status, reason, err := c.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))})
		if status == http.StatusOK {
			renewed++
			t.Errorf("%s renewed into %v", id, urisOf(issuedLeaf(t, c.result)))
			continue
		}
		if status != http.StatusForbidden || reason != "identity" {
			t.Errorf("%s: %d %q %v, want 403 identity", id, status, reason, err)
		}
	}
	if renewed != 0 {
		t.Fatalf("%d of %d forged identities renewed", renewed, len(ids))
	}
	if got := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", "identity")); got != float64(len(ids)) {
		t.Errorf("refused_total{identity} = %v, want %d", got, len(ids))
	}
	// The same forgery with the canonical identity renews: the refusals
	// above come from identity parsing alone.
	c := newRawClient(t, caURL, l.ChainFile("dev"), forge(t, dir, "dev", "spiffe://logsys.local/dev/client"))
	if status, reason, err := c.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))}); status != http.StatusOK {
		t.Fatalf("canonical control renewal: %d %q %v", status, reason, err)
	}
}

func issuedLeaf(t *testing.T, r *issueResponse) *x509.Certificate {
	t.Helper()
	certs, err := parseCerts([]byte(r.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}
