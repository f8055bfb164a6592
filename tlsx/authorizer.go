package tlsx

import (
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"logsys/spiffeid"
)

// ErrUnauthorized is wrapped by every refusal of an Authorizer.
var ErrUnauthorized = errors.New("peer not authorized")

// Authorizer decides whether an authenticated peer may talk to us. It runs
// after the chain has been verified against the environment's anchors, the
// CRL has been checked and the peer's ID has been found to be in our own
// trust domain and environment. A non-nil error refuses the handshake; it
// should wrap ErrUnauthorized.
type Authorizer func(id spiffeid.ID, verifiedChains [][]*x509.Certificate) error

// AuthorizeAny accepts every peer of our own environment.
func AuthorizeAny() Authorizer {
	return func(spiffeid.ID, [][]*x509.Certificate) error { return nil }
}

// AuthorizeID accepts only the listed spiffe:// IDs (compared exactly).
func AuthorizeID(ids ...string) Authorizer {
	allowed := slices.Clone(ids)
	return func(id spiffeid.ID, _ [][]*x509.Certificate) error {
		if slices.Contains(allowed, id.String()) {
			return nil
		}
		return fmt.Errorf("%w: %s is not one of %v", ErrUnauthorized, id, allowed)
	}
}

// AuthorizeNames accepts the named workloads of env in trustDomain, for
// example AuthorizeNames("logsys.local", "dev", "gateway").
func AuthorizeNames(trustDomain, env string, names ...string) Authorizer {
	allowed := slices.Clone(names)
	return func(id spiffeid.ID, _ [][]*x509.Certificate) error {
		if id.MemberOf(trustDomain, env) && slices.Contains(allowed, id.Name) {
			return nil
		}
		return fmt.Errorf("%w: %s is not one of %v in %s/%s", ErrUnauthorized, id, allowed, trustDomain, env)
	}
}

// AuthorizeMemberOf accepts every workload of env in trustDomain.
func AuthorizeMemberOf(trustDomain, env string) Authorizer {
	return func(id spiffeid.ID, _ [][]*x509.Certificate) error {
		if id.MemberOf(trustDomain, env) {
			return nil
		}
		return fmt.Errorf("%w: %s is not in %s/%s", ErrUnauthorized, id, trustDomain, env)
	}
}
