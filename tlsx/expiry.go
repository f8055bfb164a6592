package tlsx

import (
	"crypto/x509"
	"fmt"
	"time"
)

// CertKind says what a loaded certificate is for.
type CertKind string

// Kinds of loaded certificates (the `kind` label).
const (
	KindLeaf   CertKind = "leaf"   // our own certificate
	KindAnchor CertKind = "anchor" // a trusted intermediate of our environment
)

// CertInfo describes one loaded certificate for health views and metrics.
type CertInfo struct {
	Source    string // name of the Source that loaded it
	Kind      CertKind
	Identity  string // spiffe:// URI SAN (leaves only)
	Subject   string
	Serial    string // hex
	NotBefore time.Time
	NotAfter  time.Time
}

// Label is the identity of a leaf, or the subject of an anchor.
func (c CertInfo) Label() string {
	if c.Identity != "" {
		return c.Identity
	}
	return c.Subject
}

func certInfo(source string, kind CertKind, c *x509.Certificate, identity string) CertInfo {
	return CertInfo{
		Source:    source,
		Kind:      kind,
		Identity:  identity,
		Subject:   c.Subject.String(),
		Serial:    serialString(c.SerialNumber),
		NotBefore: c.NotBefore,
		NotAfter:  c.NotAfter,
	}
}

// soonest returns the certificate of infos that expires first.
func soonest(infos []CertInfo) (CertInfo, bool) {
	var first CertInfo
	for i, ci := range infos {
		if i == 0 || ci.NotAfter.Before(first.NotAfter) {
			first = ci
		}
	}
	return first, len(infos) > 0
}

// ExpiryStatus reports whether every certificate in infos stays valid for
// at least threshold after now; reasons names each one that does not.
func ExpiryStatus(infos []CertInfo, now time.Time, threshold time.Duration) (ok bool, reasons []string) {
	for _, ci := range infos {
		left := ci.NotAfter.Sub(now)
		switch {
		case left <= 0:
			reasons = append(reasons, fmt.Sprintf("%s %s %s (serial %s) expired at %s",
				ci.Source, ci.Kind, ci.Label(), ci.Serial, ci.NotAfter.UTC().Format(time.RFC3339)))
		case left < threshold:
			reasons = append(reasons, fmt.Sprintf("%s %s %s (serial %s) expires in %s at %s",
				ci.Source, ci.Kind, ci.Label(), ci.Serial, left.Round(time.Second), ci.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	return len(reasons) == 0, reasons
}
