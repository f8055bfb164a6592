package pki

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// rfcLints are the lint sources that apply to a private PKI: the RFCs and
// community checks. CA/Browser Forum and root program lints are for the
// public Web PKI and reject by design what logsys needs (URI SANs,
// localhost, loopback IPs).
func rfcLints(t *testing.T) lint.Registry {
	t.Helper()
	reg, err := lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lint.SourceList{
		lint.RFC3279, lint.RFC5280, lint.RFC5480, lint.RFC5891, lint.RFC8813, lint.Community}})
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Names()) < 50 {
		t.Fatalf("only %d lints selected", len(reg.Names()))
	}
	return reg
}

func TestZlint(t *testing.T) {
	reg := rfcLints(t)
	for _, kt := range []KeyType{KeyECDSAP256, KeyRSA2048, KeyEd25519} {
		t.Run(string(kt), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			if _, err := Init(context.Background(), InitOptions{Dir: dir, Envs: []string{"dev"},
				Names: []string{"gateway", "client"}, Hosts: []string{"gw.example", "192.0.2.1"}, KeyType: kt, Now: at(t0)}); err != nil {
				t.Fatal(err)
			}
			l := Layout{Dir: dir}
			files := []string{l.RootCert(), l.CACert("dev"), l.CertFile("dev", "gateway"), l.CertFile("dev", "client")}
			for _, f := range files {
				c, err := zx509.ParseCertificate(firstDER(t, f))
				if err != nil {
					t.Fatalf("%s: zcrypto parse: %v", f, err)
				}
				checkResults(t, f, zlint.LintCertificateEx(c, reg))
			}
			crl, err := zx509.ParseRevocationList(firstDER(t, l.CRLFile("dev")))
			if err != nil {
				t.Fatalf("crl parse: %v", err)
			}
			checkResults(t, l.CRLFile("dev"), zlint.LintRevocationListEx(crl, reg))
		})
	}
}

func firstDER(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s: no PEM", path)
	}
	return b.Bytes
}

func checkResults(t *testing.T, path string, rs *zlint.ResultSet) {
	t.Helper()
	if len(rs.Results) == 0 {
		t.Fatalf("%s: no lint ran", path)
	}
	for name, res := range rs.Results {
		if res.Status == lint.Error || res.Status == lint.Fatal {
			t.Errorf("%s: %s: %s %s", filepath.Base(path), name, res.Status, res.Details)
		}
		if res.Status == lint.Warn && testing.Verbose() {
			t.Logf("%s: %s: warn %s", filepath.Base(path), name, res.Details)
		}
	}
}

// TestZlintCatchesDefect makes sure the selected lints do reject a
// non-conformant certificate, so TestZlint can fail.
func TestZlintCatchesDefect(t *testing.T) {
	root, err := newRoot(t0, "logsys.local", KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := baseTemplate(t0, t0.Add(time.Hour), pkix.Name{CommonName: "bad"}, root.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign // on a non-CA: forbidden by RFC 5280
	tmpl.BasicConstraintsValid = true
	bad, err := sign(tmpl, root.cert, root.key.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := zx509.ParseCertificate(bad.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if rs := zlint.LintCertificateEx(c, rfcLints(t)); !rs.ErrorsPresent {
		t.Fatal("zlint found no error in a non-CA with keyCertSign")
	}
}
