package ca

import (
	"context"
	"crypto/tls"
	"math/big"
	"testing"
	"time"

	"logsys/internal/testutil"
	"logsys/pki"
)

// named is one certificate of an attack, with the name the test gives it.
type named struct {
	name string
	cert *tls.Certificate
}

// TestRevokingACertificateRevokesItsRenewals replays the lineage attack:
// bootstrap certificate B0 renewed into R1, R1 renewed twice (R2, R2b),
// then B0 revoked. Every renewal with any of them must be refused (403
// revoked) and, once the gateway reloads the CRL, every handshake with
// them too: the attack counts what still gets through. The revocation is
// made either through ca.Revoke (pki revoke --serial reads the ledger) or
// as a bare CRL entry, which the CA itself extends to the lineage.
func TestRevokingACertificateRevokesItsRenewals(t *testing.T) {
	for _, how := range []struct {
		name        string
		revoke      func(t *testing.T, dir string, b0 *tls.Certificate)
		caExtension float64 // descendants the CA had to add to the CRL itself
	}{
		{"revoke --serial through the ledger", func(t *testing.T, dir string, b0 *tls.Certificate) {
			res, err := Revoke(context.Background(), RevokeOptions{Dir: dir, Env: "dev", Serial: b0.Leaf.SerialNumber})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Revoked) != 4 {
				t.Errorf("revoked %+v, want B0 and its 3 descendants", res.Revoked)
			}
		}, 0},
		{"bare CRL entry extended by the CA", func(t *testing.T, dir string, b0 *tls.Certificate) {
			if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: b0.Leaf.SerialNumber}); err != nil {
				t.Fatal(err)
			}
		}, 3},
	} {
		t.Run(how.name, func(t *testing.T) {
			dir := newPKI(t)
			srv, caURL := startCA(t, dir, "dev", nil)
			e := newEnrollee(t, caURL, dir, "dev")
			gw := startGateway(t, dir, "dev")
			b0 := e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)
			r1 := e.mustObtain(t, "", b0)
			r2 := e.mustObtain(t, "", r1)
			r2b := e.mustObtain(t, "", r1)
			lineage := []named{{"B0", b0}, {"R1", r1}, {"R2", r2}, {"R2b", r2b}}
			for _, c := range lineage {
				if !gw.admits(c.cert) {
					t.Fatalf("%s refused before any revocation: the gateway would refuse anything", c.name)
				}
			}

			how.revoke(t, dir, b0)
			through := 0
			for _, c := range lineage {
				if err := e.renewRefused(c.cert); err != nil {
					through++
					t.Errorf("renewal with %s after revoking B0: %v", c.name, err)
				}
			}
			if err := gw.src.Reload(); err != nil {
				t.Fatalf("gateway CRL reload: %v", err)
			}
			for _, c := range lineage {
				if gw.admits(c.cert) {
					through++
					t.Errorf("gateway admitted %s after the CRL reload", c.name)
				}
			}
			if through != 0 {
				t.Fatalf("%d of %d attempts got through after revoking B0", through, 2*len(lineage))
			}
			if got := testutil.CounterValue(srv.m.refused.WithLabelValues("dev", string(ReasonRevoked))); got != float64(len(lineage)) {
				t.Errorf("refused_total{revoked} = %v, want %d", got, len(lineage))
			}
			if got := testutil.CounterValue(srv.m.lineage.WithLabelValues("dev")); got != how.caExtension {
				t.Errorf("lineage_revoked_total = %v, want %v", got, how.caExtension)
			}
			// Another identity still renews and is admitted: the refusals
			// come from the lineage, not from a CA or gateway refusing all.
			o := e.mustObtain(t, "", e.mustObtain(t, newToken(t, dir, "dev", "client", nil), nil))
			if !gw.admits(o) {
				t.Error("an unrelated renewed certificate is refused by the gateway")
			}
		})
	}
}

// A renewal that completes after an operator's pki revoke read the
// ledger but before it wrote the CRL is missed by that revoke; the CA
// finds it when it next reloads and revokes it too.
func TestRenewalRacingARevocationIsRevoked(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", func(c *Config) { c.PollInterval = time.Hour })
	e := newEnrollee(t, caURL, dir, "dev")
	gw := startGateway(t, dir, "dev")
	b0 := e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)
	r1 := e.mustObtain(t, "", b0)
	// pki revoke --serial B0 reads the ledger now: {B0, R1} ...
	stale := []*big.Int{b0.Leaf.SerialNumber, r1.Leaf.SerialNumber}
	// ... R1 renews meanwhile ...
	r2 := e.mustObtain(t, "", r1)
	// ... and the CRL is written without R2.
	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: "dev", Serials: stale}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	listed, err := readRevoked(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	if !listed[serial(r2)] {
		t.Fatal("the CA did not put R2, renewed from revoked R1, on the CRL")
	}
	if err := gw.src.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := e.renewRefused(r2); err != nil {
		t.Errorf("renewal with R2: %v", err)
	}
	if gw.admits(r2) {
		t.Error("gateway admitted R2")
	}
}

// record, the last step before a certificate is returned, refuses a
// renewal whose presented certificate's lineage was revoked after the
// request was authorized: nothing renewed from a revoked lineage is
// recorded, so nothing is returned.
func TestRecordRefusesARenewalRevokedInFlight(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", func(c *Config) { c.PollInterval = time.Hour })
	e := newEnrollee(t, caURL, dir, "dev")
	b0 := e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)
	r1 := e.mustObtain(t, "", b0)
	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: b0.Leaf.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	rec := Record{V: LedgerVersion, Kind: KindIssued, At: time.Now(), Serial: "0ABC", Identity: r1.Leaf.URIs[0].String(),
		Method: MethodRenew, Parent: serial(r1), IssuerSerial: "01", IssuerSHA256: "00", NotAfter: time.Now().Add(time.Hour)}
	if err := srv.record(rec); reasonOf(err) != ReasonRevoked {
		t.Fatalf("record of a renewal of R1: %v, want a revoked refusal", err)
	}
	if _, ok := ledgerIndex(t, dir).Lookup("0ABC"); ok {
		t.Error("the refused renewal was recorded")
	}
}

func ledgerIndex(t *testing.T, dir string) *Index {
	t.Helper()
	ix, _, err := ReadLedger(dir, "dev")
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// TestRevokingAnIdentityRevokesAllItsLiveCertificates: three live
// certificates of one identity from three bootstraps, and its leaf file;
// revoking the identity (by name or by spiffe ID) revokes all four, and
// none renews or passes the gateway afterwards.
func TestRevokingAnIdentityRevokesAllItsLiveCertificates(t *testing.T) {
	for _, o := range []RevokeOptions{{Name: "client"}, {Identity: "spiffe://" + testTD + "/dev/client"}} {
		t.Run(o.Name+o.Identity, func(t *testing.T) {
			dir := newPKIWith(t, "producer", "client")
			_, caURL := startCA(t, dir, "dev", nil)
			e := newEnrollee(t, caURL, dir, "dev")
			gw := startGateway(t, dir, "dev")
			var live []named
			for i := range 3 {
				c := e.mustObtain(t, newToken(t, dir, "dev", "client", nil), nil)
				live = append(live, named{name: "client #" + string(rune('1'+i)), cert: c})
			}
			file := loadFileLeaf(t, dir, "dev", "client")
			live = append(live, named{"client leaf file", file})
			other := e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)

			o.Dir, o.Env = dir, "dev"
			res, err := Revoke(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, rv := range res.Revoked {
				got[rv.Serial] = rv.Source
			}
			for i, c := range live {
				want := SourceCA
				if i == 3 {
					want = SourceFile
				}
				if got[serial(c.cert)] != want {
					t.Errorf("%s (%s) not reported revoked from %s: %v", c.name, serial(c.cert), want, got)
				}
			}
			if len(got) != len(live) {
				t.Errorf("revoked %d serials, want %d: %v", len(got), len(live), got)
			}
			if err := gw.src.Reload(); err != nil {
				t.Fatal(err)
			}
			through := 0
			for _, c := range live {
				if err := e.renewRefused(c.cert); err != nil {
					through++
					t.Errorf("renewal with %s: %v", c.name, err)
				}
				if gw.admits(c.cert) {
					through++
					t.Errorf("gateway admitted %s", c.name)
				}
			}
			if through != 0 {
				t.Fatalf("%d of %d attempts got through after revoking the identity", through, 2*len(live))
			}
			if !gw.admits(other) {
				t.Error("another identity is refused too")
			}
		})
	}
}

func TestRevokeRefusesWhatIsNotOfTheEnvironment(t *testing.T) {
	dir := newPKI(t)
	for _, o := range []RevokeOptions{
		{Identity: "spiffe://" + testTD + "/prod/client"},
		{Identity: "spiffe://other.example/dev/client"},
		{Identity: "spiffe://" + testTD + "/dev/%63lient"},
		{Name: "nobody"},
		{Name: "client", Identity: "spiffe://" + testTD + "/dev/client"},
		{},
	} {
		o.Dir, o.Env = dir, "dev"
		if res, err := Revoke(context.Background(), o); err == nil {
			t.Errorf("%+v: revoked %+v", o, res.Revoked)
		}
	}
}

func TestIssuedListsLineageAndStatus(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", func(c *Config) { c.PollInterval = time.Hour })
	e := newEnrollee(t, caURL, dir, "dev")
	b0 := e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil)
	r1 := e.mustObtain(t, "", b0)
	r2 := e.mustObtain(t, "", r1)
	c0 := e.mustObtain(t, newToken(t, dir, "dev", "client", nil), nil)
	if _, err := pki.Revoke(context.Background(), pki.RevokeOptions{Dir: dir, Env: "dev", Serial: r1.Leaf.SerialNumber}); err != nil {
		t.Fatal(err)
	}
	want := map[string]IssuedCert{
		serial(b0): {Method: MethodBootstrap, Status: IssuedLive},
		serial(r1): {Method: MethodRenew, Parent: serial(b0), Status: IssuedRevoked},
		serial(r2): {Method: MethodRenew, Parent: serial(r1), Status: IssuedRevoked, RevokedVia: serial(r1)},
	}
	check := func(when string) {
		rows, reps, err := Issued(context.Background(), IssuedOptions{Dir: dir, Identity: "producer"})
		if err != nil || len(reps) != 1 || reps[0].Records != 4 {
			t.Fatalf("%s: issued: %v, reports %+v", when, err, reps)
		}
		if len(rows) != 3 {
			t.Fatalf("%s: %d rows for producer, want 3: %+v", when, len(rows), rows)
		}
		for _, r := range rows {
			w := want[r.Serial]
			if r.Method != w.Method || r.Parent != w.Parent || r.Status != w.Status || r.RevokedVia != w.RevokedVia || r.Env != "dev" {
				t.Errorf("%s: row %+v, want %+v", when, r, w)
			}
			if (r.Method == MethodBootstrap) != (r.Token != "") {
				t.Errorf("%s: row %+v: a bootstrap names its token, a renewal does not", when, r)
			}
		}
	}
	check("before the CA reloads") // R2 is revoked through R1 though not on the CRL yet
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	check("after the CA put R2 on the CRL")
	if rows, _, _ := Issued(context.Background(), IssuedOptions{Dir: dir, Identity: "spiffe://" + testTD + "/dev/client"}); len(rows) != 1 || rows[0].Serial != serial(c0) {
		t.Errorf("client rows %+v", rows)
	}
	later := func() time.Time { return c0.Leaf.NotAfter.Add(time.Second) }
	if rows, _, _ := Issued(context.Background(), IssuedOptions{Dir: dir, Now: later}); len(rows) != 2 {
		t.Errorf("after expiry without All: %d rows, want the 2 revoked ones", len(rows))
	}
	if rows, _, _ := Issued(context.Background(), IssuedOptions{Dir: dir, Now: later, All: true}); len(rows) != 4 {
		t.Errorf("after expiry with All: %d rows, want 4", len(rows))
	}
}
