package roles

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestPeerCachedOnlyForItsCertificate tries to make a request borrow the
// identity its connection cached for another certificate: the identity
// must always be that of the request's own certificate.
func TestPeerCachedOnlyForItsCertificate(t *testing.T) {
	dir := testPKI(t)
	leaf := func(name string) *x509.Certificate {
		c, err := tls.LoadX509KeyPair(filepath.Join(dir, "dev", name, "cert.pem"), filepath.Join(dir, "dev", name, "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	client, gateway := leaf("client"), leaf("gateway")
	req := httptest.NewRequest("POST", "/", nil)
	ctx := context.WithValue(req.Context(), peerKey{}, newConnPeer(client))
	for _, tc := range []struct {
		cert *x509.Certificate
		name string
	}{{client, "client"}, {gateway, "gateway"}} {
		r := req.WithContext(ctx)
		r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{tc.cert}}
		if got := peerName(r); got != tc.name {
			t.Errorf("peerName = %q, want %q", got, tc.name)
		}
		if got, want := peerIdentity(r), "spiffe://logsys.local/dev/"+tc.name; got != want {
			t.Errorf("peerIdentity = %q, want %q", got, want)
		}
	}
	if r := req.WithContext(ctx); peerName(r) != "" || peerIdentity(r) != "" {
		t.Errorf("a request without a certificate has the identity %q", peerIdentity(r))
	}
}
