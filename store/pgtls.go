package store

import (
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// reloadClientCert makes every new PostgreSQL connection read the client
// certificate and key named by the DSN's sslcert/sslkey again (cached until
// the files change), so a certificate rotated on disk is used without a
// restart. pgx itself reads them once, when the pool is configured.
func reloadClientCert(cc *pgconn.Config, dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil // key=value DSNs keep pgx's behaviour
	}
	certFile, keyFile := u.Query().Get("sslcert"), u.Query().Get("sslkey")
	if certFile == "" || keyFile == "" {
		return nil
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if _, err := kp.get(); err != nil {
		return err
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
	return nil
}

// keyPair caches a certificate and key by the files' modification times.
type keyPair struct {
	certFile, keyFile string
	mu                sync.Mutex
	stamp             string
	cert              *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	stamp, err := fileStamp(k.certFile, k.keyFile)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
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
