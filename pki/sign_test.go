package pki

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"logsys/spiffeid"
)

func TestBackdate(t *testing.T) {
	tests := []struct {
		lifetime, want time.Duration
	}{
		{5 * time.Second, 500 * time.Millisecond}, // the online CA's shortest leaves
		{time.Minute, 6 * time.Second},
		{49 * time.Minute, 294 * time.Second},
		{50 * time.Minute, MaxBackdate}, // the edge: a tenth is exactly the cap
		{51 * time.Minute, MaxBackdate},
		{time.Hour, MaxBackdate}, // the online CA's default, pki's minimum
		{DefaultLeafTTL, MaxBackdate},
		{IntermediateLifetimeYears * 365 * 24 * time.Hour, MaxBackdate},
		{0, 0},
		{-time.Hour, 0},
	}
	for _, tt := range tests {
		if got := Backdate(tt.lifetime); got != tt.want {
			t.Errorf("Backdate(%v) = %v, want %v", tt.lifetime, got, tt.want)
		}
		if tt.lifetime > 0 {
			if got := ttlOf(tt.lifetime + Backdate(tt.lifetime)); got != tt.lifetime {
				t.Errorf("ttlOf(%v + backdate) = %v, want %v", tt.lifetime, got, tt.lifetime)
			}
		}
	}
}

func testIssuer(t *testing.T) *Issuer {
	t.Helper()
	dir := newPKI(t, []string{"dev"}, []string{"client"})
	l := Layout{Dir: dir}
	cert, key, err := readCertKey(l.CACert("dev"), l.CAKey("dev"))
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func TestSignLeaf(t *testing.T) {
	is := testIssuer(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spec := LeafSpec{TrustDomain: "logsys.local", Env: "dev", Name: "producer", DNS: []string{"producer"}, TTL: 5 * time.Second}
	now := t0.Add(time.Hour)
	c, err := is.SignLeaf(now, spec, key.Public())
	if err != nil {
		t.Fatalf("SignLeaf with a 5s ttl: %v", err)
	}
	// X.509 times have whole seconds: now-0.5s is encoded as now-1s.
	if want := now.Add(-500 * time.Millisecond).Truncate(time.Second); !c.NotBefore.Equal(want) {
		t.Errorf("NotBefore %v, want %v (a tenth of 5s before %v)", c.NotBefore, want, now)
	}
	if !c.NotAfter.Equal(now.Add(5 * time.Second)) {
		t.Errorf("NotAfter %v, want now+5s", c.NotAfter)
	}
	id, err := spiffeid.FromCert(c)
	if err != nil || id.String() != "spiffe://logsys.local/dev/producer" {
		t.Errorf("identity %v %v", id, err)
	}
	if c.Subject.CommonName != "producer" || !slices.Equal(c.Subject.OrganizationalUnit, []string{"dev"}) {
		t.Errorf("subject %v", c.Subject)
	}
	if err := c.CheckSignatureFrom(is.Cert()); err != nil {
		t.Errorf("not signed by the issuer: %v", err)
	}

	// NotAfter never passes the issuer's.
	long := spec
	long.TTL = 5 * 365 * 24 * time.Hour
	if c, err := is.SignLeaf(now, long, key.Public()); err != nil || !c.NotAfter.Equal(is.Cert().NotAfter) {
		t.Errorf("long ttl: NotAfter %v (err %v), want the issuer's %v", c.NotAfter, err, is.Cert().NotAfter)
	}

	for _, bad := range []struct {
		name string
		mod  func(*LeafSpec)
		want string
	}{
		{"reserved name", func(s *LeafSpec) { s.Name = spiffeid.CAName }, "reserved"},
		{"zero ttl", func(s *LeafSpec) { s.TTL = 0 }, "positive"},
		{"percent-encoded name", func(s *LeafSpec) { s.Name = "%63lient" }, "DNS label"},
		{"uppercase trust domain", func(s *LeafSpec) { s.TrustDomain = "Logsys.local" }, "trust domain"},
		{"bad env", func(s *LeafSpec) { s.Env = "../x" }, "env"},
	} {
		s := spec
		bad.mod(&s)
		if _, err := is.SignLeaf(now, s, key.Public()); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: err %v, want one containing %q", bad.name, err, bad.want)
		}
	}
	if _, err := is.SignLeaf(is.Cert().NotAfter, spec, key.Public()); err == nil {
		t.Error("signed with an expired issuer")
	}
}

func TestSignCAServer(t *testing.T) {
	is := testIssuer(t)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	spec := LeafSpec{TrustDomain: "logsys.local", Env: "dev", TTL: time.Minute, Usage: UsageServerClient}
	c, err := is.SignCAServer(t0, spec, key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := spiffeid.FromCert(c); id.Name != spiffeid.CAName {
		t.Errorf("identity %v, want the reserved name", id)
	}
	if !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("EKU %v, want server authentication only", c.ExtKeyUsage)
	}
	spec.Name = "gateway"
	if _, err := is.SignCAServer(t0, spec, key.Public()); err == nil {
		t.Error("SignCAServer signed another name")
	}
}

// TestReservedNameCA checks that `pki issue --name ca` and `pki init
// --names ca` are refused with a clear error and write nothing.
func TestReservedNameCA(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"client"})
	l := Layout{Dir: dir}
	_, err := Issue(context.Background(), IssueOptions{Dir: dir, Env: "dev", Name: "ca", Now: at(t0)})
	if !errors.Is(err, spiffeid.ErrReservedName) || !strings.Contains(err.Error(), `"ca" is reserved`) {
		t.Fatalf("pki issue --name ca: %v, want a reserved-name error", err)
	}
	if _, err := os.Stat(l.LeafDir("dev", "ca")); !os.IsNotExist(err) {
		t.Errorf("%s exists after the refusal (stat: %v)", l.LeafDir("dev", "ca"), err)
	}
	_, err = Init(context.Background(), InitOptions{Dir: dir, Names: []string{"client", "ca"}, Now: at(t0)})
	if !errors.Is(err, spiffeid.ErrReservedName) {
		t.Fatalf("pki init --names client,ca: %v, want a reserved-name error", err)
	}
}
