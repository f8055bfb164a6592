package it

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"logsys/pki"
)

// oldCertLife is how long the certificates that get rotated away stay
// valid after they are issued: long enough to start the pipeline and
// rotate, short enough to wait for their expiry.
const oldCertLife = 50 * time.Second

// TestPipelineCertRotation re-issues the producer's and the consumer's
// certificates on disk while events flow, and shows that the roles'
// connections to the real broker made afterwards present the new ones,
// without restarting a role:
//
//  1. the certificates being replaced are issued to expire oldCertLife
//     after the start, and the broker is shown to accept them first;
//  2. `pki.Rotate` replaces them; each role's health reports the new
//     serial (its source reloaded);
//  3. after the old certificates expired, the broker refuses them (so a
//     connection presenting one cannot succeed), then every broker is
//     restarted: each client connection is dialed again with a full
//     handshake (the brokers' session-ticket keys are new);
//  4. events keep flowing: every request is answered 202, every accepted
//     event is stored once, and the roles' full client handshakes with
//     the brokers went up.
//
// The store connects as the gateway here: pgx reads the DSN's client
// certificate once, so the consumer's PostgreSQL connections would not
// follow a rotation of the consumer's files.
func TestPipelineCertRotation(t *testing.T) {
	c := cluster(t)
	dsn := dsnAs(t, pgDSN(t), c, "gateway")
	names := []string{"producer", "consumer"}
	expiry := time.Now().Add(oldCertLife)
	for _, name := range names {
		issueExpiring(t, c, name, expiry)
	}
	t.Cleanup(func() {
		for _, name := range names { // leave full-length certificates behind
			if _, err := pki.Issue(context.Background(), pki.IssueOptions{Dir: c.PKI, Env: c.Env, Name: name}); err != nil {
				t.Errorf("re-issue %s: %v", name, err)
			}
		}
	})
	old := map[string]string{}
	for _, name := range names {
		old[name] = saveLeaf(t, c, name)
		requireBrokersAccept(t, c, old[name], true)
	}

	p := startPipe(t, c, pipeOptions{storeDSN: dsn, forwardTimeout: time.Minute})
	s := startSending(t, p, 2, 25*time.Millisecond)
	s.waitAccepted(t, 100)
	scraper := httpsClient(t, c, "prometheus", 10*time.Second)
	addrs := map[string]string{"producer": p.producer.Addr(), "consumer": p.consumer("c1").Addr()}

	for _, name := range names {
		if _, err := pki.Rotate(timeout(t, time.Minute), pki.RotateOptions{Dir: c.PKI, Env: c.Env, Name: name}); err != nil {
			t.Fatalf("rotate %s: %v", name, err)
		}
		serial := leafSerial(t, filepath.Join(c.PKI, c.Env, name, "cert.pem"))
		waitServing(t, scraper, addrs[name], serial)
		t.Logf("%s: reloaded certificate %s, no restart", name, serial)
	}
	s.waitAccepted(t, s.count()+100)

	time.Sleep(time.Until(expiry) + 2*time.Second)
	for _, name := range names {
		requireBrokersAccept(t, c, old[name], false)
	}
	full, resumed := map[string]float64{}, map[string]float64{}
	for _, name := range names {
		full[name] = handshakes(t, scraper, addrs[name], name+"->kafka", "false")
		resumed[name] = handshakes(t, scraper, addrs[name], name+"->kafka", "true")
	}
	ctl(t, c, "restart")
	s.waitAccepted(t, s.count()+200)
	for _, name := range names {
		after := handshakes(t, scraper, addrs[name], name+"->kafka", "false")
		if after <= full[name] {
			t.Errorf("%s: no full handshake with a broker after the restart (%v before, %v after)", name, full[name], after)
		}
		t.Logf("%s->kafka after the restart: %v full handshakes, %v resumed", name, after-full[name],
			handshakes(t, scraper, addrs[name], name+"->kafka", "true")-resumed[name])
	}
	requireStoredOnce(t, dsn, s, s.stop(t))
}

// issueExpiring issues env/name anew so that it expires at notAfter (a
// full TTL ending then, as if issued an hour ago).
func issueExpiring(t *testing.T, c Cluster, name string, notAfter time.Time) {
	t.Helper()
	ttl := pki.MinLeafTTL
	_, err := pki.Issue(timeout(t, time.Minute), pki.IssueOptions{
		Dir: c.PKI, Env: c.Env, Name: name, TTL: ttl,
		Now: func() time.Time { return notAfter.Add(-ttl) },
	})
	if err != nil {
		t.Fatalf("issue expiring %s: %v", name, err)
	}
}

// saveLeaf copies env/name's certificate and key into a test directory
// (0600) and returns it.
func saveLeaf(t *testing.T, c Cluster, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cert.pem", "key.pem"} {
		b, err := os.ReadFile(filepath.Join(c.PKI, c.Env, name, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// requireBrokersAccept probes every broker with the certificate saved in
// dir: the TLS layer must accept it (want) or refuse it with an alert.
func requireBrokersAccept(t *testing.T, c Cluster, dir string, want bool) {
	t.Helper()
	// A saved leaf is loaded through a throw-away PKI-shaped directory.
	fake := t.TempDir()
	envDir := filepath.Join(fake, c.Env)
	if err := os.MkdirAll(envDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(c.PKI, c.Env, "ca.pem"), filepath.Join(envDir, "ca.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(envDir, "leaf")); err != nil {
		t.Fatal(err)
	}
	cfg, err := RawClientTLS(fake, c.Env, c.Env, "leaf")
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range c.Brokers {
		err := apiVersions(addr, cfg)
		switch {
		case want && err != nil:
			t.Fatalf("%s refused %s: %v", addr, filepath.Base(dir), err)
		case !want && !isTLSRefusal(err):
			t.Fatalf("%s: want a TLS alert for the expired %s certificate, got %v", addr, filepath.Base(dir), err)
		case !want:
			t.Logf("%s refuses the expired %s certificate: %v", addr, filepath.Base(dir), err)
		}
	}
}

// leafSerial returns the hex serial of the first certificate in path, as
// the roles' health view prints it.
func leafSerial(t *testing.T, path string) string {
	t.Helper()
	certs, err := pki.ReadCertificates(path)
	if err != nil {
		t.Fatal(err)
	}
	return serialHex(certs[0])
}

func serialHex(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }

// waitServing waits until the role at addr reports serial as its leaf.
func waitServing(t *testing.T, cl *http.Client, addr, serial string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []string
	for time.Now().Before(deadline) {
		last = last[:0]
		resp, err := cl.Get("https://" + addr + "/readyz")
		if err == nil {
			var h struct {
				Certificates []struct{ Kind, Serial string } `json:"certificates"`
			}
			err = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			for _, c := range h.Certificates {
				if c.Kind == "leaf" {
					last = append(last, c.Serial)
					if c.Serial == serial {
						return
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s still serves leaf %v, want %s", addr, last, serial)
}

// handshakes reads the count of successful client handshakes of listener
// (resumed "true" or "false") from the role's /metrics.
func handshakes(t *testing.T, cl *http.Client, addr, listener, resumed string) float64 {
	t.Helper()
	resp, err := cl.Get("https://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: HTTP %d", addr, resp.StatusCode)
	}
	want := map[string]string{"side": "client", "listener": listener, "resumed": resumed}
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "logsys_tls_handshake_duration_seconds_count{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || !labelsAre(labels, want) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sum
}

// labelsAre reports whether the exposition labels a="x",b="y" include want.
func labelsAre(labels string, want map[string]string) bool {
	for k, v := range want {
		if !strings.Contains(","+labels+",", fmt.Sprintf(",%s=%q,", k, v)) {
			return false
		}
	}
	return true
}

// dsnAs returns dsn with env/name's client certificate and key.
func dsnAs(t *testing.T, dsn string, c Cluster, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s is not a URL", EnvPG)
	}
	q := u.Query()
	q.Set("sslcert", filepath.Join(c.PKI, c.Env, name, "cert.pem"))
	q.Set("sslkey", filepath.Join(c.PKI, c.Env, name, "key.pem"))
	u.RawQuery = q.Encode()
	return u.String()
}
