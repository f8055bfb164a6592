package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"math/big"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	l := Layout{Dir: dir}
	tests := []struct {
		name    string
		opts    IssueOptions
		wantEKU []x509.ExtKeyUsage
		wantTTL time.Duration
		wantErr bool
	}{
		{"default", IssueOptions{Name: "svc"}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, DefaultLeafTTL, false},
		{"client by name", IssueOptions{Name: "client"}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DefaultLeafTTL, false},
		{"server only, hours", IssueOptions{Name: "web", Usage: UsageServer, TTL: 3 * time.Hour,
			DNS: []string{"web.example"}, IPs: []net.IP{net.ParseIP("192.0.2.7")}}, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, 3 * time.Hour, false},
		{"client only", IssueOptions{Name: "batch", Usage: UsageClient}, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, DefaultLeafTTL, false},
		{"ttl below minimum", IssueOptions{Name: "short", TTL: 30 * time.Minute}, nil, 0, true},
		{"bad name", IssueOptions{Name: "Bad_Name"}, nil, 0, true},
		{"unknown env", IssueOptions{Name: "svc", Env: "qa"}, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Dir, o.Now = dir, at(t0)
			if o.Env == "" {
				o.Env = "dev"
			}
			_, err := Issue(context.Background(), o)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Issue error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			c := mustCert(t, l.CertFile("dev", o.Name))
			if !slices.Equal(c.ExtKeyUsage, tt.wantEKU) {
				t.Errorf("EKU %v, want %v", c.ExtKeyUsage, tt.wantEKU)
			}
			if d := c.NotAfter.Sub(t0); d != tt.wantTTL {
				t.Errorf("ttl %v, want %v", d, tt.wantTTL)
			}
			for _, d := range append([]string{o.Name, "localhost"}, o.DNS...) {
				if !slices.Contains(c.DNSNames, d) {
					t.Errorf("DNS SANs %v lack %s", c.DNSNames, d)
				}
			}
			if len(c.IPAddresses) != 2+len(o.IPs) {
				t.Errorf("IP SANs %v", c.IPAddresses)
			}
			if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() < 64 || len(c.SubjectKeyId) == 0 || len(c.AuthorityKeyId) == 0 {
				t.Errorf("serial %v SKI %x AKI %x", c.SerialNumber, c.SubjectKeyId, c.AuthorityKeyId)
			}
			if fi, err := os.Stat(l.KeyFile("dev", o.Name)); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %v %v", fi.Mode(), err)
			}
			if fi, err := os.Stat(l.LeafDir("dev", o.Name)); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("leaf dir mode %v %v", fi.Mode(), err)
			}
			if _, err := Verify(context.Background(), VerifyOptions{Dir: dir, Env: "dev", File: l.CertFile("dev", o.Name), Now: at(t0)}); err != nil {
				t.Errorf("issued leaf does not verify: %v", err)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	dir := newPKI(t, []string{"dev", "prod"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	ctx := context.Background()
	if _, err := Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev", Name: "client", Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	leaf := mustCert(t, l.CertFile("dev", "gateway"))
	tests := []struct {
		name string
		env  string
		file string
		now  time.Time
		want error
	}{
		{"ok", "dev", l.CertFile("dev", "gateway"), t0, nil},
		{"ok just before expiry", "dev", l.CertFile("dev", "gateway"), leaf.NotAfter.Add(-time.Second), ErrStaleCRL},
		{"ok within crl life", "dev", l.CertFile("dev", "gateway"), t0.Add(CRLLifetime - time.Second), nil},
		{"crl stale", "dev", l.CertFile("dev", "gateway"), t0.Add(CRLLifetime), ErrStaleCRL},
		{"expired at notAfter", "dev", l.CertFile("dev", "gateway"), leaf.NotAfter, ErrExpired},
		{"not yet valid", "dev", l.CertFile("dev", "gateway"), leaf.NotBefore.Add(-time.Second), ErrNotYetValid},
		{"revoked", "dev", l.CertFile("dev", "client"), t0, ErrRevoked},
		{"other env", "dev", l.CertFile("prod", "gateway"), t0, ErrWrongEnv},
		{"intermediate is not a leaf", "dev", l.CACert("dev"), t0, ErrMalformed},
		{"truncated", "dev", "testdata/truncated-cert.pem", t0, ErrMalformed},
		{"foreign self-signed", "dev", "testdata/private-key-in-cert-file.pem", t0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Verify(ctx, VerifyOptions{Dir: dir, Env: tt.env, File: tt.file, Now: at(tt.now)})
			if tt.want == nil {
				if err != nil || res.Identity != "spiffe://logsys.local/dev/gateway" {
					t.Fatalf("Verify = %+v, %v", res, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	ctx := context.Background()
	gw := mustCert(t, l.CertFile("dev", "gateway"))
	r, err := Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev", Serial: gw.SerialNumber, Now: at(t0.Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := r.Find("dev/crl.pem"); a.Op != OpReplaced {
		t.Fatalf("crl not re-signed: %s", r)
	}
	crl, err := readCRL(l.CRLFile("dev"), mustCert(t, l.CACert("dev")))
	if err != nil || !isRevoked(crl, gw.SerialNumber) || crl.Number.Int64() != 2 || !crl.NextUpdate.Equal(t0.Add(time.Hour+CRLLifetime)) {
		t.Fatalf("crl %+v, %v", crl, err)
	}
	r, err = Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev", Serial: gw.SerialNumber, Now: at(t0.Add(time.Hour))})
	if a, _ := r.Find("dev/crl.pem"); err != nil || a.Op != OpKept {
		t.Fatalf("second revoke: %v %s", err, r)
	}
	if _, err := Revoke(ctx, RevokeOptions{Dir: dir, Env: "dev"}); err == nil {
		t.Fatal("revoke without serial or name succeeded")
	}
	// init replaces the revoked leaf, and the new one verifies.
	r = runInit(t, dir, t0.Add(2*time.Hour))
	if a, _ := r.Find("dev/gateway/cert.pem"); a.Op != OpReplaced || a.Reason != "revoked" {
		t.Fatalf("revoked leaf not replaced: %+v", a)
	}
	if _, err := Verify(ctx, VerifyOptions{Dir: dir, Env: "dev", File: l.CertFile("dev", "gateway"), Now: at(t0.Add(2 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
}

func TestFormatSerial(t *testing.T) {
	for in, want := range map[int64]string{1: "01", 0xabc: "0ABC", 0x1234: "1234"} {
		got := FormatSerial(big.NewInt(in))
		if got != want {
			t.Errorf("FormatSerial(%d) = %s, want %s", in, got, want)
		}
		if back, err := ParseSerial(got); err != nil || back.Int64() != in {
			t.Errorf("ParseSerial(%s) = %v, %v", got, back, err)
		}
	}
}

func TestParseSerial(t *testing.T) {
	for in, ok := range map[string]bool{"4BD6B13C": true, "0x4bd6": true, "4b:d6:b1": true, "": false, "xyz": false, "0": false, "-5": false} {
		if _, err := ParseSerial(in); (err == nil) != ok {
			t.Errorf("ParseSerial(%q) error %v", in, err)
		}
	}
}
