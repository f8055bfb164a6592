package tlsx

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ID is a logsys workload identity, spiffe://<trust-domain>/<env>/<name>,
// carried as the URI SAN of every leaf certificate.
type ID struct {
	TrustDomain string
	Env         string
	Name        string
}

// NewID builds an ID and validates its parts.
func NewID(trustDomain, env, name string) (ID, error) {
	id := ID{TrustDomain: trustDomain, Env: env, Name: name}
	if err := id.validate(); err != nil {
		return ID{}, err
	}
	return id, nil
}

// ParseID parses spiffe://<trust-domain>/<env>/<name>.
func ParseID(s string) (ID, error) {
	u, err := url.Parse(s)
	if err != nil {
		return ID{}, fmt.Errorf("parse spiffe id %q: %w", s, err)
	}
	return idFromURL(u)
}

func idFromURL(u *url.URL) (ID, error) {
	s := u.String()
	if u.Scheme != "spiffe" {
		return ID{}, fmt.Errorf("spiffe id %q: scheme must be spiffe", s)
	}
	if u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return ID{}, fmt.Errorf("spiffe id %q: userinfo, port, query and fragment are not allowed", s)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if !strings.HasPrefix(u.Path, "/") || len(parts) != 2 {
		return ID{}, fmt.Errorf("spiffe id %q: path must be /<env>/<name>", s)
	}
	return NewID(u.Host, parts[0], parts[1])
}

// IDFromCert returns the identity of a certificate: its only spiffe URI SAN.
func IDFromCert(c *x509.Certificate) (ID, error) {
	var found []*url.URL
	for _, u := range c.URIs {
		if u.Scheme == "spiffe" {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return ID{}, errors.New("certificate has no spiffe uri san")
	case 1:
		return idFromURL(found[0])
	default:
		return ID{}, fmt.Errorf("certificate has %d spiffe uri sans, want one", len(found))
	}
}

// String returns the spiffe:// URI form.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	return "spiffe://" + id.TrustDomain + "/" + id.Env + "/" + id.Name
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MemberOf reports whether id belongs to env in trustDomain.
func (id ID) MemberOf(trustDomain, env string) bool {
	return id.TrustDomain == trustDomain && id.Env == env
}

func (id ID) validate() error {
	if id.TrustDomain == "" || strings.IndexFunc(id.TrustDomain, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) >= 0 {
		return fmt.Errorf("spiffe id: invalid trust domain %q (lowercase letters, digits, '.', '-', '_')", id.TrustDomain)
	}
	for _, seg := range []string{id.Env, id.Name} {
		if seg == "" || seg == "." || seg == ".." || strings.IndexFunc(seg, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
		}) >= 0 {
			return fmt.Errorf("spiffe id: invalid path segment %q (letters, digits, '.', '-', '_')", seg)
		}
	}
	return nil
}
