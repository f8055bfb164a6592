package pki

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"logsys/internal/testutil"
)

func TestInitIdempotent(t *testing.T) {
	dir := newPKI(t, []string{"dev", "prod"}, []string{"gateway", "client"})
	l := Layout{Dir: dir}
	before, err := os.ReadFile(l.CertFile("dev", "gateway"))
	if err != nil {
		t.Fatal(err)
	}
	r := runInit(t, dir, t0.Add(time.Hour))
	if n := r.Count(OpCreated) + r.Count(OpReplaced) + r.Count(OpRemoved); n != 0 {
		t.Fatalf("second init changed %d files:\n%s", n, r)
	}
	// root cert, key and crl + per env (ca, ca-key, chain, crl) + per leaf 7 files, + meta
	if want := 3 + 2*4 + 2*2*7 + 1; r.Count(OpKept) != want {
		t.Fatalf("kept %d files, want %d:\n%s", r.Count(OpKept), want, r)
	}
	after, _ := os.ReadFile(l.CertFile("dev", "gateway"))
	if string(before) != string(after) {
		t.Fatal("second init rewrote a valid certificate")
	}
}

func TestInitFillsAndReplaces(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, l Layout)
		now    time.Time
		path   string // relative path whose action is checked
		op     Op
		reason string // substring
	}{
		{"missing keystore", func(t *testing.T, l Layout) { os.Remove(l.KeystoreJKS("dev", "gateway")) },
			t0, "dev/gateway/keystore.jks", OpCreated, ""},
		{"missing leaf dir", func(t *testing.T, l Layout) { os.RemoveAll(l.LeafDir("dev", "client")) },
			t0, "dev/client/cert.pem", OpCreated, ""},
		{"missing chain", func(t *testing.T, l Layout) { os.Remove(l.ChainFile("dev")) },
			t0, "dev/ca-chain.pem", OpCreated, ""},
		{"edited chain", func(t *testing.T, l Layout) { testutil.CopyFile(t, l.RootCert(), l.ChainFile("dev")) },
			t0, "dev/ca-chain.pem", OpReplaced, "did not hold"},
		{"missing leaf key", func(t *testing.T, l Layout) { os.Remove(l.KeyFile("dev", "gateway")) },
			t0, "dev/gateway/cert.pem", OpReplaced, "key.pem missing"},
		{"leaf past two thirds", nil, t0.Add(21 * 24 * time.Hour), "dev/gateway/cert.pem", OpReplaced, "lifetime"},
		{"leaf just before two thirds", nil, t0.Add(20*24*time.Hour - time.Hour), "dev/gateway/cert.pem", OpKept, ""},
		{"leaf expired", nil, t0.Add(31 * 24 * time.Hour), "dev/gateway/cert.pem", OpReplaced, "expired"},
		{"crl at half life", nil, t0.Add(CRLLifetime / 2), "dev/crl.pem", OpReplaced, "nextUpdate"},
		{"crl fresh", nil, t0.Add(CRLLifetime/2 - time.Minute), "dev/crl.pem", OpKept, ""},
		{"intermediate expired", nil, t0.AddDate(1, 0, 1), "dev/ca.pem", OpReplaced, "expired"},
		{"intermediate near end", nil, t0.AddDate(0, 9, 0), "dev/ca.pem", OpKept, "rotate --intermediate"},
		{"loose key permissions", func(t *testing.T, l Layout) { os.Chmod(l.KeyFile("dev", "gateway"), 0o644) },
			t0, "dev/gateway/key.pem", OpKept, "permissions tightened"},
		{"unreadable store.pass", func(t *testing.T, l Layout) { os.WriteFile(l.PassFile("dev", "gateway"), []byte("x"), 0o600) },
			t0, "dev/gateway/truststore.p12", OpReplaced, "store.pass changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newPKI(t, []string{"dev"}, []string{"gateway", "client"})
			if tt.change != nil {
				tt.change(t, Layout{Dir: dir})
			}
			r := runInit(t, dir, tt.now)
			a, ok := r.Find(tt.path)
			if !ok || a.Op != tt.op || !strings.Contains(a.Reason, tt.reason) {
				t.Fatalf("%s: got %+v (found %v), want %s (%s)\n%s", tt.path, a, ok, tt.op, tt.reason, r)
			}
			if again := runInit(t, dir, tt.now); again.Count(OpCreated)+again.Count(OpReplaced) != 0 {
				t.Fatalf("third init still changes files:\n%s", again)
			}
			if _, err := Verify(context.Background(), VerifyOptions{Dir: dir, Env: "dev", File: Layout{Dir: dir}.CertFile("dev", "gateway"), Now: at(tt.now)}); err != nil {
				t.Fatalf("leaf does not verify after init: %v", err)
			}
		})
	}
}

func TestInitOfflineRootKey(t *testing.T) {
	base := t.TempDir()
	dir, rootKey := filepath.Join(base, "pki"), filepath.Join(base, "offline", "root-key.pem")
	ctx := context.Background()
	if _, err := Init(ctx, InitOptions{Dir: dir, Envs: []string{"dev"}, Names: []string{"gateway"}, RootKeyPath: rootKey, Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	l := Layout{Dir: dir}
	if exists(l.RootKey()) {
		t.Fatal("root key written into the PKI directory despite RootKeyPath")
	}
	if fi, err := os.Stat(rootKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("offline root key: %v %v", fi, err)
	}
	// Leaves renew without the root key.
	r, err := Init(ctx, InitOptions{Dir: dir, Now: at(t0.Add(25 * 24 * time.Hour))})
	if err != nil {
		t.Fatalf("init without root key: %v", err)
	}
	if a, _ := r.Find("dev/gateway/cert.pem"); a.Op != OpReplaced {
		t.Fatalf("leaf not renewed: %+v", a)
	}
	// A new environment needs it.
	_, err = Init(ctx, InitOptions{Dir: dir, Envs: []string{"prod"}, Now: at(t0)})
	if !errors.Is(err, ErrRootKeyNeeded) {
		t.Fatalf("new env without root key: %v, want ErrRootKeyNeeded", err)
	}
	if _, err := Init(ctx, InitOptions{Dir: dir, Envs: []string{"prod"}, RootKeyPath: rootKey, Now: at(t0)}); err != nil {
		t.Fatalf("new env with root key: %v", err)
	}
	m, err := ReadMeta(dir)
	if err != nil || !slices.Equal(m.Envs, []string{"dev", "prod"}) {
		t.Fatalf("meta envs = %v, %v", m.Envs, err)
	}
}

func TestInitOptionsRejected(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	tests := []InitOptions{
		{Dir: dir, TrustDomain: "other.example"},
		{Dir: dir, Envs: []string{"Dev"}},
		{Dir: dir, Envs: []string{"root"}},
		{Dir: dir, Names: []string{"a/b"}},
		{Dir: dir, LeafTTL: time.Minute},
		{Dir: dir, KeyType: "dsa"},
		{Dir: ""},
	}
	for _, o := range tests {
		o.Now = at(t0)
		if _, err := Init(context.Background(), o); err == nil {
			t.Errorf("Init(%+v) succeeded", o)
		}
	}
}

func TestInitRecordsTrustDomainAndHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	_, err := Init(context.Background(), InitOptions{Dir: dir, TrustDomain: "corp.example", Envs: []string{"dev"},
		Names: []string{"gateway"}, Hosts: []string{"gw.corp.example", "10.1.2.3"}, LeafTTL: 2 * time.Hour, Now: at(t0)})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCert(t, Layout{Dir: dir}.CertFile("dev", "gateway"))
	if got := c.URIs[0].String(); got != "spiffe://corp.example/dev/gateway" {
		t.Fatalf("identity %s", got)
	}
	if !slices.Contains(c.DNSNames, "gw.corp.example") || len(c.IPAddresses) != 3 {
		t.Fatalf("SANs %v %v", c.DNSNames, c.IPAddresses)
	}
	if d := c.NotAfter.Sub(t0); d != 2*time.Hour {
		t.Fatalf("ttl %v", d)
	}
	// Later commands take the trust domain from pki.json.
	if _, err := Issue(context.Background(), IssueOptions{Dir: dir, Env: "dev", Name: "extra", Now: at(t0)}); err != nil {
		t.Fatal(err)
	}
	if got := mustCert(t, Layout{Dir: dir}.CertFile("dev", "extra")).URIs[0].String(); got != "spiffe://corp.example/dev/extra" {
		t.Fatalf("issued identity %s", got)
	}
}

func TestInitDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	r, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(t0)})
	if err != nil {
		t.Fatal(err)
	}
	l := Layout{Dir: dir}
	for _, env := range DefaultEnvs {
		names, err := leafNames(l, env)
		if err != nil || !slices.Equal(names, slices.Sorted(slices.Values(DefaultNames))) {
			t.Fatalf("%s leaves %v, %v", env, names, err)
		}
	}
	if r.Count(OpCreated) != 3+3*4+3*len(DefaultNames)*7+1 {
		t.Fatalf("created %d files", r.Count(OpCreated))
	}
	m, err := ReadMeta(dir)
	if err != nil || m.TrustDomain != DefaultTrustDomain || m.KeyType != KeyECDSAP256 || m.LeafTTL != "720h0m0s" {
		t.Fatalf("meta %+v, %v", m, err)
	}
}

func TestRootCRL(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"client"})
	l := Layout{Dir: dir}
	root, err := readRoot(l)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := readCRL(l.RootCRL(), root)
	if err != nil {
		t.Fatalf("root crl: %v", err)
	}
	if got := crl.NextUpdate.Sub(crl.ThisUpdate); got != RootCRLLifetime {
		t.Fatalf("root crl lifetime %v, want %v", got, RootCRLLifetime)
	}
	// Past half its life it is re-signed with a higher number.
	r := runInit(t, dir, t0.Add(RootCRLLifetime/2+time.Hour))
	if a, ok := r.Find("root/crl.pem"); !ok || a.Op != OpReplaced {
		t.Fatalf("root crl at half life: %+v", a)
	}
	next, err := readCRL(l.RootCRL(), root)
	if err != nil || next.Number.Cmp(crl.Number) <= 0 {
		t.Fatalf("re-signed root crl number %v (was %v), %v", next.Number, crl.Number, err)
	}
}
