package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"

	"logsys/internal/testpki"
)

// TestVerifyPeerReverifiesResumedChains: a resumed session brings back the
// chains verified when it was made; verifyPeer must verify the peer's
// certificates again against the current anchors, on both sides, and
// refuse one whose intermediate is no longer trusted, whatever the TLS
// library decided about resuming.
func TestVerifyPeerReverifiesResumedChains(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	peer := ca.Leaf("dev", "gateway")
	oldChain := [][]*x509.Certificate{peer.Chain}
	ca.RolloverIntermediate("dev")
	own := ca.Leaf("dev", "producer")
	src, err := NewSourceFromPEM(SourceConfig{Name: "producer"}, PEM{Cert: own.CertPEM, Key: own.KeyPEM, CA: ca.CAPEM("dev"), CRL: ca.CRLPEM("dev")})
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []string{SideServer, SideClient} {
		cs := tls.ConnectionState{PeerCertificates: peer.Chain, VerifiedChains: oldChain}
		if err := src.verifyPeer(cs, side, AuthorizeAny()); err != nil {
			t.Fatalf("%s: a full handshake's chains are Go's to verify; got %v", side, err)
		}
		cs.DidResume = true
		err := src.verifyPeer(cs, side, AuthorizeAny())
		if ve, ok := errors.AsType[*VerifyError](err); !ok || ve.Reason != ReasonUnknownCA {
			t.Fatalf("%s: resumed session from a removed intermediate: %v, want %s", side, err, ReasonUnknownCA)
		}
	}
	current := ca.Leaf("dev", "gateway")
	cs := tls.ConnectionState{PeerCertificates: current.Chain, VerifiedChains: [][]*x509.Certificate{current.Chain}, DidResume: true}
	if err := src.verifyPeer(cs, SideServer, AuthorizeAny()); err != nil {
		t.Fatalf("resumed session of a trusted peer refused: %v", err)
	}
}
