package enroll

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/internal/testutil"
	"logsys/pki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// The tests in this file run in synctest bubbles: the CA, the renewers and
// the TLS peers are real and talk TLS 1.3 over in-memory pipes, while time
// is the bubble's fake clock, so hours of certificate lifetimes take no
// wall time and every renewal happens at an exact, predictable instant.

// TestRenewsAtPlannedTimes: each renewal happens exactly at the planned
// time (2/3 of the lifetime minus the jitter draw), not a nanosecond
// earlier, and the Source serves the new certificate at once, without any
// file or poll.
func TestRenewsAtPlannedTimes(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		n := &testutil.Network{}
		serve(t, newCA(t, dir, func(c *ca.Config) { c.LeafTTL = time.Hour }), n.Listen(caAddr))
		cfg := renewerConfig(t, n, dir, "producer")
		cfg.TrustRefresh = 15 * time.Minute
		r := newRenewer(t, cfg)
		src := ensure(t, r)
		run(t, r)

		const renewals = 4
		for i := range renewals {
			cur := src.Certificate().Leaf
			at := renewalTime(cur.NotBefore, cur.NotAfter, pki.RenewFraction, DefaultJitter, 0.5)
			if life := cur.NotAfter.Sub(cur.NotBefore); at.Sub(cur.NotBefore) > life*2/3 || at.Sub(cur.NotBefore) < life*6/10 {
				t.Fatalf("renewal %d planned %v into a %v lifetime, want just before 2/3", i, at.Sub(cur.NotBefore), life)
			}
			time.Sleep(time.Until(at) - time.Nanosecond)
			synctest.Wait()
			if got := src.Certificate().Leaf; !got.Equal(cur) {
				t.Fatalf("renewal %d happened before its planned time %v", i, at)
			}
			time.Sleep(time.Nanosecond)
			synctest.Wait()
			next := src.Certificate().Leaf
			if next.Equal(cur) {
				t.Fatalf("renewal %d did not happen at its planned time %v", i, at)
			}
			if id, _ := spiffeid.FromCert(next); id.String() != "spiffe://"+testTD+"/dev/producer" {
				t.Fatalf("renewed identity %s", id)
			}
		}
		if got := counter(t, r, "logsys_enroll_certificates_total", "method", methodRenew); got != renewals {
			t.Errorf("renewals counted %v, want %d", got, renewals)
		}
		if got := counter(t, r, "logsys_enroll_certificates_total", "method", methodBootstrap); got != 1 {
			t.Errorf("bootstraps counted %v, want 1", got)
		}
		if err := r.Healthy(); err != nil {
			t.Errorf("unhealthy: %v", err)
		}
	})
}

// serials collects the certificates seen on one side of the connections.
type serials struct {
	mu   sync.Mutex
	seen map[string]*x509.Certificate
}

func (s *serials) add(c *x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]*x509.Certificate{}
	}
	s.seen[serialOf(c)] = c
}

// count returns how many distinct certificates were seen, and how many
// of them issuer signed.
func (s *serials) count(issuer *x509.Certificate) (all, byIssuer int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.seen {
		all++
		if issuer != nil && c.CheckSignatureFrom(issuer) == nil {
			byIssuer++
		}
	}
	return all, byIssuer
}

// TestRotatesUnderLoadAcrossIntermediateRollover: two enrolled roles
// (a server and a client) exchange requests every 20 s, each over a new
// mTLS connection, while their 10-minute certificates renew, and the
// operator rolls the intermediate over midway. No request fails; both
// sides go through at least 4 certificates, at least 2 from the new
// intermediate; the overlap bundle reaches the roles, and leaves them
// again once the CA retired the previous intermediate.
func TestRotatesUnderLoadAcrossIntermediateRollover(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		l := pki.Layout{Dir: dir}
		n := &testutil.Network{}
		serve(t, newCA(t, dir, func(c *ca.Config) {
			c.LeafTTL, c.PublishDelay, c.PollInterval = 10*time.Minute, 2*time.Minute, time.Minute
		}), n.Listen(caAddr))
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte(newToken(t, dir, "dev", "gateway")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		scfg := renewerConfig(t, n, dir, "producer") // trust refreshed every minute, within the publish delay
		ccfg := renewerConfig(t, n, dir, "gateway")
		ccfg.Token, ccfg.TokenFile = "", tokenFile
		serverR, clientR := newRenewer(t, scfg), newRenewer(t, ccfg)
		serverSrc, clientSrc := ensure(t, serverR), ensure(t, clientR)
		run(t, serverR)
		run(t, clientR)

		var fromServer, fromClient serials
		tcfg, err := tlsx.ServerConfig(serverSrc, tlsx.AuthorizeNames(testTD, "dev", "gateway"), tlsx.Options{})
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fromClient.add(r.TLS.PeerCertificates[0])
			_, _ = io.WriteString(w, "ok")
		})}
		ln := tlsx.NewListener(n.Listen("producer:8081"), tcfg, nil, "test", tlsx.WithLogger(testLogger(t)))
		served := make(chan error, 1)
		go func() { served <- hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close(); <-served })
		dialer, err := tlsx.NewDialer(clientSrc, tlsx.AuthorizeNames(testTD, "dev", "producer"), tlsx.Options{}, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{DisableKeepAlives: true, DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			raw, err := n.Dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			c := tls.Client(raw, dialer.Config("producer"))
			if err := c.HandshakeContext(ctx); err != nil {
				raw.Close()
				return nil, err
			}
			return c, nil
		}}
		client := &http.Client{Transport: tr, Timeout: 5 * time.Second}

		var (
			requests, failures int
			next               *x509.Certificate // the next intermediate, once rotated
			deadline           = time.Now().Add(3 * time.Hour)
			sawBundle          [2]bool
		)
		for time.Now().Before(deadline) {
			requests++
			res, err := client.Get("https://producer:8081/")
			if err == nil {
				_, err = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if err == nil && res.StatusCode != http.StatusOK {
					err = errors.New(res.Status)
				}
				if err == nil {
					fromServer.add(res.TLS.PeerCertificates[0])
				}
			}
			if err != nil {
				failures++
				t.Errorf("request %d at %v failed: %v", requests, time.Now(), err)
			}
			srvAll, srvNew := fromServer.count(next)
			cliAll, cliNew := fromClient.count(next)
			if next == nil && srvAll >= 2 && cliAll >= 2 {
				// Midway the operator rolls the dev intermediate over. The
				// CA judges the publication delay by ca.pem's mtime: set it
				// to the bubble's clock, with every other goroutine idle.
				synctest.Wait()
				if _, err := pki.Rotate(context.Background(), pki.RotateOptions{Dir: dir, Env: "dev", Intermediate: true}); err != nil {
					t.Fatalf("rotate intermediate: %v", err)
				}
				if err := os.Chtimes(l.CACert("dev"), time.Now(), time.Now()); err != nil {
					t.Fatal(err)
				}
				cur, err := pki.ReadCertificates(l.CACert("dev"))
				if err != nil {
					t.Fatal(err)
				}
				next = cur[0]
			}
			for i, r := range []*Renewer{serverR, clientR} {
				if _, err := os.Stat(pki.Layout{Dir: r.cfg.StateDir}.BundleFile("dev")); err == nil {
					sawBundle[i] = true
				}
			}
			_, err = os.Stat(l.PrevCACert("dev"))
			retired := next != nil && errors.Is(err, os.ErrNotExist)
			if retired && srvAll >= 4 && cliAll >= 4 && srvNew >= 2 && cliNew >= 2 {
				break
			}
			time.Sleep(20 * time.Second)
		}
		tr.CloseIdleConnections()
		srvAll, srvNew := fromServer.count(next)
		cliAll, cliNew := fromClient.count(next)
		t.Logf("%d requests, %d failed; server certificates %d (%d from the new intermediate), client certificates %d (%d)",
			requests, failures, srvAll, srvNew, cliAll, cliNew)
		if next == nil || srvAll < 4 || cliAll < 4 || srvNew < 2 || cliNew < 2 {
			t.Fatalf("not enough rotations in 3 hours of 10-minute certificates")
		}
		if _, err := os.Stat(l.PrevCACert("dev")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the previous intermediate was not retired within 3 hours: %v", err)
		}
		time.Sleep(2 * time.Minute) // two trust refreshes
		synctest.Wait()
		for i, r := range []*Renewer{serverR, clientR} {
			if err := r.Healthy(); err != nil {
				t.Errorf("renewer unhealthy after the run: %v", err)
			}
			if !sawBundle[i] {
				t.Errorf("the overlap bundle never reached the state of renewer %d", i)
			}
			if _, err := os.Stat(pki.Layout{Dir: r.cfg.StateDir}.BundleFile("dev")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("renewer %d still keeps the overlap bundle after the retirement: %v", i, err)
			}
		}
	})
}

// TestHealthGoesDownBeforeExpiryAndRecovers: with the CA down, renewals
// keep failing; health goes DOWN as soon as less than a sixth of the
// lifetime is left, well before expiry, and recovers with the first
// retry after the CA is back.
func TestHealthGoesDownBeforeExpiryAndRecovers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		n := &testutil.Network{}
		srv := newCA(t, dir, func(c *ca.Config) { c.LeafTTL = time.Hour })
		first := serve(t, srv, n.Listen(caAddr))
		r := newRenewer(t, renewerConfig(t, n, dir, "producer"))
		src := ensure(t, r)
		run(t, r)
		leaf := src.Certificate().Leaf
		life := leaf.NotAfter.Sub(leaf.NotBefore)

		first.stop()
		const step = time.Minute
		for r.Healthy() == nil {
			if !time.Now().Before(leaf.NotAfter) {
				t.Fatalf("still healthy at expiry %v", leaf.NotAfter)
			}
			time.Sleep(step)
			synctest.Wait()
		}
		notAfter, lastErr := r.Status()
		left := notAfter.Sub(time.Now())
		if lastErr == nil || !notAfter.Equal(leaf.NotAfter) {
			t.Fatalf("health went down with last error %v and certificate NotAfter %v: want a failing renewal of %v", lastErr, notAfter, leaf.NotAfter)
		}
		if left >= life/6 || left < life/6-step {
			t.Fatalf("health went down with %v left of %v: want it within a step of a sixth (%v)", left, life, life/6)
		}
		r.mu.Lock()
		attempts := r.failures
		r.mu.Unlock()
		if attempts < 2 {
			t.Fatalf("%d failed attempts while the CA was down, want retries", attempts)
		}

		serve(t, srv, n.Listen(caAddr))
		// The next retry comes within the largest backoff: RetryMax (1m)
		// and a tenth of the lifetime, plus 20%.
		time.Sleep(backoff(100, DefaultRetryMin, DefaultRetryMax, life, 1))
		synctest.Wait()
		if na, err := r.Status(); err != nil || !na.After(leaf.NotAfter) {
			t.Fatalf("no renewal after the CA returned: NotAfter %v, last error %v", na, err)
		}
		if err := r.Healthy(); err != nil {
			t.Fatalf("unhealthy after the CA returned: %v", err)
		}
		if got := src.Certificate().Leaf; got.Equal(leaf) {
			t.Fatal("the source still serves the old certificate")
		}
	})
}

// TestRefusesAnotherIdentity: a token for gateway given to the producer
// yields a gateway certificate, which is refused and counted; the token
// is then spent, so Ensure ends with a refusal and nothing was written.
func TestRefusesAnotherIdentity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		n := &testutil.Network{}
		serve(t, newCA(t, dir, nil), n.Listen(caAddr))
		cfg := renewerConfig(t, n, dir, "producer")
		cfg.Token = newToken(t, dir, "dev", "gateway")
		r := newRenewer(t, cfg)
		err := r.Ensure(context.Background())
		var re *RefusedError
		if !errors.As(err, &re) || re.Reason != "no_token" {
			t.Errorf("Ensure = %v, want a refusal once the only token was spent on a foreign identity", err)
		}
		if got := rejected(t, r, ReasonIdentity); got != 1 {
			t.Errorf("identity refusals counted %v, want 1", got)
		}
		if _, err := os.Stat(pki.Layout{Dir: cfg.StateDir}.CertFile("dev", "producer")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a certificate was written for a foreign identity: %v", err)
		}
		if _, err := r.NewSource(tlsx.SourceConfig{Name: "producer"}); err == nil {
			t.Error("a source was made without a certificate")
		}
	})
}

// TestRestartsFromStateDir: a second process on the same state directory
// needs neither token nor CA bundle: key (0600), certificate, trust and
// the pinned root are there, and it renews with the certificate.
func TestRestartsFromStateDir(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := newPKI(t)
		n := &testutil.Network{}
		serve(t, newCA(t, dir, func(c *ca.Config) { c.LeafTTL = time.Hour }), n.Listen(caAddr))
		cfg := renewerConfig(t, n, dir, "producer")
		first := newRenewer(t, cfg)
		was := ensure(t, first).Certificate().Leaf

		sl := pki.Layout{Dir: cfg.StateDir}
		for path, want := range map[string]os.FileMode{
			sl.KeyFile("dev", "producer"): 0o600, sl.LeafDir("dev", "producer"): 0o700 | os.ModeDir,
			sl.EnvDir("dev"): 0o700 | os.ModeDir, filepath.Join(sl.EnvDir("dev"), "root.pem"): 0o644, sl.CertFile("dev", "producer"): 0o644,
		} {
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != want {
				t.Errorf("%s has mode %v, want %v", path, got, want)
			}
		}

		cfg.Token, cfg.CABundle, cfg.Registerer = "", "", prometheus.NewRegistry()
		again := newRenewer(t, cfg)
		src, err := again.NewSource(tlsx.SourceConfig{Name: "producer"})
		if err != nil {
			t.Fatalf("restart without token or bundle: %v", err)
		}
		if !src.Certificate().Leaf.Equal(was) {
			t.Fatal("the restarted renewer holds another certificate")
		}
		run(t, again)
		time.Sleep(time.Until(was.NotAfter))
		synctest.Wait()
		if err := again.Healthy(); err != nil {
			t.Fatalf("after the first certificate's lifetime: %v", err)
		}
		if got := counter(t, again, "logsys_enroll_certificates_total", "method", methodRenew); got < 1 {
			t.Fatalf("restarted renewer did not renew (%v renewals)", got)
		}
	})
}
