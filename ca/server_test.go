package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/pki"
)

func TestBootstrapGrantsExactlyTheTokenIdentityOnce(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", nil)
	l := pki.Layout{Dir: dir}
	tok := newToken(t, dir, "dev", "producer", nil)
	c := newRawClient(t, caURL, l.ChainFile("dev"), nil)
	key := newKey(t)

	status, reason, err := c.post(PathBootstrap, issueRequest{Token: tok, CSR: csrPEM(t, key)})
	if err != nil || status != http.StatusOK {
		t.Fatalf("bootstrap: status %d reason %q err %v", status, reason, err)
	}
	leaf := c.issued(key).Leaf
	if got := urisOf(leaf); !slices.Equal(got, []string{"spiffe://" + testTD + "/dev/producer"}) {
		t.Errorf("URI SANs = %v, want exactly the token's identity", got)
	}
	if !slices.Equal(leaf.DNSNames, []string{"producer", "localhost"}) {
		t.Errorf("DNS SANs = %v, want [producer localhost] (the CSR's are ignored)", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP SANs = %v, want [127.0.0.1 ::1]", leaf.IPAddresses)
	}
	if leaf.Subject.CommonName != "producer" || !slices.Equal(leaf.Subject.OrganizationalUnit, []string{"dev"}) {
		t.Errorf("subject = %v, want CN=producer OU=dev", leaf.Subject)
	}
	if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(key.Public()) {
		t.Error("certificate is not for the CSR's key")
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("EKUs = %v", leaf.ExtKeyUsage)
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > DefaultLeafTTL+pki.Backdate(DefaultLeafTTL) {
		t.Errorf("lifetime %v exceeds the leaf ttl", life)
	}
	inter, _ := pki.ReadCertificates(l.CACert("dev"))
	if err := leaf.CheckSignatureFrom(inter[0]); err != nil {
		t.Errorf("not signed by the dev intermediate: %v", err)
	}
	if len(leaf.AuthorityKeyId) == 0 || len(leaf.SubjectKeyId) != 20 {
		t.Errorf("AKI %x / SKI %x missing", leaf.AuthorityKeyId, leaf.SubjectKeyId)
	}

	status, reason, err = c.post(PathBootstrap, issueRequest{Token: tok, CSR: csrPEM(t, newKey(t))})
	if err != nil || status != http.StatusUnauthorized || reason != "token_used" {
		t.Errorf("replay: status %d reason %q err %v, want 401 token_used", status, reason, err)
	}
	if got := testutil.CounterValue(srv.m.issued.WithLabelValues("dev", "producer", MethodBootstrap)); got != 1 {
		t.Errorf("issued_total = %v, want 1", got)
	}
	if got := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", "token_used")); got != 1 {
		t.Errorf("refused_total{token_used} = %v, want 1", got)
	}
}

func TestBootstrapRefusals(t *testing.T) {
	dir := newPKI(t)
	srv, devURL := startCA(t, dir, "dev", nil)
	_, prodURL := startCA(t, dir, "prod", nil)
	l := pki.Layout{Dir: dir}
	key := newKey(t)
	tampered := csrPEM(t, key)
	tampered = strings.Replace(tampered, tampered[100:104], "AAAA", 1)

	tests := []struct {
		name, url, anchors, token, csr string
		status                         int
		reason                         string
	}{
		{"expired token", devURL, l.ChainFile("dev"),
			newToken(t, dir, "dev", "producer", func(o *TokenOptions) {
				o.Now = func() time.Time { return time.Now().Add(-time.Hour) }
			}), "", http.StatusUnauthorized, "token_expired"},
		{"dev token at the prod CA", prodURL, l.ChainFile("prod"), newToken(t, dir, "dev", "producer", nil), "",
			http.StatusForbidden, "wrong_env"},
		{"unknown token", devURL, l.ChainFile("dev"), "lst.dev.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "",
			http.StatusUnauthorized, "token_unknown"},
		{"malformed token", devURL, l.ChainFile("dev"), "hunter2", "", http.StatusUnauthorized, "token_malformed"},
		{"no token", devURL, l.ChainFile("dev"), "", "", http.StatusUnauthorized, "token_missing"},
		{"tampered csr", devURL, l.ChainFile("dev"), newToken(t, dir, "dev", "producer", nil), tampered,
			http.StatusBadRequest, "bad_csr"},
		{"csr not PEM", devURL, l.ChainFile("dev"), newToken(t, dir, "dev", "producer", nil), "MIIB",
			http.StatusBadRequest, "bad_csr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			csr := tc.csr
			if csr == "" {
				csr = csrPEM(t, key)
			}
			c := newRawClient(t, tc.url, tc.anchors, nil)
			status, reason, err := c.post(PathBootstrap, issueRequest{Token: tc.token, CSR: csr})
			if err != nil || status != tc.status || reason != tc.reason {
				t.Errorf("status %d reason %q err %v, want %d %s", status, reason, err, tc.status, tc.reason)
			}
		})
	}
	// A request refused for its CSR did not spend the token.
	tok := tests[5].token
	c := newRawClient(t, devURL, l.ChainFile("dev"), nil)
	if status, reason, err := c.post(PathBootstrap, issueRequest{Token: tok, CSR: csrPEM(t, key)}); status != http.StatusOK {
		t.Errorf("token after a bad csr: status %d reason %q err %v, want 200", status, reason, err)
	}
	if got := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", "token_expired")); got != 1 {
		t.Errorf("refused_total{token_expired} = %v, want 1", got)
	}
}

func TestRenewalKeepsIdentityAndNeverWidensIt(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", nil)
	l := pki.Layout{Dir: dir}
	tok := newToken(t, dir, "dev", "producer", func(o *TokenOptions) { o.Hosts = []string{"producer.internal", "10.0.0.7"} })
	key := newKey(t)
	c := newRawClient(t, caURL, l.ChainFile("dev"), nil)
	if status, reason, err := c.post(PathBootstrap, issueRequest{Token: tok, CSR: csrPEM(t, key)}); status != http.StatusOK {
		t.Fatalf("bootstrap: %d %q %v", status, reason, err)
	}
	first := c.issued(key)
	if !slices.Contains(first.Leaf.DNSNames, "producer.internal") {
		t.Fatalf("token hosts missing from %v", first.Leaf.DNSNames)
	}

	// Without a client certificate, renewal is refused.
	if status, reason, _ := c.post(PathRenew, issueRequest{CSR: csrPEM(t, key)}); status != http.StatusUnauthorized || reason != "no_client_cert" {
		t.Errorf("renew without certificate: %d %q, want 401 no_client_cert", status, reason)
	}

	key2 := newKey(t)
	c2 := newRawClient(t, caURL, l.ChainFile("dev"), first)
	if status, reason, err := c2.post(PathRenew, issueRequest{CSR: csrPEM(t, key2)}); status != http.StatusOK {
		t.Fatalf("renew: %d %q %v", status, reason, err)
	}
	second := c2.issued(key2).Leaf
	if !slices.Equal(urisOf(second), urisOf(first.Leaf)) || !slices.Equal(second.DNSNames, first.Leaf.DNSNames) ||
		len(second.IPAddresses) != len(first.Leaf.IPAddresses) || !slices.Equal(second.ExtKeyUsage, first.Leaf.ExtKeyUsage) {
		t.Errorf("renewed certificate differs: URIs %v DNS %v IPs %v EKU %v; was %v %v %v %v",
			urisOf(second), second.DNSNames, second.IPAddresses, second.ExtKeyUsage,
			urisOf(first.Leaf), first.Leaf.DNSNames, first.Leaf.IPAddresses, first.Leaf.ExtKeyUsage)
	}
	if second.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 || !second.PublicKey.(*ecdsa.PublicKey).Equal(key2.Public()) {
		t.Error("renewal must issue a new serial for the new key")
	}
	if got := testutil.CounterValue(srv.m.issued.WithLabelValues("dev", "producer", MethodRenew)); got != 1 {
		t.Errorf("issued_total{renew} = %v, want 1", got)
	}
}

func TestRevokedCertificateCannotRenew(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", nil)
	l := pki.Layout{Dir: dir}
	key := newKey(t)
	c := newRawClient(t, caURL, l.ChainFile("dev"), nil)
	if status, _, err := c.post(PathBootstrap, issueRequest{Token: newToken(t, dir, "dev", "producer", nil), CSR: csrPEM(t, key)}); status != http.StatusOK {
		t.Fatalf("bootstrap: %d %v", status, err)
	}
	cert := c.issued(key)
	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: cert.Leaf.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	c2 := newRawClient(t, caURL, l.ChainFile("dev"), cert)
	if status, reason, err := c2.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))}); status != http.StatusForbidden || reason != "revoked" {
		t.Errorf("renew with a revoked certificate: %d %q %v, want 403 revoked", status, reason, err)
	}
	if got := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", "revoked")); got != 1 {
		t.Errorf("refused_total{revoked} = %v, want 1", got)
	}
}

func TestDevCertificateCannotRenewAtProdCA(t *testing.T) {
	dir := newPKI(t)
	_, devURL := startCA(t, dir, "dev", nil)
	_, prodURL := startCA(t, dir, "prod", nil)
	l := pki.Layout{Dir: dir}
	key := newKey(t)
	c := newRawClient(t, devURL, l.ChainFile("dev"), nil)
	if status, _, err := c.post(PathBootstrap, issueRequest{Token: newToken(t, dir, "dev", "producer", nil), CSR: csrPEM(t, key)}); status != http.StatusOK {
		t.Fatalf("bootstrap: %d %v", status, err)
	}
	// The prod CA's TLS layer only accepts client certificates of prod.
	c2 := newRawClient(t, prodURL, l.ChainFile("prod"), c.issued(key))
	status, reason, err := c2.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))})
	if err == nil || status == http.StatusOK {
		t.Errorf("dev certificate at the prod CA: status %d reason %q err %v, want a refused handshake", status, reason, err)
	}
}

func TestNewTokenValidation(t *testing.T) {
	dir := newPKI(t)
	tests := []struct {
		name string
		o    TokenOptions
	}{
		{"reserved name", TokenOptions{Dir: dir, Env: "dev", Name: CAName}},
		{"bad name", TokenOptions{Dir: dir, Env: "dev", Name: "Pro/ducer"}},
		{"unknown env", TokenOptions{Dir: dir, Env: "staging", Name: "producer"}},
		{"ttl too long", TokenOptions{Dir: dir, Env: "dev", Name: "producer", TTL: MaxTokenTTL + time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := NewToken(tc.o); err == nil {
				t.Error("NewToken succeeded, want an error")
			}
		})
	}
}

func TestTokenStoreKeepsOnlyAHash(t *testing.T) {
	dir := newPKI(t)
	tok := newToken(t, dir, "dev", "producer", nil)
	pending, _ := tokenDirs(dir, "dev")
	entries, err := readDirFiles(pending)
	if err != nil || len(entries) != 1 {
		t.Fatalf("pending tokens: %v %v", entries, err)
	}
	for path, data := range entries {
		if strings.Contains(string(data), tok) || strings.Contains(path, tok) {
			t.Error("the token itself is stored")
		}
		if !strings.Contains(path, tokenHash(tok)) {
			t.Errorf("record %s is not named after the token's hash", path)
		}
		if perm := fileMode(t, path); perm != pki.SecretPerm {
			t.Errorf("%s mode %04o, want 0600", path, perm)
		}
	}
	if len(strings.Split(tok, ".")[2]) < 43 {
		t.Errorf("token %q carries fewer than 256 bits", tok)
	}
}

func urisOf(c *x509.Certificate) []string {
	var out []string
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return out
}
