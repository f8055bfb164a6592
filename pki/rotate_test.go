package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"logsys/internal/testutil"
)

func TestRotateLeaf(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	ctx := context.Background()
	if _, err := Issue(ctx, IssueOptions{Dir: dir, Env: "dev", Name: "web", Usage: UsageServer, TTL: 5 * time.Hour,
		DNS: []string{"web.example"}, Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	old := mustCert(t, l.CertFile("dev", "web"))
	oldKey, _ := ReadPrivateKey(l.KeyFile("dev", "web"))
	oldGW := mustCert(t, l.CertFile("dev", "gateway"))
	now := t0.Add(time.Hour)
	if _, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", Name: "web", Now: at(now)}); err != nil {
		t.Fatal(err)
	}
	c := mustCert(t, l.CertFile("dev", "web"))
	key, _ := ReadPrivateKey(l.KeyFile("dev", "web"))
	if keyMatches(c, oldKey) || !keyMatches(c, key) || c.SerialNumber.Cmp(old.SerialNumber) == 0 {
		t.Fatal("rotation did not make a new key and serial")
	}
	if c.NotAfter.Sub(now) != 5*time.Hour || usageOf(c) != UsageServer || len(c.DNSNames) != len(old.DNSNames) {
		t.Fatalf("profile not kept: ttl %v usage %v dns %v", c.NotAfter.Sub(now), usageOf(c), c.DNSNames)
	}
	if !mustCert(t, l.CertFile("dev", "gateway")).Equal(oldGW) {
		t.Fatal("rotating one name touched another")
	}
	if _, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", Name: "nobody", Now: at(now)}); err == nil {
		t.Fatal("rotating a missing leaf succeeded")
	}
}

func TestRotateIntermediateOverlap(t *testing.T) {
	dir := newPKI(t, []string{"dev", "prod"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	ctx := context.Background()
	oldCA := mustCert(t, l.CACert("dev"))
	oldLeaf := mustCert(t, l.CertFile("dev", "gateway"))
	oldFile := t.TempDir() + "/old.pem"
	testutil.CopyFile(t, l.CertFile("dev", "gateway"), oldFile)
	now := t0.Add(24 * time.Hour)
	r, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", Intermediate: true, Now: at(now)})
	if err != nil {
		t.Fatal(err)
	}
	newCA := mustCert(t, l.CACert("dev"))
	if newCA.Equal(oldCA) || !mustCert(t, l.PrevCACert("dev")).Equal(oldCA) {
		t.Fatal("ca.pem/ca-prev.pem not rotated")
	}
	bundle, err := ReadCertificates(l.BundleFile("dev"))
	if err != nil || len(bundle) != 3 || !bundle[0].Equal(newCA) || !bundle[1].Equal(oldCA) || bundle[2].Subject.CommonName != "logsys root CA" {
		t.Fatalf("bundle.pem: %d certs, %v\n%s", len(bundle), err, r)
	}
	if l.TrustFile("dev") != l.BundleFile("dev") || l.TrustFile("prod") != l.ChainFile("prod") {
		t.Fatal("TrustFile does not prefer bundle.pem")
	}
	// Every leaf moved to the new intermediate.
	for _, name := range []string{"gateway", "client"} {
		c := mustCert(t, l.CertFile("dev", name))
		if c.CheckSignatureFrom(newCA) != nil {
			t.Fatalf("%s not signed by the new intermediate", name)
		}
	}
	// Both old and new leaves verify during the overlap, against the bundle.
	pool := x509.NewCertPool()
	for _, c := range bundle[:2] {
		pool.AddCert(c)
	}
	for _, c := range []*x509.Certificate{oldLeaf, mustCert(t, l.CertFile("dev", "gateway"))} {
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now}); err != nil {
			t.Fatalf("leaf %s does not verify against the bundle: %v", FormatSerial(c.SerialNumber), err)
		}
	}
	if _, err := Verify(ctx, VerifyOptions{Dir: dir, Env: "dev", File: oldFile, Now: at(now)}); err != nil {
		t.Fatalf("old leaf rejected during overlap: %v", err)
	}
	// Revoking the old leaf by serial lands in the previous CRL.
	if _, err := Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev", Serial: oldLeaf.SerialNumber, Now: at(now)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(ctx, VerifyOptions{Dir: dir, Env: "dev", File: oldFile, Now: at(now)}); !errors.Is(err, ErrRevoked) {
		t.Fatalf("old leaf after revoke: %v", err)
	}
	// init keeps the overlap while the previous intermediate is valid.
	r = runInit(t, dir, now.Add(time.Hour))
	if a, _ := r.Find("dev/bundle.pem"); a.Op != OpKept {
		t.Fatalf("bundle not kept: %s", r)
	}
	// After it expires, init ends the overlap.
	later := oldCA.NotAfter.Add(time.Hour)
	r = runInit(t, dir, later)
	if a, _ := r.Find("dev/bundle.pem"); a.Op != OpRemoved || exists(l.PrevCACert("dev")) || exists(l.PrevCAKey("dev")) {
		t.Fatalf("overlap not ended: %s", r)
	}
	if l.TrustFile("dev") != l.ChainFile("dev") {
		t.Fatal("TrustFile still names bundle.pem")
	}
	// The prod environment is untouched by a dev rotation.
	if mustCert(t, l.CACert("prod")).CheckSignatureFrom(mustCert(t, l.RootCert())) != nil {
		t.Fatal("prod intermediate broken")
	}
}

func TestRotateIntermediateNeedsRootKey(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	_, err := Rotate(context.Background(), RotateOptions{Dir: dir, Env: "dev", Intermediate: true,
		RootKeyPath: t.TempDir() + "/absent.pem", Now: at(t0)})
	if !errors.Is(err, ErrRootKeyNeeded) {
		t.Fatalf("error %v, want ErrRootKeyNeeded", err)
	}
	if exists(Layout{Dir: dir}.PrevCACert("dev")) {
		t.Fatal("failed rotation left ca-prev.pem")
	}
}

func TestInspect(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
	ctx := context.Background()
	if _, err := Issue(ctx, IssueOptions{Dir: dir, Env: "dev", Name: "short", TTL: 2 * time.Hour, Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev", Name: "client", Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	testutil.CopyFile(t, "testdata/truncated-cert.pem", Layout{Dir: dir}.CertFile("dev", "gateway"))
	rows, err := Inspect(ctx, InspectOptions{Dir: dir, Now: at(t0.Add(3 * time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status Status
		chain  bool
	}{
		"root": {StatusOK, true}, "ca": {StatusOK, true}, "client": {StatusRevoked, true},
		"gateway": {StatusInvalid, false}, "short": {StatusExpired, false},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for _, row := range rows {
		w := want[row.Name]
		if row.Status != w.status || row.ChainOK != w.chain {
			t.Errorf("%s: status %s chain %v, want %s %v (%s)", row.Name, row.Status, row.ChainOK, w.status, w.chain, row.Problem)
		}
	}
	rows, _ = Inspect(ctx, InspectOptions{Dir: dir, Now: at(t0.Add(24 * time.Hour))})
	for _, row := range rows {
		if row.Name == "client" && row.Status != StatusRevoked {
			t.Errorf("client: %s", row.Status)
		}
	}
}

func TestRowStatusEdges(t *testing.T) {
	c := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: t0, NotAfter: t0.Add(30 * 24 * time.Hour)}
	tests := []struct {
		now    time.Time
		status Status
		days   int
	}{
		{t0, StatusOK, 30},
		{c.NotAfter.Add(-ExpiringWithin), StatusOK, 7},
		{c.NotAfter.Add(-ExpiringWithin + time.Second), StatusExpiring, 6},
		{c.NotAfter.Add(-time.Second), StatusExpiring, 0},
		{c.NotAfter, StatusExpired, 0},
		{c.NotAfter.Add(25 * time.Hour), StatusExpired, -2},
	}
	for _, tt := range tests {
		got := row(Layout{}, tt.now, "dev", "x", "leaf", "x", c, "", nil)
		if got.Status != tt.status || got.DaysLeft != tt.days {
			t.Errorf("at %v: %s %d days, want %s %d", tt.now, got.Status, got.DaysLeft, tt.status, tt.days)
		}
	}
}
