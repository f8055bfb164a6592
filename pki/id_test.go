package pki

import "testing"

func TestParseID(t *testing.T) {
	tests := []struct {
		in            string
		td, env, name string
		wantErr       bool
	}{
		{in: "spiffe://logsys.local/dev/gateway", td: "logsys.local", env: "dev", name: "gateway"},
		{in: SPIFFEID("example.org", "prod", "client"), td: "example.org", env: "prod", name: "client"},
		{in: "https://logsys.local/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local/dev", wantErr: true},
		{in: "spiffe://logsys.local/dev/gateway/extra", wantErr: true},
		{in: "spiffe://Logsys.local/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local/Dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local:8443/dev/gateway", wantErr: true},
		{in: "spiffe://logsys.local/dev/gateway?x=1", wantErr: true},
		{in: "spiffe://user@logsys.local/dev/gateway", wantErr: true},
		{in: "spiffe:///dev/gateway", wantErr: true},
		{in: "spiffe:logsys.local/dev/gateway", wantErr: true},
	}
	for _, tt := range tests {
		td, env, name, err := ParseID(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseID(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if td != tt.td || env != tt.env || name != tt.name {
			t.Errorf("ParseID(%q) = %q %q %q, want %q %q %q", tt.in, td, env, name, tt.td, tt.env, tt.name)
		}
	}
}
