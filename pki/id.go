package pki

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

var (
	labelRE       = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	trustDomainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,253}[a-z0-9])?$`)
)

// SPIFFEID returns the URI SAN identity of a leaf: spiffe://td/env/name.
func SPIFFEID(td, env, name string) string {
	return "spiffe://" + td + "/" + env + "/" + name
}

// ParseID splits a logsys SPIFFE ID into trust domain, environment and name.
func ParseID(uri string) (td, env, name string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", "", fmt.Errorf("parse identity %q: %w", uri, err)
	}
	if u.Scheme != "spiffe" || u.Opaque != "" || u.User != nil || u.Port() != "" ||
		u.RawQuery != "" || u.Fragment != "" {
		return "", "", "", fmt.Errorf("identity %q: not a spiffe://<trust-domain>/<env>/<name> URI", uri)
	}
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) != 2 {
		return "", "", "", fmt.Errorf("identity %q: path must be /<env>/<name>", uri)
	}
	if err := validTrustDomain(u.Host); err != nil {
		return "", "", "", fmt.Errorf("identity %q: %w", uri, err)
	}
	if err := validLabel("env", parts[0]); err != nil {
		return "", "", "", fmt.Errorf("identity %q: %w", uri, err)
	}
	if err := validLabel("name", parts[1]); err != nil {
		return "", "", "", fmt.Errorf("identity %q: %w", uri, err)
	}
	return u.Host, parts[0], parts[1], nil
}

func validLabel(what, s string) error {
	if !labelRE.MatchString(s) {
		return fmt.Errorf("invalid %s %q: want lowercase letters, digits and inner dashes (a DNS label)", what, s)
	}
	return nil
}

func validTrustDomain(td string) error {
	if !trustDomainRE.MatchString(td) {
		return fmt.Errorf("invalid trust domain %q: want lowercase letters, digits, dots, dashes, underscores", td)
	}
	return nil
}
