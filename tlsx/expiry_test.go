package tlsx_test

import (
	"strings"
	"testing"
	"time"

	"logsys/internal/testpki"
	"logsys/internal/testutil"
	"logsys/tlsx"
)

func TestExpiryStatus(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	leaf := tlsx.CertInfo{Source: "gw", Kind: tlsx.KindLeaf, Identity: "spiffe://logsys.local/dev/gateway", Serial: "01", NotAfter: now.Add(48 * time.Hour)}
	anchor := tlsx.CertInfo{Source: "gw", Kind: tlsx.KindAnchor, Subject: "CN=dev intermediate", Serial: "02", NotAfter: now.Add(300 * 24 * time.Hour)}
	tests := []struct {
		name      string
		infos     []tlsx.CertInfo
		threshold time.Duration
		wantOK    bool
		wantIn    string
	}{
		{"all fresh", []tlsx.CertInfo{leaf, anchor}, 24 * time.Hour, true, ""},
		{"leaf within threshold", []tlsx.CertInfo{leaf, anchor}, 72 * time.Hour, false, "spiffe://logsys.local/dev/gateway (serial 01) expires in 48h0m0s"},
		{"exactly at threshold is ok", []tlsx.CertInfo{leaf}, 48 * time.Hour, true, ""},
		{"expired", []tlsx.CertInfo{{Source: "gw", Kind: tlsx.KindLeaf, Identity: "x", NotAfter: now}}, time.Hour, false, "expired at 2030-01-01T00:00:00Z"},
		{"empty", nil, time.Hour, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, reasons := tlsx.ExpiryStatus(tc.infos, now, tc.threshold)
			if ok != tc.wantOK || ok != (len(reasons) == 0) {
				t.Fatalf("ok = %v reasons = %v, want ok %v", ok, reasons, tc.wantOK)
			}
			if tc.wantIn != "" && !strings.Contains(strings.Join(reasons, "\n"), tc.wantIn) {
				t.Fatalf("reasons %v do not mention %q", reasons, tc.wantIn)
			}
		})
	}
}

func TestSourceExpiryViews(t *testing.T) {
	f := newFixture(t)
	now := f.ca.Now()
	f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "gateway", testpki.ValidFor(6*time.Hour)))
	cfg := f.sourceConfig("dev", "gateway")
	cfg.Now = func() time.Time { return now }
	src, err := tlsx.NewSource(cfg)
	if err != nil {
		t.Fatal(err)
	}
	infos := src.Certificates()
	if len(infos) != 2 || infos[0].Kind != tlsx.KindLeaf || infos[1].Kind != tlsx.KindAnchor {
		t.Fatalf("infos = %+v, want leaf then one anchor (no root)", infos)
	}
	if infos[0].Identity != "spiffe://logsys.local/dev/gateway" || infos[0].Source != "gateway" || infos[0].Serial == "" {
		t.Fatalf("leaf info = %+v", infos[0])
	}
	if soon, first := src.ExpiresWithin(7 * time.Hour); !soon || first.Kind != tlsx.KindLeaf {
		t.Fatalf("ExpiresWithin(7h) = %v, %+v", soon, first)
	}
	if soon, _ := src.ExpiresWithin(5 * time.Hour); soon {
		t.Fatal("ExpiresWithin(5h) true for a leaf valid 6h")
	}

	leaf := map[string]string{"source": "gateway", "kind": "leaf", "identity_or_subject": "spiffe://logsys.local/dev/gateway", "serial": infos[0].Serial}
	// Certificates store whole seconds, so the gauge is within 1s of 6h.
	want := infos[0].NotAfter.Sub(now).Seconds()
	if got := testutil.MetricValue(t, f.reg, "logsys_tls_certificate_expiry_seconds", leaf); got != want || got <= (6*time.Hour-time.Second).Seconds() {
		t.Fatalf("expiry gauge = %v, want %v (about 6h)", got, want)
	}
	anchor := map[string]string{"source": "gateway", "kind": "anchor", "identity_or_subject": infos[1].Subject}
	if got := testutil.MetricValue(t, f.reg, "logsys_tls_certificate_expiry_seconds", anchor); got <= 0 {
		t.Fatalf("anchor expiry gauge = %v", got)
	}
	f.m.RemoveSource(src)
	if got := testutil.MetricValue(t, f.reg, "logsys_tls_certificate_expiry_seconds", leaf); got != 0 {
		t.Fatalf("gauge still exported after RemoveSource: %v", got)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *tlsx.Metrics
	m.ObserveHandshake(tlsx.SideServer, "x", false, time.Millisecond)
	m.HandshakeFailed(tlsx.SideClient, "x", tlsx.ReasonOther)
	m.RemoveSource(nil)

	f := newFixture(t)
	f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "producer"))
	f.ca.WriteLeaf(f.dir, f.ca.Leaf("dev", "gateway"))
	srcCfg := tlsx.LayoutSource(f.dir, "dev", "producer")
	srcCfg.Logger = quietLogger()
	producer, err := tlsx.NewSource(srcCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := producer.Reload(); err != nil {
		t.Fatal(err)
	}
	cfg := mustServerConfig(t, producer, tlsx.AuthorizeAny(), tlsx.Options{})
	inner := f.serveWith(cfg, nil)
	d, err := tlsx.NewDialer(f.load("dev", "gateway"), tlsx.AuthorizeAny(), tlsx.Options{}, nil, "gw")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := call(d, inner); err != nil {
		t.Fatalf("call without metrics: %v", err)
	}
}
