package pki

import (
	"context"
	"crypto/x509"
	"testing"
	"time"
)

// TestRotateKeepLeavesThenRetire walks the files of an online CA's
// rollover: KeepLeaves prepares the next intermediate and leaves every
// leaf file signed by the previous one (only their truststores gain the
// next); RetirePrevious refuses while such a leaf file is unexpired, and
// once they were re-issued removes the previous intermediate, its key,
// its CRL and bundle.pem, and the truststores drop it.
func TestRotateKeepLeavesThenRetire(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	ctx := context.Background()
	oldCA := mustCert(t, l.CACert("dev"))
	oldLeaf := mustCert(t, l.CertFile("dev", "gateway"))
	now := t0.Add(24 * time.Hour)
	if _, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", KeepLeaves: true, Now: at(now)}); err == nil {
		t.Fatal("keep leaves without an intermediate rotation accepted")
	}
	if _, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", Intermediate: true, KeepLeaves: true, Now: at(now)}); err != nil {
		t.Fatal(err)
	}
	next := mustCert(t, l.CACert("dev"))
	if next.Equal(oldCA) || !mustCert(t, l.PrevCACert("dev")).Equal(oldCA) || !exists(l.BundleFile("dev")) {
		t.Fatal("the next intermediate is not prepared")
	}
	if !mustCert(t, l.CertFile("dev", "gateway")).Equal(oldLeaf) {
		t.Fatal("keep leaves re-issued a leaf file")
	}
	pass, err := ReadStorePassword(dir, "dev", "gateway")
	if err != nil {
		t.Fatal(err)
	}
	// trusts: the gateway's truststore holds exactly cur and prev.
	trusts := func(cur, prev *x509.Certificate) bool {
		e := &envCA{name: "dev", cur: &Issuer{cert: cur}}
		if prev != nil {
			e.prev = &Issuer{cert: prev}
		}
		ok, _ := jksTrustCurrent(l.TruststoreJKS("dev", "gateway"), pass, e.trust())
		return ok
	}
	if !trusts(next, oldCA) {
		t.Error("the truststore does not hold both intermediates after keep leaves")
	}

	if _, err := RetirePrevious(ctx, RetireOptions{Dir: dir, Env: "dev", Previous: oldCA, Now: at(now)}); err == nil {
		t.Fatal("retired while leaf files of the previous intermediate are unexpired")
	}
	if _, err := RetirePrevious(ctx, RetireOptions{Dir: dir, Env: "dev", Previous: next, Now: at(now)}); err == nil {
		t.Fatal("retired another intermediate than ca-prev.pem")
	}
	if _, err := Rotate(ctx, RotateOptions{Dir: dir, Env: "dev", Now: at(now)}); err != nil {
		t.Fatal(err)
	}
	r, err := RetirePrevious(ctx, RetireOptions{Dir: dir, Env: "dev", Previous: oldCA, Now: at(now)})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{l.PrevCACert("dev"), l.PrevCAKey("dev"), l.PrevCRLFile("dev"), l.BundleFile("dev")} {
		if exists(p) {
			t.Errorf("%s still there after the retirement:\n%s", p, r)
		}
	}
	if !trusts(next, nil) {
		t.Error("the truststore still holds the retired intermediate")
	}
	if r, err := RetirePrevious(ctx, RetireOptions{Dir: dir, Env: "dev", Previous: oldCA, Now: at(now)}); err != nil || len(r.Actions) != 0 {
		t.Errorf("second retirement: %v %s, want nothing to do", err, r)
	}
	if _, err := Verify(ctx, VerifyOptions{Dir: dir, Env: "dev", File: l.CertFile("dev", "client"), Now: at(now)}); err != nil {
		t.Errorf("leaf after the retirement: %v", err)
	}
}
