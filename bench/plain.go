package bench

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// bareHandler is the minimal handler of the baseline rows: read the body,
// answer 202 with a small JSON body, as the gateway does.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"status":"success","data":{"id":"00000000-0000-0000-0000-000000000000"}}`+"\n")
	})
}

// asPeer is the bench-only wrapper of the plaintext arm: it presents the
// bench client's already verified certificate to the gateway handler as
// if the TLS layer had verified it, so that the same handler stack runs
// with and without TLS. It exists only in this package, behind a
// loopback listener that lives for one measurement.
func asPeer(h http.Handler, leaf *x509.Certificate) http.Handler {
	state := &tls.ConnectionState{
		Version: tls.VersionTLS13, HandshakeComplete: true,
		PeerCertificates: []*x509.Certificate{leaf},
		VerifiedChains:   [][]*x509.Certificate{{leaf}},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2 := *r
		r2.TLS = state
		h.ServeHTTP(w, &r2)
	})
}

// server is an http.Server on a loopback listener, optionally TLS.
type server struct {
	srv *http.Server
	ln  net.Listener
}

// serve serves h on 127.0.0.1 with tc (nil: plaintext HTTP/1.1).
func serve(h http.Handler, tc *tls.Config) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench listener: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	go func() { _ = srv.Serve(ln) }()
	return &server{srv: srv, ln: ln}, nil
}

func (s *server) addr() string { return s.ln.Addr().String() }

func (s *server) close() { _ = s.srv.Close() }
