package ca

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/pki"
)

// writeCRL signs a CRL of env's current intermediate with the given
// fields and writes it as crl.pem, as an attacker holding an old, validly
// signed CRL would put it back.
func writeCRL(t *testing.T, dir, env string, number int64, thisUpdate, nextUpdate time.Time, revoked ...*big.Int) {
	t.Helper()
	l := pki.Layout{Dir: dir}
	certs, err := pki.ReadCertificates(l.CACert(env))
	if err != nil {
		t.Fatal(err)
	}
	key, err := pki.ReadPrivateKey(l.CAKey(env))
	if err != nil {
		t.Fatal(err)
	}
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(number),
		ThisUpdate: thisUpdate, NextUpdate: nextUpdate, RevokedCertificateEntries: entries}, certs[0], key)
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFile(dir, l.CRLFile(env), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), pki.PublicPerm); err != nil {
		t.Fatal(err)
	}
}

func crlNumber(t *testing.T, path string) *big.Int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	crl, err := x509.ParseRevocationList(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return crl.Number
}

// TestCAFailsClosedOnCRLs replays issue 12, item 4 against the CA: a
// certificate is revoked, then crl.pem is removed, replaced by a validly
// signed but stale and empty CRL with a lower number, and by a fresh
// empty one with a lower number. Each reading is refused and counted; the
// victim never renews, renewals are refused while the CRL is invalid, and
// the published trust bundle keeps the CRL that revokes the victim.
func TestCAFailsClosedOnCRLs(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", func(c *Config) { c.PollInterval = time.Hour })
	l := pki.Layout{Dir: dir}
	bootstrap := func() *rawClient {
		key := newKey(t)
		c := newRawClient(t, caURL, l.ChainFile("dev"), nil)
		if status, reason, err := c.post(PathBootstrap, issueRequest{Token: newToken(t, dir, "dev", "producer", nil), CSR: csrPEM(t, key)}); status != http.StatusOK {
			t.Fatalf("bootstrap: %d %q %v", status, reason, err)
		}
		return newRawClient(t, caURL, l.ChainFile("dev"), c.issued(key))
	}
	victim, honest := bootstrap(), bootstrap()
	if _, err := pki.Revoke(t.Context(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: victim.cert.Leaf.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(l.CRLFile("dev"))
	if err != nil {
		t.Fatal(err)
	}
	cur := crlNumber(t, l.CRLFile("dev")).Int64()
	now := time.Now()
	weeksAgo := now.Add(-21 * 24 * time.Hour)

	replays := []struct {
		name   string
		write  func()
		reason string
	}{
		{"crl.pem removed", func() { os.Remove(l.CRLFile("dev")) }, RejectCRL},
		{"stale, empty, lower number", func() { writeCRL(t, dir, "dev", 1, weeksAgo.Add(-7*24*time.Hour), weeksAgo) }, RejectCRLStale},
		{"fresh, empty, lower number", func() { writeCRL(t, dir, "dev", cur-1, now, now.Add(7*24*time.Hour)) }, RejectCRLNumber},
		{"same number, empty", func() { writeCRL(t, dir, "dev", cur, now, now.Add(7*24*time.Hour)) }, RejectCRLNumber},
	}
	for _, r := range replays {
		t.Run(r.name, func(t *testing.T) {
			before := testutil.CounterValue(srv.m.rejected.WithLabelValues("dev", r.reason))
			r.write()
			defer func() {
				if err := pki.WriteFile(dir, l.CRLFile("dev"), good, pki.PublicPerm); err != nil {
					t.Fatal(err)
				}
				if err := srv.Reload(); err != nil {
					t.Fatalf("reload of the restored crl: %v", err)
				}
			}()
			if err := srv.Reload(); err == nil || !strings.Contains(err.Error(), l.CRLFile("dev")) {
				t.Fatalf("reload: %v, want a refusal naming %s", err, l.CRLFile("dev"))
			}
			if got := testutil.CounterValue(srv.m.rejected.WithLabelValues("dev", r.reason)); got != before+1 {
				t.Fatalf("reload_rejections{%s} = %v, want %v", r.reason, got, before+1)
			}
			for who, c := range map[string]*rawClient{"victim": victim, "honest": honest} {
				if status, reason, _ := c.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))}); status != http.StatusServiceUnavailable || reason != "crl_unavailable" {
					t.Errorf("%s renewal: %d %q, want 503 crl_unavailable", who, status, reason)
				}
			}
			if srv.st.Load().trust().CRL != string(good) || !srv.st.Load().revoked(victim.cert.Leaf.SerialNumber) {
				t.Fatal("the published crl no longer revokes the victim")
			}
		})
	}
	if status, reason, _ := victim.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))}); status != http.StatusForbidden || reason != "revoked" {
		t.Errorf("victim renewal with the crl restored: %d %q, want 403 revoked", status, reason)
	}
	if status, reason, err := honest.post(PathRenew, issueRequest{CSR: csrPEM(t, newKey(t))}); status != http.StatusOK {
		t.Errorf("honest renewal with the crl restored: %d %q %v", status, reason, err)
	}
}

// TestCARefusesToStartWithoutCRL: a CA whose crl.pem is missing or stale
// does not start, and names the file.
func TestCARefusesToStartWithoutCRL(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(dir string)
		want  string
	}{
		{"missing", func(dir string) { os.Remove(pki.Layout{Dir: dir}.CRLFile("dev")) }, "missing"},
		{"stale", func(dir string) {
			weeksAgo := time.Now().Add(-21 * 24 * time.Hour)
			writeCRL(t, dir, "dev", 9, weeksAgo.Add(-7*24*time.Hour), weeksAgo)
		}, "stale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := newPKI(t)
			tc.spoil(dir)
			cfg := DefaultConfig()
			cfg.Dir, cfg.Env, cfg.Logger = dir, "dev", testLogger(t)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), pki.Layout{Dir: dir}.CRLFile("dev")) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming crl.pem (%s)", err, tc.want)
			}
		})
	}
}

// TestCAResignsCRLsAtHalfLife: the CA re-signs the CRL it loaded, with the
// same entries and the next number, once half its life has passed, and
// never a file that changed since it was loaded.
func TestCAResignsCRLsAtHalfLife(t *testing.T) {
	dir := newPKI(t)
	l := pki.Layout{Dir: dir}
	t0 := time.Now()
	clock := t0
	srv, _ := startCA(t, dir, "dev", func(c *Config) { c.PollInterval = time.Hour; c.Now = func() time.Time { return clock } })
	revoked := big.NewInt(0xbad)
	if _, err := pki.Revoke(t.Context(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: revoked, Now: func() time.Time { return t0 }}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	n := crlNumber(t, l.CRLFile("dev"))

	clock = t0.Add(pki.CRLLifetime/2 - time.Minute)
	srv.resignCRLs(clock)
	if got := crlNumber(t, l.CRLFile("dev")); got.Cmp(n) != 0 {
		t.Fatalf("re-signed before half life: number %v, was %v", got, n)
	}

	clock = t0.Add(pki.CRLLifetime / 2)
	srv.resignCRLs(clock)
	if got := crlNumber(t, l.CRLFile("dev")); got.Cmp(new(big.Int).Add(n, big.NewInt(1))) != 0 {
		t.Fatalf("after half life: number %v, want %v", got, n.Int64()+1)
	}
	st := srv.st.Load()
	if !st.revoked(revoked) || !st.crls[0].crl.NextUpdate.Equal(clock.Add(pki.CRLLifetime).UTC().Truncate(time.Second)) {
		t.Fatalf("re-signed crl lost the revocation or has nextUpdate %v", st.crls[0].crl.NextUpdate)
	}

	// A file changed behind the CA's back is left alone.
	clock = clock.Add(pki.CRLLifetime / 2)
	writeCRL(t, dir, "dev", 100, clock.Add(-pki.CRLLifetime), clock.Add(time.Hour), revoked)
	srv.resignCRLs(clock)
	if got := crlNumber(t, l.CRLFile("dev")); got.Int64() != 100 {
		t.Fatalf("a crl the CA had not loaded was re-signed (number %v)", got)
	}
}
