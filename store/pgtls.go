package store

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// reloadClientCert makes every new PostgreSQL connection read the client
// certificate and key named by the DSN's sslcert/sslkey again (cached until
// the files change), so a certificate rotated on disk is used without a
// restart. pgx itself reads them once, when the pool is configured. It
// returns nil when the DSN names no client certificate.
func reloadClientCert(cc *pgconn.Config, dsn string) (*keyPair, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, nil // key=value DSNs keep pgx's behaviour
	}
	certFile, keyFile := u.Query().Get("sslcert"), u.Query().Get("sslkey")
	if certFile == "" || keyFile == "" {
		return nil, nil
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile, checkEvery: certCheckInterval}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	set := func(tc *tls.Config) {
		if tc == nil {
			return
		}
		tc.Certificates = nil
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get() }
	}
	set(cc.TLSConfig)
	for _, fb := range cc.Fallbacks {
		set(fb.TLSConfig)
	}
	return kp, nil
}

// certCheckInterval bounds how often the pool's hooks look at the
// certificate files (two stats).
const certCheckInterval = time.Second

const certGenKey = "logsys.client_cert_generation"

// recycle makes the pool retire connections that presented a client
// certificate since replaced on disk: an idle one is closed instead of
// being handed out (PrepareConn), a busy one when it is released
// (AfterRelease). So within certCheckInterval of a rotation every query
// runs on a connection that presented the new certificate; pgxpool's
// MaxConnLifetime (1h) bounds the rest (a connection made during the
// rotation itself).
func (k *keyPair) recycle(pc *pgxpool.Config) {
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.PgConn().CustomData()[certGenKey] = k.generation()
		return nil
	}
	current := func(c *pgx.Conn) bool {
		g, ok := c.PgConn().CustomData()[certGenKey].(uint64)
		return !ok || g == k.refresh()
	}
	pc.PrepareConn = func(_ context.Context, c *pgx.Conn) (bool, error) { return current(c), nil }
	pc.AfterRelease = current
}

// keyPair caches a certificate and key by the files' modification times;
// gen counts the pairs loaded.
type keyPair struct {
	certFile, keyFile string
	checkEvery        time.Duration
	mu                sync.Mutex
	stamp             string
	cert              *tls.Certificate
	gen               uint64
	checked           time.Time
}

func (k *keyPair) generation() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen
}

// refresh loads a rotated pair (at most every checkEvery) and returns the
// generation in use.
func (k *keyPair) refresh() uint64 {
	k.mu.Lock()
	due := time.Since(k.checked) >= k.checkEvery
	k.mu.Unlock()
	if due {
		_, _ = k.get() // a pair mid-rotation keeps the last good one
	}
	return k.generation()
}

func (k *keyPair) get() (*tls.Certificate, error) {
	stamp, err := fileStamp(k.certFile, k.keyFile)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.checked = time.Now()
	if k.cert != nil && stamp == k.stamp {
		return k.cert, nil
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if k.cert != nil {
			return k.cert, nil // mid-rotation: keep the last good pair
		}
		return nil, fmt.Errorf("postgres client certificate %s: %w", k.certFile, err)
	}
	k.cert, k.stamp = &c, stamp
	k.gen++
	return k.cert, nil
}

func fileStamp(paths ...string) (string, error) {
	s := ""
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("postgres client certificate: %w", err)
		}
		s += fmt.Sprintf("%s:%d:%d;", p, fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}
