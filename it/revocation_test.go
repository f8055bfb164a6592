package it

import (
	"testing"
	"time"

	"logsys/pki"
)

// TestRevokedClientRefused: the broker checks client certificates against
// the environment's CRL (it/kafka.sh's CRL trust provider) and re-reads
// the CRL when it changes, so `logsys pki revoke` takes effect on the next
// handshake without a restart. The certificate is accepted before the
// revocation, and a valid one still is afterwards, so neither a broker
// that refuses everything nor one that is down, nor one that failed to
// read the new CRL, can pass. Java's server sends certificate_unknown for
// any refused client certificate, so the alert does not name the reason;
// the broker's log does ("client refused ... Certificate has been revoked").
func TestRevokedClientRefused(t *testing.T) {
	c := cluster(t)
	// A name of its own: revoking a pipeline identity would break the
	// other tests. Re-running issues a new certificate with a new serial.
	const name = "revoked-client"
	if _, err := pki.Issue(timeout(t, time.Minute), pki.IssueOptions{Dir: c.PKI, Env: c.Env, Name: name}); err != nil {
		t.Fatalf("issue %s: %v", name, err)
	}
	revoked, err := RawClientTLS(c.PKI, c.Env, c.Env, name)
	if err != nil {
		t.Fatal(err)
	}
	valid, err := RawClientTLS(c.PKI, c.Env, c.Env, "client")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range c.Brokers {
		if err := apiVersions(addr, revoked); err != nil {
			t.Fatalf("%s: %s refused before its revocation: %v", addr, name, err)
		}
	}

	if _, err := pki.Revoke(timeout(t, time.Minute), pki.RevokeOptions{Dir: c.PKI, Env: c.Env, Name: name}); err != nil {
		t.Fatalf("revoke %s: %v", name, err)
	}
	for _, addr := range c.Brokers {
		err := apiVersions(addr, revoked)
		if !isTLSRefusal(err) {
			t.Errorf("%s: want a TLS alert for the revoked %s, got %v", addr, name, err)
		} else {
			t.Logf("%s: refused as expected: %v", addr, err)
		}
		if err := apiVersions(addr, valid); err != nil {
			t.Errorf("%s: a valid certificate is refused after the CRL reload: %v", addr, err)
		}
	}
}
