package tlsx_test

import (
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

const rejections = "logsys_tls_reload_rejections_total"

// TestSourceWithoutValidCRLRefusesToLoad: a source never starts without a
// CRL it can trust, and says which file is wrong.
func TestSourceWithoutValidCRLRefusesToLoad(t *testing.T) {
	f := newFixture(t)
	files := testpki.Paths(f.dir, "dev", "producer")
	weeksAgo := f.ca.Now().Add(-21 * 24 * time.Hour)
	f.ca.RolloverIntermediate("dev")
	f.ca.WriteEnv(f.dir, "dev")
	prev := f.ca.Intermediates("dev")[0]
	tests := []struct {
		name string
		crl  []byte // nil removes crl.pem
		want string
	}{
		{"missing", nil, "no such file"},
		{"unparseable", []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), "parse"},
		{"not a crl", f.ca.CAPEM("dev"), "unexpected PEM block"},
		{"stale", f.ca.CRLPEMWith("dev", testpki.CRLOptions{ThisUpdate: weeksAgo.Add(-24 * time.Hour), NextUpdate: weeksAgo}), "stale"},
		{"only from the previous intermediate", f.ca.CRLPEMWith("dev", testpki.CRLOptions{Issuer: prev}), "no crl signed by the current intermediate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "producer"))
			if tc.crl == nil {
				os.Remove(files.CRL)
			} else {
				f.ca.WriteFile(files.CRL, tc.crl, 0o644)
			}
			_, err := tlsx.NewSource(f.sourceConfig("dev", "producer"))
			if err == nil {
				t.Fatal("source loaded")
			}
			if !strings.Contains(err.Error(), files.CRL) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s and %q", err, files.CRL, tc.want)
			}
		})
	}
}

// TestCRLReplayKeepsTheVictimRevoked replays issue 12, item 4 against a
// file-backed and a pushed source: after a client is revoked, crl.pem is
// removed, replaced by a validly signed but stale, empty CRL with a lower
// number, by a fresh empty one with a lower number, and by one reusing
// the current number. Each is refused and counted with its reason, and
// the victim stays refused as revoked.
func TestCRLReplayKeepsTheVictimRevoked(t *testing.T) {
	f := newFixture(t)
	files := testpki.Paths(f.dir, "dev", "producer")
	first := f.ca.CRLPEM("dev") // number n, before the revocation
	victim := f.ca.Leaf("dev", "gateway")
	f.ca.Revoke("dev", victim.Serial)
	f.ca.WriteFile(files.CRL, f.ca.CRLPEM("dev"), 0o644)
	producer := f.ca.Leaf("dev", "producer")
	f.ca.WriteLeaf(f.dir, producer)
	fileSrc := f.load("dev", "producer")
	pushedSrc := f.pushed("producer-pushed", producer) // its own CRL, newer still
	number := func(src *tlsx.Source) *big.Int {
		n, _ := new(big.Int).SetString(src.CRLs()[0].Number, 10)
		return n
	}
	weeksAgo := f.ca.Now().Add(-21 * 24 * time.Hour)

	for _, src := range []*tlsx.Source{fileSrc, pushedSrc} {
		cur := number(src)
		replays := []struct {
			name   string
			crl    []byte // nil: remove crl.pem (files only)
			reason tlsx.RejectReason
		}{
			{"crl.pem removed", nil, tlsx.RejectRead},
			{"stale, empty, lower number", f.ca.CRLPEMWith("dev", testpki.CRLOptions{Empty: true, Number: big.NewInt(1),
				ThisUpdate: weeksAgo.Add(-7 * 24 * time.Hour), NextUpdate: weeksAgo}), tlsx.RejectCRLStale},
			{"fresh, empty, lower number", f.ca.CRLPEMWith("dev", testpki.CRLOptions{Empty: true, Number: new(big.Int).Sub(cur, big.NewInt(1))}), tlsx.RejectCRLNumber},
			{"the CRL before the revocation", first, tlsx.RejectCRLNumber},
			{"same number, empty", f.ca.CRLPEMWith("dev", testpki.CRLOptions{Empty: true, Number: cur}), tlsx.RejectCRLNumber},
		}
		for _, r := range replays {
			t.Run(src.Name()+"/"+r.name, func(t *testing.T) {
				labels := map[string]string{"source": src.Name(), "reason": string(r.reason)}
				before := testutil.MetricValue(t, f.reg, rejections, labels)
				var err error
				if src == fileSrc {
					saved := mustRead(t, files.CRL)
					defer f.ca.WriteFile(files.CRL, saved, 0o644)
					if r.crl == nil {
						os.Remove(files.CRL)
					} else {
						f.ca.WriteFile(files.CRL, r.crl, 0o644)
					}
					err = src.Reload()
				} else {
					if r.crl == nil {
						t.Skip("pushed material has no file to remove; an empty CRL is refused as crl")
					}
					p := f.pemOf(producer)
					p.CRL = r.crl
					err = src.Update(p)
				}
				if err == nil {
					t.Fatal("replayed crl accepted")
				}
				if got := testutil.MetricValue(t, f.reg, rejections, labels); got != before+1 {
					t.Fatalf("rejections%v = %v, want %v (err: %v)", labels, got, before+1, err)
				}
				if !src.Revoked(victim.Cert) {
					t.Fatal("the victim is no longer revoked")
				}
			})
		}
	}

	// The next genuine CRL is taken.
	f.ca.WriteFile(files.CRL, f.ca.CRLPEM("dev"), 0o644)
	if err := fileSrc.Reload(); err != nil {
		t.Fatalf("next crl refused: %v", err)
	}
	if !fileSrc.Revoked(victim.Cert) {
		t.Fatal("the victim is no longer revoked")
	}
	addr := f.serve(mustServerConfig(t, fileSrc, tlsx.AuthorizeAny(), tlsx.Options{}), "replay")
	if _, _, err := callRaw(victim.ClientConfig(f.ca.Pool("dev"), "localhost"), addr); err == nil {
		t.Fatal("the victim got through after the replays")
	}
	waitMetric(t, f.reg, failures, map[string]string{"listener": "replay", "reason": "revoked"}, 1)
}
