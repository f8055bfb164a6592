package main

import (
	"slices"
	"strings"
	"testing"
)

// --brokers and --pki-dir reach the bench configuration through the
// command's flags, and a bad combination is refused naming the flag.
func TestBenchBrokerFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" means valid
	}{
		{[]string{"--brokers", "127.0.0.1:19093,127.0.0.1:19094", "--pki-dir", "pki"}, ""},
		{[]string{"--brokers", "127.0.0.1:19093"}, "--brokers needs --pki-dir"},
		{[]string{"--pki-dir", "pki"}, "--pki-dir applies only with --brokers"},
		{[]string{"--brokers", "kafka", "--pki-dir", "pki"}, `"kafka" must be host:port`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := newBenchCmd()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			cfg, err := benchConfig(cmd)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %v, want it to mention %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Brokers, []string{"127.0.0.1:19093", "127.0.0.1:19094"}) || cfg.PKIDir != "pki" {
				t.Fatalf("brokers %v, pki dir %q", cfg.Brokers, cfg.PKIDir)
			}
		})
	}
}
