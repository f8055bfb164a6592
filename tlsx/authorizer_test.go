package tlsx_test

import (
	"errors"
	"testing"

	"logsys/internal/testpki"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// TestIDFromCert reads identities from test CA certificates; the parsing
// rules themselves are tested in package spiffeid.
func TestIDFromCert(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	id, err := spiffeid.FromCert(ca.Leaf("dev", "gateway").Cert)
	if err != nil || id.String() != "spiffe://logsys.local/dev/gateway" {
		t.Fatalf("got %v, %v", id, err)
	}
	if _, err := spiffeid.FromCert(ca.Leaf("dev", "gateway", testpki.NoURI()).Cert); err == nil {
		t.Fatal("certificate without URI SAN accepted")
	}
	if _, err := spiffeid.FromCert(ca.Leaf("dev", "gateway", testpki.WithURI("https://example.org/x")).Cert); err == nil {
		t.Fatal("certificate with a non-spiffe URI SAN accepted")
	}
}

func TestAuthorizers(t *testing.T) {
	gw := spiffeid.ID{TrustDomain: "logsys.local", Env: "dev", Name: "gateway"}
	stagingGW := spiffeid.ID{TrustDomain: "logsys.local", Env: "staging", Name: "gateway"}
	otherTD := spiffeid.ID{TrustDomain: "other.example", Env: "dev", Name: "gateway"}
	consumer := spiffeid.ID{TrustDomain: "logsys.local", Env: "dev", Name: "consumer"}
	tests := []struct {
		name  string
		authz tlsx.Authorizer
		id    spiffeid.ID
		allow bool
	}{
		{"any", tlsx.AuthorizeAny(), consumer, true},
		{"id match", tlsx.AuthorizeID("spiffe://logsys.local/dev/gateway"), gw, true},
		{"id other env", tlsx.AuthorizeID("spiffe://logsys.local/dev/gateway"), stagingGW, false},
		{"id none listed", tlsx.AuthorizeID(), gw, false},
		{"names match", tlsx.AuthorizeNames("logsys.local", "dev", "gateway", "bench"), gw, true},
		{"names wrong name", tlsx.AuthorizeNames("logsys.local", "dev", "gateway"), consumer, false},
		{"names wrong env", tlsx.AuthorizeNames("logsys.local", "dev", "gateway"), stagingGW, false},
		{"names wrong trust domain", tlsx.AuthorizeNames("logsys.local", "dev", "gateway"), otherTD, false},
		{"member", tlsx.AuthorizeMemberOf("logsys.local", "dev"), consumer, true},
		{"member wrong env", tlsx.AuthorizeMemberOf("logsys.local", "dev"), stagingGW, false},
		{"member wrong trust domain", tlsx.AuthorizeMemberOf("logsys.local", "dev"), otherTD, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.authz(tc.id, nil)
			if (err == nil) != tc.allow {
				t.Fatalf("err = %v, want allow=%v", err, tc.allow)
			}
			if err != nil && !errors.Is(err, tlsx.ErrUnauthorized) {
				t.Fatalf("refusal %v does not wrap ErrUnauthorized", err)
			}
		})
	}
}
