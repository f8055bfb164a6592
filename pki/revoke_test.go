package pki

import (
	"context"
	"math/big"
	"sync"
	"testing"
	"time"
)

func TestRevokeManySerialsInOneCRL(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	l := Layout{Dir: dir}
	gw := mustCert(t, l.CertFile("dev", "gateway"))
	r, err := Revoke(context.Background(), RevokeOptions{Dir: dir, Env: "dev", Name: "gateway",
		Serials: []*big.Int{big.NewInt(0xA1), big.NewInt(0xB2)}, Now: at(t0.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := readCRL(l.CRLFile("dev"), mustCert(t, l.CACert("dev")))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*big.Int{gw.SerialNumber, big.NewInt(0xA1), big.NewInt(0xB2)} {
		if !isRevoked(crl, n) {
			t.Errorf("serial %s not revoked", FormatSerial(n))
		}
	}
	if crl.Number.Int64() != 2 {
		t.Errorf("crl number %v, want 2 (one re-signing)", crl.Number)
	}
	if a, _ := r.Find("dev/crl.pem"); a.Op != OpReplaced || a.Reason != "revoked serials A1, B2, "+FormatSerial(gw.SerialNumber) {
		t.Errorf("report %+v", a)
	}
}

// Concurrent revocations (the online CA revoking a lineage while an
// operator runs pki revoke) each read and re-sign the CRL under the
// environment's lock: none is lost, and the CRL number counts every one.
func TestConcurrentRevocationsLoseNothing(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	l := Layout{Dir: dir}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := Revoke(context.Background(), RevokeOptions{Dir: dir, Env: "dev", Serial: big.NewInt(int64(1000 + i)), Now: at(t0)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	crl, err := readCRL(l.CRLFile("dev"), mustCert(t, l.CACert("dev")))
	if err != nil {
		t.Fatal(err)
	}
	lost := 0
	for i := range n {
		if !isRevoked(crl, big.NewInt(int64(1000+i))) {
			lost++
		}
	}
	if lost != 0 || crl.Number.Int64() != 1+n {
		t.Errorf("%d of %d revocations lost, crl number %v (want %d)", lost, n, crl.Number, 1+n)
	}
}
