package spiffeid

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		in   string
		want ID
		err  string // substring of the error; "" means accepted
	}{
		{in: "spiffe://logsys.local/dev/gateway", want: ID{"logsys.local", "dev", "gateway"}},
		{in: "spiffe://example.org/prod/consumer-2", want: ID{"example.org", "prod", "consumer-2"}},
		{in: "spiffe://a_b.example/dev/ca", want: ID{"a_b.example", "dev", "ca"}},
		{in: "spiffe://logsys.local/dev/%63lient", err: "percent-encoding"},
		{in: "spiffe://logsys.local/%64ev/client", err: "percent-encoding"},
		{in: "spiffe://LOGSYS.local/dev/client", err: "trust domain"},
		{in: "spiffe://Logsys.Local/dev/gateway", err: "trust domain"},
		{in: "spiffe://Logsys.local/dev/gateway", err: "trust domain"},
		{in: "SPIFFE://logsys.local/dev/client", err: "want spiffe://"},
		{in: "Spiffe://logsys.local/dev/client", err: "want spiffe://"},
		{in: "spiffe://logsys.local/dev/./client", err: "dot segment"},
		{in: "spiffe://logsys.local/dev/../client", err: "dot segment"},
		{in: "spiffe://logsys.local/dev/..", err: "dot segment"},
		{in: "spiffe://logsys.local/dev//client", err: "empty path segment"},
		{in: "spiffe://logsys.local//gateway", err: "empty path segment"},
		{in: "spiffe://logsys.local/dev/client/", err: "empty path segment"},
		{in: "spiffe://logsys.local/dev/", err: "empty path segment"},
		{in: "spiffe://logsys.local/", err: "empty path segment"},
		{in: "spiffe://logsys.local", err: "no path"},
		{in: "spiffe://logsys.local/dev", err: "1 path segments"},
		{in: "spiffe://logsys.local/dev/gateway/extra", err: "3 path segments"},
		{in: "spiffe://logsys.local/dev/gateway?x=1", err: "not allowed"},
		{in: "spiffe://logsys.local/dev/gateway?", err: "not allowed"},
		{in: "spiffe://logsys.local/dev/gateway#f", err: "not allowed"},
		{in: "spiffe://logsys.local/dev/gateway#", err: "not allowed"},
		{in: "spiffe://user@logsys.local/dev/gateway", err: "trust domain"},
		{in: "spiffe://@logsys.local/dev/gateway", err: "trust domain"},
		{in: "spiffe://logsys.local:8443/dev/gateway", err: "trust domain"},
		{in: "spiffe://logsys.local:/dev/gateway", err: "trust domain"},
		{in: "spiffe:///dev/gateway", err: "trust domain"},
		{in: "spiffe:logsys.local/dev/gateway", err: "want spiffe://"},
		{in: "https://logsys.local/dev/gateway", err: "want spiffe://"},
		{in: "", err: "want spiffe://"},
		{in: " spiffe://logsys.local/dev/gateway", err: "want spiffe://"},
		{in: "spiffe://logsys.local/dev/gateway ", err: "not allowed"},
		// Valid SPIFFE IDs that are not logsys IDs: env and name are DNS labels.
		{in: "spiffe://logsys.local/Dev/gateway", err: "DNS label"},
		{in: "spiffe://logsys.local/dev/Gateway", err: "DNS label"},
		{in: "spiffe://logsys.local/dev/my_app", err: "DNS label"},
		{in: "spiffe://logsys.local/dev/app.v2", err: "DNS label"},
		{in: "spiffe://logsys.local/dev/-app", err: "DNS label"},
		{in: "spiffe://logsys.local/dev/" + long, err: "DNS label"},
		{in: "spiffe://-logsys.local/dev/gateway", err: "start and end"},
		{in: "spiffe://" + strings.Repeat("a", 256) + "/dev/gateway", err: "1 to 255"},
		{in: "spiffe://logsys.local/dev/" + strings.Repeat("a", 2048), err: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if got != tt.want || got.String() != tt.in {
					t.Fatalf("Parse = %+v (%s), want %+v", got, got, tt.want)
				}
				if got.URL().String() != tt.in {
					t.Fatalf("URL() = %s, want %s", got.URL(), tt.in)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Parse = %+v, %v; want an error containing %q", got, err, tt.err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			if !got.IsZero() {
				t.Fatalf("refused ID returned %+v", got)
			}
		})
	}
}

func TestNew(t *testing.T) {
	id, err := New("logsys.local", "dev", "gateway")
	if err != nil || id.String() != "spiffe://logsys.local/dev/gateway" {
		t.Fatalf("New = %v, %v", id, err)
	}
	for _, parts := range [][3]string{
		{"", "dev", "gateway"}, {"Logsys", "dev", "gateway"}, {"logsys.local", "", "gateway"},
		{"logsys.local", "dev", ""}, {"logsys.local", "dev/x", "gateway"}, {"logsys.local", "dev", "a/b"},
		{"logsys.local", "dev", "%63lient"}, {"logsys.local", "dev", ".."},
	} {
		if id, err := New(parts[0], parts[1], parts[2]); err == nil {
			t.Errorf("New%q = %v, want an error", parts, id)
		}
	}
	if (ID{}).String() != "" || !(ID{}).IsZero() {
		t.Error("zero ID must format as the empty string")
	}
}

func TestMemberOf(t *testing.T) {
	id := ID{"logsys.local", "dev", "gateway"}
	tests := []struct {
		td, env string
		want    bool
	}{{"logsys.local", "dev", true}, {"logsys.local", "staging", false}, {"other.example", "dev", false}}
	for _, tt := range tests {
		if got := id.MemberOf(tt.td, tt.env); got != tt.want {
			t.Errorf("MemberOf(%s, %s) = %v, want %v", tt.td, tt.env, got, tt.want)
		}
	}
}

func TestValidateWorkloadName(t *testing.T) {
	if err := ValidateName(CAName); err != nil {
		t.Errorf("ValidateName(%q) = %v: the CA's own certificate carries it", CAName, err)
	}
	err := ValidateWorkloadName(CAName)
	if !errors.Is(err, ErrReservedName) || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("ValidateWorkloadName(%q) = %v, want ErrReservedName", CAName, err)
	}
	for _, ok := range []string{"gateway", "client", "a", "ca2", "my-ca"} {
		if err := ValidateWorkloadName(ok); err != nil {
			t.Errorf("ValidateWorkloadName(%q) = %v", ok, err)
		}
	}
	if err := ValidateWorkloadName("CA"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ValidateWorkloadName(CA) = %v, want ErrInvalid", err)
	}
}
