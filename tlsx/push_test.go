package tlsx_test

import (
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

// pemOf is the material of leaf with f's dev trust bundle and CRL.
func (f *fixture) pemOf(l *testpki.Leaf) tlsx.PEM {
	return tlsx.PEM{Cert: l.CertPEM, Key: l.KeyPEM, CA: f.ca.CAPEM("dev"), CRL: f.ca.CRLPEM("dev")}
}

// pushed builds a source from leaf's material in memory; its poll
// interval is a day and its watcher never runs.
func (f *fixture) pushed(name string, l *testpki.Leaf) *tlsx.Source {
	f.t.Helper()
	src, err := tlsx.NewSourceFromPEM(tlsx.SourceConfig{Name: name, Metrics: f.m, Logger: quietLogger(), PollInterval: 24 * time.Hour}, f.pemOf(l))
	if err != nil {
		f.t.Fatalf("new pushed source %s: %v", name, err)
	}
	return src
}

// servedSerial dials addr with a new dialer from client (a full handshake,
// no session to resume) and returns the serial the server presented.
func servedSerial(t *testing.T, client *tlsx.Source, addr string) string {
	t.Helper()
	d, err := tlsx.NewDialer(client, tlsx.AuthorizeNames(td, "dev", "producer"), tlsx.Options{}, nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, cs, err := call(d, addr)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return cs.PeerCertificates[0].SerialNumber.Text(16)
}

// TestUpdateServesNewMaterialAtOnce: material pushed into a source is what
// the very next handshake presents, with no file and no poll involved, on
// a pushed source and on a file-backed one whose watcher never runs.
func TestUpdateServesNewMaterialAtOnce(t *testing.T) {
	f := newFixture(t)
	client := f.source("dev", "gateway")
	for _, tc := range []struct {
		name string
		src  func(*testpki.Leaf) *tlsx.Source
	}{
		{"pushed source", func(l *testpki.Leaf) *tlsx.Source { return f.pushed("producer", l) }},
		{"file source", func(l *testpki.Leaf) *tlsx.Source {
			f.ca.WriteLeaf(f.dir, l)
			cfg := f.sourceConfig("dev", "producer")
			cfg.Name, cfg.PollInterval = "producer-files", 24*time.Hour
			src, err := tlsx.NewSource(cfg)
			if err != nil {
				t.Fatal(err)
			}
			return src
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first := f.ca.Leaf("dev", "producer")
			src := tc.src(first)
			cfg, err := tlsx.ServerConfig(src, tlsx.AuthorizeNames(td, "dev", "gateway"), tlsx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			addr := f.serve(cfg, "push-"+tc.name)
			if got := servedSerial(t, client, addr); got != first.Serial.Text(16) {
				t.Fatalf("served %s, want the first certificate %s", got, first.Serial.Text(16))
			}
			for i := range 3 {
				next := f.ca.Leaf("dev", "producer")
				if err := src.Update(f.pemOf(next)); err != nil {
					t.Fatalf("update %d: %v", i, err)
				}
				if got := servedSerial(t, client, addr); got != next.Serial.Text(16) {
					t.Fatalf("update %d: served %s, want %s", i, got, next.Serial.Text(16))
				}
			}
		})
	}
}

// TestUpdateRefusesBadMaterial pushes every kind of broken material: each
// is refused and counted once, and the source keeps serving what it had.
func TestUpdateRefusesBadMaterial(t *testing.T) {
	f := newFixture(t)
	good := f.ca.Leaf("dev", "producer")
	src := f.pushed("producer", good)
	other := testpki.New(t, testpki.Options{Envs: []string{"dev"}})
	foreign := other.Leaf("dev", "producer")
	stranger := f.ca.Leaf("dev", "producer")
	next := f.ca.Leaf("dev", "producer")
	with := func(mod func(*tlsx.PEM)) tlsx.PEM {
		p := f.pemOf(next)
		mod(&p)
		return p
	}
	tests := []struct {
		name string
		pem  tlsx.PEM
	}{
		{"garbage certificate", with(func(p *tlsx.PEM) { p.Cert = []byte("not a certificate\n") })},
		{"key of another certificate", with(func(p *tlsx.PEM) { p.Key = stranger.KeyPEM })},
		{"certificate from another CA", with(func(p *tlsx.PEM) { p.Cert, p.Key = foreign.CertPEM, foreign.KeyPEM })},
		{"bundle of another CA (the leaf does not chain)", with(func(p *tlsx.PEM) { p.CA, p.CRL = other.CAPEM("dev"), other.CRLPEM("dev") })},
		{"certificate from another env", with(func(p *tlsx.PEM) {
			l := f.ca.Leaf("staging", "producer")
			p.Cert, p.Key = l.CertPEM, l.KeyPEM
		})},
		{"expired certificate", with(func(p *tlsx.PEM) {
			l := f.ca.Leaf("dev", "producer", testpki.Expired())
			p.Cert, p.Key = l.CertPEM, l.KeyPEM
		})},
		{"certificate without spiffe id", with(func(p *tlsx.PEM) {
			l := f.ca.Leaf("dev", "producer", testpki.NoURI())
			p.Cert, p.Key = l.CertPEM, l.KeyPEM
		})},
		{"crl from another CA", with(func(p *tlsx.PEM) { p.CRL = other.CRLPEM("dev") })},
		{"no crl", with(func(p *tlsx.PEM) { p.CRL = nil })},
		{"root as the only anchor", with(func(p *tlsx.PEM) { p.CA = f.ca.Root().PEM })},
		{"anchor from another env", with(func(p *tlsx.PEM) { p.CA = f.ca.CAPEM("staging") })},
		{"no key", with(func(p *tlsx.PEM) { p.Key = nil })},
	}
	failures := map[string]string{"source": "producer", "result": "failure"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.MetricValue(t, f.reg, reloads, failures)
			if err := src.Update(tc.pem); err == nil {
				t.Fatal("update accepted broken material")
			}
			if got := src.Certificate().Leaf.SerialNumber; got.Cmp(good.Serial) != 0 {
				t.Fatalf("serial changed to %x after a refused update", got)
			}
			if got := testutil.MetricValue(t, f.reg, reloads, failures); got != before+1 {
				t.Fatalf("failures = %v, want %v", got, before+1)
			}
		})
	}
	if err := src.Update(f.pemOf(next)); err != nil {
		t.Fatalf("good material after the refusals: %v", err)
	}
	if got := src.Certificate().Leaf.SerialNumber; got.Cmp(next.Serial) != 0 {
		t.Fatalf("serial %x after a good update, want %x", got, next.Serial)
	}
}

func TestNewSourceFromPEMRefusesIncompleteConfig(t *testing.T) {
	f := newFixture(t)
	l := f.ca.Leaf("dev", "producer")
	noCRL := f.pemOf(l)
	noCRL.CRL = nil
	tests := []struct {
		name string
		cfg  tlsx.SourceConfig
		pem  tlsx.PEM
	}{
		{"no name", tlsx.SourceConfig{}, f.pemOf(l)},
		{"files set", tlsx.SourceConfig{Name: "producer", CertFile: "cert.pem"}, f.pemOf(l)},
		{"no crl", tlsx.SourceConfig{Name: "producer"}, noCRL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tlsx.NewSourceFromPEM(tc.cfg, tc.pem); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	src := f.pushed("producer", l)
	if err := src.Reload(); err == nil {
		t.Error("Reload of a pushed source succeeded; it has no files")
	}
}
