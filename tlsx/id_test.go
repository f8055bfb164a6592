package tlsx_test

import (
	"errors"
	"testing"

	"logsys/internal/testpki"
	"logsys/tlsx"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in      string
		want    tlsx.ID
		wantErr bool
	}{
		{in: "spiffe://logsys.local/dev/gateway", want: tlsx.ID{TrustDomain: "logsys.local", Env: "dev", Name: "gateway"}},
		{in: "spiffe://example.org/prod/consumer-2", want: tlsx.ID{TrustDomain: "example.org", Env: "prod", Name: "consumer-2"}},
		{in: "https://logsys.local/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local/dev", wantErr: true},
		{in: "spiffe://logsys.local/dev/gateway/extra", wantErr: true},
		{in: "spiffe://logsys.local//gateway", wantErr: true},
		{in: "spiffe://logsys.local/dev/..", wantErr: true},
		{in: "spiffe://Logsys.Local/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local:8443/dev/gateway", wantErr: true},
		{in: "spiffe://user@logsys.local/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local/dev/gateway?x=1", wantErr: true},
		{in: "spiffe://logsys.local/dev/gateway#f", wantErr: true},
		{in: "spiffe:///dev/gateway", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := tlsx.ParseID(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if !tc.wantErr && got.String() != tc.in {
				t.Fatalf("String() = %q, want %q", got.String(), tc.in)
			}
		})
	}
}

func TestIDFromCert(t *testing.T) {
	ca := testpki.New(t, testpki.Options{})
	id, err := tlsx.IDFromCert(ca.Leaf("dev", "gateway").Cert)
	if err != nil || id.String() != "spiffe://logsys.local/dev/gateway" {
		t.Fatalf("got %v, %v", id, err)
	}
	if _, err := tlsx.IDFromCert(ca.Leaf("dev", "gateway", testpki.NoURI()).Cert); err == nil {
		t.Fatal("certificate without URI SAN accepted")
	}
	if _, err := tlsx.IDFromCert(ca.Leaf("dev", "gateway", testpki.WithURI("https://example.org/x")).Cert); err == nil {
		t.Fatal("certificate with a non-spiffe URI SAN accepted")
	}
}

func TestAuthorizers(t *testing.T) {
	gw := tlsx.ID{TrustDomain: "logsys.local", Env: "dev", Name: "gateway"}
	stagingGW := tlsx.ID{TrustDomain: "logsys.local", Env: "staging", Name: "gateway"}
	otherTD := tlsx.ID{TrustDomain: "other.example", Env: "dev", Name: "gateway"}
	consumer := tlsx.ID{TrustDomain: "logsys.local", Env: "dev", Name: "consumer"}
	tests := []struct {
		name  string
		authz tlsx.Authorizer
		id    tlsx.ID
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
