package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
)

// Reason classifies a failed handshake for the failures metric.
type Reason string

// Handshake failure reasons (the `reason` label values). docs/security.md
// lists them with what an operator does about each.
const (
	// ReasonNoCert: the peer presented no certificate (or, seen from a
	// client, the server demanded one we did not send).
	ReasonNoCert Reason = "no_cert"
	// ReasonUnknownCA: the chain does not lead to our environment's
	// current anchors (another CA or environment, a removed intermediate,
	// also when a resumed session's chain is verified again).
	ReasonUnknownCA Reason = "unknown_ca"
	// ReasonExpired: a certificate of the chain is outside its validity
	// period (by the verifier's clock).
	ReasonExpired Reason = "expired"
	// ReasonRevoked: the peer's serial is on the environment's CRL.
	ReasonRevoked Reason = "revoked"
	// ReasonCRLStale: our own CRL is past its nextUpdate by more than
	// crl_grace, so no peer can be checked: every peer is refused.
	ReasonCRLStale Reason = "crl_stale"
	// ReasonUnauthorized: a valid certificate, but of another trust domain
	// or environment, without a usable SPIFFE ID, for another host name or
	// usage, or refused by the listener's authorizer.
	ReasonUnauthorized Reason = "unauthorized"
	// ReasonProtocol: no common TLS version, cipher suite, group or ALPN
	// protocol, or a malformed or unexpected handshake message (a plain
	// HTTP or TLS 1.2-only client meets a TLS 1.3 listener).
	ReasonProtocol Reason = "protocol"
	// ReasonOther: the handshake did not complete for a reason outside
	// TLS: the handshake timeout (a client that connects and sends
	// nothing), a connection reset or closed mid-handshake (port scans,
	// health checks of load balancers that only open TCP), and peer
	// alerts without a better match.
	ReasonOther Reason = "other"
)

var allReasons = []Reason{ReasonNoCert, ReasonUnknownCA, ReasonExpired, ReasonRevoked, ReasonCRLStale, ReasonUnauthorized, ReasonProtocol, ReasonOther}

// VerifyError is returned by logsys's own peer checks (CRL, environment,
// authorizer) during a handshake.
type VerifyError struct {
	Reason Reason
	Err    error
}

func (e *VerifyError) Error() string { return "tls peer verification: " + e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

// Classify maps a handshake error to a Reason. It sees errors from both
// sides: our own verification, Go's verifier, and alerts sent by the peer.
func Classify(err error) Reason {
	if err == nil {
		return ""
	}
	if ve, ok := errors.AsType[*VerifyError](err); ok {
		return ve.Reason
	}
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); ok {
		return ReasonUnknownCA
	}
	if ci, ok := errors.AsType[x509.CertificateInvalidError](err); ok {
		switch ci.Reason {
		case x509.Expired:
			return ReasonExpired
		case x509.IncompatibleUsage:
			return ReasonUnauthorized
		}
		return ReasonUnknownCA // the chain is malformed: no acceptable path to an anchor
	}
	if _, ok := errors.AsType[x509.HostnameError](err); ok {
		return ReasonUnauthorized
	}
	if _, ok := errors.AsType[tls.RecordHeaderError](err); ok {
		return ReasonProtocol
	}
	// Alerts from the peer arrive as net.OpError{Op: "remote error"}; the
	// alert type is unexported, its text is the RFC 8446 description.
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" && oe.Err != nil {
		return classifyAlert(oe.Err.Error())
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "didn't provide a certificate"):
		return ReasonNoCert
	case strings.HasPrefix(msg, "tls: "):
		// Every remaining crypto/tls handshake error is a protocol
		// violation or mismatch (versions, suites, groups, ALPN, messages).
		return ReasonProtocol
	}
	return ReasonOther
}

func classifyAlert(desc string) Reason {
	switch strings.TrimPrefix(desc, "tls: ") {
	case "certificate required":
		return ReasonNoCert
	case "unknown certificate authority":
		return ReasonUnknownCA
	case "expired certificate":
		return ReasonExpired
	case "revoked certificate":
		return ReasonRevoked
	case "access denied":
		return ReasonUnauthorized
	case "protocol version not supported", "handshake failure", "insufficient security level",
		"no application protocol", "illegal parameter", "unexpected message", "decode error",
		"unsupported extension", "missing extension":
		return ReasonProtocol
	}
	return ReasonOther
}
