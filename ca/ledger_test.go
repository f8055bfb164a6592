package ca

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/internal/testutil"
	"logsys/pki"
)

func TestLedgerRecordsEveryCertificateBeforeReturningIt(t *testing.T) {
	dir := newPKI(t)
	_, caURL := startCA(t, dir, "dev", nil)
	e := newEnrollee(t, caURL, dir, "dev")
	tok := newToken(t, dir, "dev", "producer", nil)
	b0 := e.mustObtain(t, tok, nil)
	r1 := e.mustObtain(t, "", b0)
	recs := ledgerRecords(t, dir, "dev")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(recs), recs)
	}
	inter, _ := pki.ReadCertificates(pki.Layout{Dir: dir}.CACert("dev"))
	for i, c := range []*tls.Certificate{b0, r1} {
		r := recs[i]
		want := issuedRecord(r.At, r.Method, c.Leaf, inter[0])
		want.Parent, want.Token = r.Parent, r.Token
		if !reflect.DeepEqual(r, want) {
			t.Errorf("record %d = %+v, want %+v", i, r, want)
		}
	}
	if recs[0].Method != MethodBootstrap || recs[0].Token != tokenHash(tok) || recs[0].Parent != "" {
		t.Errorf("bootstrap record %+v: want the token's hash as its origin", recs[0])
	}
	if recs[1].Method != MethodRenew || recs[1].Parent != serial(b0) || recs[1].Token != "" {
		t.Errorf("renewal record %+v: want parent %s", recs[1], serial(b0))
	}
	ix := ledgerIndex(t, dir)
	if ids := ix.LiveIdentities(r1.Leaf.NotAfter.Add(-time.Second)); len(ids) != 1 || ids[0] != "spiffe://"+testTD+"/dev/producer" {
		t.Errorf("live identities %v", ids)
	}
	if ids := ix.LiveIdentities(r1.Leaf.NotAfter); len(ids) != 0 {
		t.Errorf("live identities after expiry %v", ids)
	}
	if live := ix.Live("spiffe://"+testTD+"/dev/producer", b0.Leaf.NotAfter.Add(-time.Second)); len(live) != 2 {
		t.Errorf("%d live certificates, want 2", len(live))
	}
	path := pki.Layout{Dir: dir}.Ledger("dev")
	if perm := fileMode(t, path); perm != pki.SecretPerm {
		t.Errorf("ledger mode %04o, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(tok)) {
		t.Error("the ledger holds the token itself")
	}
}

// TestConcurrentRenewalsLeaveAConsistentLedger: 20 renewals at once from
// 4 certificates. Every returned serial is recorded exactly once with
// the certificate it was renewed from, nothing else is recorded, and a
// restarted CA reads the same ledger.
func TestConcurrentRenewalsLeaveAConsistentLedger(t *testing.T) {
	dir := newPKI(t)
	_, caURL := startCA(t, dir, "dev", nil)
	e := newEnrollee(t, caURL, dir, "dev")
	const parents, renewals = 4, 20
	var base []*tls.Certificate
	for range parents {
		base = append(base, e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil))
	}
	type result struct {
		parent string
		cert   *tls.Certificate
		err    error
	}
	results := make(chan result, renewals)
	var wg sync.WaitGroup
	for i := range renewals {
		wg.Go(func() {
			p := base[i%parents]
			c, err := e.obtain("", p)
			results <- result{serial(p), c, err}
		})
	}
	wg.Wait()
	close(results)

	recs := ledgerRecords(t, dir, "dev")
	bySerial := map[string][]Record{}
	for _, r := range recs {
		bySerial[r.Serial] = append(bySerial[r.Serial], r)
	}
	failed, wrong := 0, 0
	for res := range results {
		if res.err != nil {
			failed++
			t.Errorf("renewal from %s: %v", res.parent, res.err)
			continue
		}
		got := bySerial[serial(res.cert)]
		if len(got) != 1 || got[0].Parent != res.parent || !got[0].NotAfter.Equal(res.cert.Leaf.NotAfter) {
			wrong++
			t.Errorf("returned serial %s recorded as %+v, want once with parent %s", serial(res.cert), got, res.parent)
		}
	}
	if failed+wrong != 0 || len(recs) != parents+renewals {
		t.Fatalf("%d renewals failed, %d recorded wrongly; %d records, want %d", failed, wrong, len(recs), parents+renewals)
	}
	srv2, err := New(Config{Dir: dir, Env: "dev", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv2.ledger.View(func(ix *Index) {
		if ix.Len() != parents+renewals {
			t.Errorf("restarted CA reads %d records, want %d", ix.Len(), parents+renewals)
		}
	})
}

// A crash while a record was written leaves a torn last line. The next
// start removes it, says so in the log and a metric, keeps every whole
// record, and appends after them; a damaged line elsewhere is no crash
// and stops the CA with an error naming the line.
func TestTornLedgerLineIsToleratedAndReported(t *testing.T) {
	dir := newPKI(t)
	_, caURL := startCA(t, dir, "dev", nil)
	e := newEnrollee(t, caURL, dir, "dev")
	var certs []*tls.Certificate
	for range 3 {
		certs = append(certs, e.mustObtain(t, newToken(t, dir, "dev", "producer", nil), nil))
	}
	path := pki.Layout{Dir: dir}.Ledger("dev")
	const torn = `{"v":1,"kind":"issued","at":"2030-01-01T00:00:00Z","serial":"7F3`
	appendRaw(t, path, torn)

	// A reader beside a running CA tolerates the tail without touching it.
	if ix, rep, err := ReadLedger(dir, "dev"); err != nil || ix.Len() != 3 || rep.Torn != len(torn) {
		t.Fatalf("read with a torn tail: %v, %d records, report %+v", err, ix.Len(), rep)
	}
	reg := prometheus.NewRegistry()
	srv2, url2 := startCA(t, dir, "dev", func(c *Config) { c.Registerer = reg })
	if got := testutil.CounterValue(srv2.m.torn.WithLabelValues("dev")); got != 1 {
		t.Errorf("ledger_torn_total = %v, want 1", got)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(torn)) || !bytes.HasSuffix(data, []byte("\n")) {
		t.Fatalf("the torn line is still in the ledger:\n%s", data)
	}
	// The restarted CA keeps the lineage of what was issued before.
	e2 := newEnrollee(t, url2, dir, "dev")
	r := e2.mustObtain(t, "", certs[0])
	recs := ledgerRecords(t, dir, "dev")
	if len(recs) != 4 || recs[3].Serial != serial(r) || recs[3].Parent != serial(certs[0]) {
		t.Fatalf("after restart: %+v", recs)
	}

	lines := strings.SplitAfter(string(data), "\n")
	damaged := lines[0] + "{\"v\":1,\"kind\":\"issued\",\"serial\":\n" + strings.Join(lines[1:], "")
	if err := os.WriteFile(path, []byte(damaged), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: dir, Env: "dev", Logger: testLogger(t)}); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("start with a damaged record on line 2: %v, want an error naming it", err)
	}
}

// A certificate whose record cannot be written is not returned.
func TestUnrecordedCertificateIsNotReturned(t *testing.T) {
	dir := newPKI(t)
	srv, caURL := startCA(t, dir, "dev", nil)
	e := newEnrollee(t, caURL, dir, "dev")
	path := pki.Layout{Dir: dir}.Ledger("dev")
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // the ledger cannot be appended to
		t.Fatal(err)
	}
	_, err := e.obtain(newToken(t, dir, "dev", "producer", nil), nil)
	if re, ok := err.(*refusedErr); !ok || re.status != 500 || re.reason != string(ReasonInternal) {
		t.Fatalf("bootstrap with an unwritable ledger: %v, want 500 internal and no certificate", err)
	}
	if got := testutil.CounterValue(srv.m.issued.WithLabelValues("dev", "producer", MethodBootstrap)); got != 0 {
		t.Errorf("issued_total = %v, want 0", got)
	}
}

func TestLedgerRefusesRecordsItCannotTrust(t *testing.T) {
	good := Record{V: 1, Kind: KindIssued, Serial: "0A", Identity: "spiffe://logsys.local/dev/producer", Method: MethodRenew,
		Parent: "09", IssuerSerial: "01", IssuerSHA256: "00", NotAfter: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	tests := map[string]func(r *Record){
		"newer version":          func(r *Record) { r.V = LedgerVersion + 1 },
		"bad serial":             func(r *Record) { r.Serial = "zz" },
		"non-canonical identity": func(r *Record) { r.Identity = "spiffe://logsys.local/dev/%70roducer" },
		"renewal without parent": func(r *Record) { r.Parent = "" },
		"bootstrap w/o token":    func(r *Record) { r.Method, r.Parent = MethodBootstrap, "" },
		"unknown method":         func(r *Record) { r.Method = "magic" },
		"no not_after":           func(r *Record) { r.NotAfter = time.Time{} },
	}
	for name, mod := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r := good
			mod(&r)
			line, _ := json.Marshal(r)
			writeLedger(t, dir, string(line)+"\n")
			if _, _, err := ReadLedger(dir, "dev"); err == nil || !strings.Contains(err.Error(), "line 1") {
				t.Errorf("read: %v, want an error naming line 1", err)
			}
		})
	}
	t.Run("duplicate serial", func(t *testing.T) {
		dir := t.TempDir()
		line, _ := json.Marshal(good)
		writeLedger(t, dir, string(line)+"\n"+string(line)+"\n")
		if _, _, err := ReadLedger(dir, "dev"); err == nil || !strings.Contains(err.Error(), "line 2") {
			t.Errorf("read: %v, want an error naming line 2", err)
		}
	})
	t.Run("unknown kinds are skipped", func(t *testing.T) {
		dir := t.TempDir()
		line, _ := json.Marshal(good)
		writeLedger(t, dir, `{"v":1,"kind":"anchors","identity":"spiffe://logsys.local/dev/producer"}`+"\n"+string(line)+"\n")
		ix, rep, err := ReadLedger(dir, "dev")
		if err != nil || ix.Len() != 1 || rep.Skipped != 1 {
			t.Errorf("read: %v, %d records, %+v", err, ix.Len(), rep)
		}
	})
}

func writeLedger(t *testing.T, dir, text string) {
	t.Helper()
	path := pki.Layout{Dir: dir}.Ledger("dev")
	if err := os.MkdirAll(pki.Layout{Dir: dir}.EnvDir("dev"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkLedgerAppend measures one durable record (a write and an
// fsync): every issuance waits for one.
func BenchmarkLedgerAppend(b *testing.B) {
	dir := b.TempDir()
	lg, _, err := OpenLedger(dir, "dev")
	if err != nil {
		b.Fatal(err)
	}
	rec := Record{V: LedgerVersion, Kind: KindIssued, Identity: "spiffe://logsys.local/dev/producer", Method: MethodRenew,
		Parent: "0A", IssuerSerial: "01", IssuerSHA256: strings.Repeat("ab", 32), NotAfter: time.Now().Add(time.Hour)}
	b.ResetTimer()
	for i := range b.N {
		rec.Serial = fmt.Sprintf("%032X", i+1)
		if err := lg.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}
