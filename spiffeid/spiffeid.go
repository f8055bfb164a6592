// Package spiffeid owns the logsys workload identity,
// spiffe://<trust-domain>/<env>/<name>: parsing (canonical form only, per
// the SPIFFE ID specification), formatting, validation of its parts and
// extraction from an X.509 certificate. It imports nothing from logsys.
//
// A logsys ID is a SPIFFE ID with exactly two path segments, and each
// segment is further restricted to a DNS label (lowercase letters, digits
// and inner dashes, at most 63 characters), because logsys uses the name
// as a DNS SAN of the certificate, env and name as directory names of the
// PKI layout, and env inside the dotted bootstrap token: none of those
// tolerate dots, underscores or case-only differences, which the SPIFFE
// path grammar would allow. Every ID that logsys issues is therefore
// parsed back to itself, and nothing else is accepted.
package spiffeid

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// CAName is the workload name reserved for the online CA's own serving
// certificate. No other certificate may carry it (see ValidateWorkloadName).
const CAName = "ca"

const (
	scheme         = "spiffe://"
	maxTrustDomain = 255
	maxLabel       = 63
	maxID          = 2048
)

// ErrInvalid is wrapped by every parse and validation error.
var ErrInvalid = errors.New("invalid spiffe id")

// ErrReservedName is wrapped when a workload asks for CAName.
var ErrReservedName = errors.New("reserved workload name")

// ID is a logsys workload identity.
type ID struct {
	TrustDomain string
	Env         string
	Name        string
}

// New builds an ID from its parts and validates them.
func New(trustDomain, env, name string) (ID, error) {
	if err := ValidateTrustDomain(trustDomain); err != nil {
		return ID{}, err
	}
	if err := ValidateEnv(env); err != nil {
		return ID{}, err
	}
	if err := ValidateName(name); err != nil {
		return ID{}, err
	}
	return ID{TrustDomain: trustDomain, Env: env, Name: name}, nil
}

// Parse accepts exactly the canonical form spiffe://<td>/<env>/<name>:
// scheme "spiffe" in lowercase, a lowercase trust domain, two path
// segments and nothing else. Percent-encoding, dot segments, empty
// segments, a trailing slash, userinfo, a port, a query or a fragment are
// all refused rather than normalised, so that two strings naming the same
// workload can never both be accepted.
func Parse(s string) (ID, error) {
	if len(s) > maxID {
		return ID{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxID)
	}
	rest, ok := strings.CutPrefix(s, scheme)
	if !ok {
		return ID{}, fmt.Errorf("%w %q: want spiffe://<trust-domain>/<env>/<name>", ErrInvalid, s)
	}
	td, path, ok := strings.Cut(rest, "/")
	if !ok {
		return ID{}, fmt.Errorf("%w %q: no path, want /<env>/<name>", ErrInvalid, s)
	}
	if err := ValidateTrustDomain(td); err != nil {
		return ID{}, fmt.Errorf("%q: %w", s, err)
	}
	segs := strings.Split(path, "/")
	for _, seg := range segs {
		if err := validSegment(seg); err != nil {
			return ID{}, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
		}
	}
	if len(segs) != 2 {
		return ID{}, fmt.Errorf("%w %q: %d path segments, want /<env>/<name>", ErrInvalid, s, len(segs))
	}
	if err := ValidateEnv(segs[0]); err != nil {
		return ID{}, fmt.Errorf("%q: %w", s, err)
	}
	if err := ValidateName(segs[1]); err != nil {
		return ID{}, fmt.Errorf("%q: %w", s, err)
	}
	return ID{TrustDomain: td, Env: segs[0], Name: segs[1]}, nil
}

// validSegment applies the SPIFFE path grammar to one segment: not
// empty, not a dot segment, only [a-zA-Z0-9._-] (so no '%', '?', '#').
func validSegment(seg string) error {
	switch seg {
	case "":
		return errors.New("empty path segment (double or trailing slash)")
	case ".", "..":
		return fmt.Errorf("dot segment %q", seg)
	}
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if !(isLower(c) || c >= 'A' && c <= 'Z' || isDigit(c) || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("character %q not allowed in a path segment (percent-encoding is not accepted)", c)
		}
	}
	return nil
}

// String returns the canonical URI form; the zero ID gives "".
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return scheme + id.TrustDomain + "/" + id.Env + "/" + id.Name
}

// URL returns the ID as a URL for a certificate's URI SAN.
func (id ID) URL() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.TrustDomain, Path: "/" + id.Env + "/" + id.Name}
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MemberOf reports whether id belongs to env of trustDomain.
func (id ID) MemberOf(trustDomain, env string) bool {
	return id.TrustDomain == trustDomain && id.Env == env
}

// ValidateTrustDomain accepts a trust domain of lowercase letters, digits,
// '.', '-' and '_' (the SPIFFE grammar), at most 255 characters, starting
// and ending with a letter or digit.
func ValidateTrustDomain(td string) error {
	if td == "" || len(td) > maxTrustDomain {
		return fmt.Errorf("%w: trust domain %q must be 1 to %d characters", ErrInvalid, td, maxTrustDomain)
	}
	for i := 0; i < len(td); i++ {
		c := td[i]
		if !(isLower(c) || isDigit(c) || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: trust domain %q: want lowercase letters, digits, dots, dashes, underscores", ErrInvalid, td)
		}
	}
	if !isAlnum(td[0]) || !isAlnum(td[len(td)-1]) {
		return fmt.Errorf("%w: trust domain %q must start and end with a letter or digit", ErrInvalid, td)
	}
	return nil
}

// ValidateEnv accepts an environment name: a DNS label.
func ValidateEnv(env string) error { return validLabel("env", env) }

// ValidateName accepts a workload name: a DNS label. CAName passes; use
// ValidateWorkloadName where the reserved name must be refused.
func ValidateName(name string) error { return validLabel("name", name) }

// ValidateWorkloadName is ValidateName that also refuses CAName, which
// only the online CA's serving certificate may carry.
func ValidateWorkloadName(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if name == CAName {
		return fmt.Errorf("%w: name %q is reserved for the online CA's own certificate", ErrReservedName, name)
	}
	return nil
}

// validLabel accepts [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?.
func validLabel(what, s string) error {
	ok := s != "" && len(s) <= maxLabel && isAlnum(s[0]) && isAlnum(s[len(s)-1])
	for i := 0; ok && i < len(s); i++ {
		ok = isAlnum(s[i]) || s[i] == '-'
	}
	if !ok {
		return fmt.Errorf("%w: %s %q: want lowercase letters, digits and inner dashes (a DNS label)", ErrInvalid, what, s)
	}
	return nil
}

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isLower(c) || isDigit(c) }
