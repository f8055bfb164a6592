package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"logsys/tlsx"
)

// hsResult is the server-side CPU cost of handshakes of one kind.
type hsResult struct {
	count, resumed int
	cpu            time.Duration // server CPU, summed
	failed         int
	firstErr       string
}

func (r hsResult) perHandshake() time.Duration {
	if r.count == 0 {
		return 0
	}
	return r.cpu / time.Duration(r.count)
}

// productServerTLS is the gateway's server configuration as the product
// builds it (tlsx.ServerConfig over the PKI files: reloadable source,
// environment check, CRL, named-peer authorization).
func productServerTLS(pkiDir string, kx tlsx.KeyExchange) (*tls.Config, error) {
	sc := tlsx.LayoutSource(pkiDir, "dev", "gateway")
	sc.Logger = quiet()
	src, err := tlsx.NewSource(sc)
	if err != nil {
		return nil, fmt.Errorf("bench tls source: %w", err)
	}
	return tlsx.ServerConfig(src, tlsx.AuthorizeNames("logsys.local", "dev", "client"), tlsx.Options{KeyExchange: kx, NextProtos: tlsx.ProtosHTTP})
}

// bareServerTLS is the same keys in a plain crypto/tls configuration:
// require and verify a client certificate, nothing else.
func bareServerTLS(pkiDir string, curves []tls.CurveID) (*tls.Config, error) {
	d := filepath.Join(pkiDir, "dev")
	cert, err := tls.LoadX509KeyPair(filepath.Join(d, "gateway", "cert.pem"), filepath.Join(d, "gateway", "key.pem"))
	if err != nil {
		return nil, fmt.Errorf("bench bare tls: %w", err)
	}
	pem, err := os.ReadFile(filepath.Join(d, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("bench bare tls: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS13, CurvePreferences: curves, NextProtos: tlsx.ProtosHTTP,
	}, nil
}

// measureHandshakes performs n sequential handshakes against server config
// sc with client config cc and measures the server's CPU per handshake on
// its own locked OS thread (client work runs on other threads and is not
// counted). With resume, one priming handshake fills the client's cache
// first and is not counted.
func measureHandshakes(ctx context.Context, sc, cc *tls.Config, n int, resume bool) (hsResult, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return hsResult{}, fmt.Errorf("handshake listener: %w", err)
	}
	defer ln.Close()
	cc = cc.Clone()
	cc.ServerName = "127.0.0.1"
	cc.NextProtos = []string{"http/1.1"}
	if resume {
		cc.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	} else {
		cc.ClientSessionCache = nil
	}
	var (
		mu  sync.Mutex
		res hsResult
	)
	serverDone := make(chan struct{})
	go func() {
		defer close(serverDone)
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				defer raw.Close()
				conn := tls.Server(raw, sc)
				_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
				t0, ok0 := threadCPU()
				err := conn.Handshake()
				t1, ok1 := threadCPU()
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					res.failed++
					if res.firstErr == "" {
						res.firstErr = err.Error()
					}
					return
				}
				if ok0 && ok1 {
					res.cpu += t1 - t0
				}
				res.count++
				if conn.ConnectionState().DidResume {
					res.resumed++
				}
				// One byte lets the client read the session ticket.
				_, _ = conn.Write([]byte{1})
			}()
		}
	}()
	dial := func() error {
		raw, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		if err != nil {
			return err
		}
		defer raw.Close()
		_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
		c := tls.Client(raw, cc)
		if err := c.Handshake(); err != nil {
			return err
		}
		var b [1]byte
		_, err = c.Read(b[:])
		return err
	}
	if resume {
		if err := dial(); err != nil {
			return hsResult{}, fmt.Errorf("priming handshake: %w", err)
		}
		mu.Lock()
		res = hsResult{}
		mu.Unlock()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		if err := dial(); err != nil {
			mu.Lock()
			res.failed++
			if res.firstErr == "" {
				res.firstErr = err.Error()
			}
			mu.Unlock()
		}
	}
	ln.Close()
	<-serverDone
	mu.Lock()
	defer mu.Unlock()
	if res.count == 0 {
		return res, errors.New("no handshake completed: " + res.firstErr)
	}
	return res, nil
}

// curvesFor maps a key exchange to client curve preferences.
func curvesFor(kx tlsx.KeyExchange) []tls.CurveID {
	if kx == tlsx.KeyExchangeX25519 {
		return []tls.CurveID{tls.X25519}
	}
	return nil
}
