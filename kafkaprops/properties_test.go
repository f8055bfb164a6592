package kafkaprops

import (
	"bufio"
	"strings"
	"testing"
)

// parseProperties reads key=value lines, skipping comments, and fails on
// a repeated key.
func parseProperties(t *testing.T, text string) map[string]string {
	t.Helper()
	props := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a property line: %q", line)
		}
		if _, dup := props[k]; dup {
			t.Fatalf("property %s set twice", k)
		}
		props[k] = v
	}
	return props
}

func TestProperties(t *testing.T) {
	const dir = "/pki"
	common := map[string]string{
		"ssl.protocol": "TLSv1.3", "ssl.enabled.protocols": "TLSv1.3", "ssl.endpoint.identification.algorithm": "https",
	}
	brokerPass := "${file:/pki/dev/kafka/store.properties:password}"
	tests := []struct {
		name   string
		opts   Options
		want   map[string]string
		absent []string
	}{
		{"client p12 default, placeholder password",
			Options{Dir: dir, Env: "dev", Name: "client"},
			map[string]string{
				"bootstrap.servers": "localhost:9093", "security.protocol": "SSL",
				"ssl.keystore.type": "PKCS12", "ssl.keystore.location": "/pki/dev/client/keystore.p12",
				"ssl.keystore.password": "<store.pass>", "ssl.key.password": "<store.pass>",
				"ssl.truststore.type": "PKCS12", "ssl.truststore.location": "/pki/dev/client/truststore.p12",
				"ssl.truststore.password": "<store.pass>",
			},
			[]string{"config.providers", "ssl.client.auth", "listeners"}},
		{"client jks with literal password",
			Options{Dir: dir, Env: "prod", Name: "app", Format: JKS, Bootstrap: "k1:9093,k2:9093", Password: "s3cret-s3cret-s3cret"},
			map[string]string{
				"bootstrap.servers": "k1:9093,k2:9093", "ssl.keystore.type": "JKS",
				"ssl.keystore.location": "/pki/prod/app/keystore.jks", "ssl.keystore.password": "s3cret-s3cret-s3cret",
				"ssl.truststore.location": "/pki/prod/app/truststore.jks", "ssl.truststore.password": "s3cret-s3cret-s3cret",
			}, nil},
		{"client pem: no passwords, env intermediate as the only anchor",
			Options{Dir: dir, Env: "dev", Name: "client", Format: PEM},
			map[string]string{
				"ssl.keystore.type": "PEM", "ssl.keystore.location": "/pki/dev/client/keystore.pem",
				"ssl.truststore.type": "PEM", "ssl.truststore.location": "/pki/dev/ca.pem",
			},
			[]string{"ssl.keystore.password", "ssl.key.password", "ssl.truststore.password"}},
		{"pem ignores a password",
			Options{Dir: dir, Env: "dev", Name: "client", Format: PEM, Password: "never-printed-here"},
			map[string]string{"ssl.keystore.type": "PEM"},
			[]string{"ssl.keystore.password", "ssl.key.password", "ssl.truststore.password"}},
		{"broker p12: file config provider, mTLS required, env-only principal mapping",
			Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker, Bootstrap: "kafka:9093"},
			map[string]string{
				"listeners": "SSL://:9093", "advertised.listeners": "SSL://kafka:9093", "inter.broker.listener.name": "SSL",
				"ssl.client.auth":             "required",
				"ssl.principal.mapping.rules": "RULE:^CN=([a-z0-9][a-z0-9_.-]*),OU=dev,O=logsys$/$1/",
				"super.users":                 "User:kafka",
				"config.providers":            "file", "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
				"ssl.keystore.type": "PKCS12", "ssl.keystore.password": brokerPass, "ssl.key.password": brokerPass,
				"ssl.truststore.password": brokerPass,
			},
			[]string{"bootstrap.servers", "security.protocol"}},
		{"broker never prints a literal password",
			Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker, Password: "literal-literal-x"},
			map[string]string{"ssl.keystore.password": brokerPass}, nil},
		{"broker pem",
			Options{Dir: dir, Env: "staging", Name: "kafka", Role: Broker, Format: PEM},
			map[string]string{
				"ssl.keystore.type": "PEM", "ssl.keystore.location": "/pki/staging/kafka/keystore.pem",
				"ssl.principal.mapping.rules": "RULE:^CN=([a-z0-9][a-z0-9_.-]*),OU=staging,O=logsys$/$1/",
			},
			[]string{"config.providers", "ssl.keystore.password"}},
		{"backslashes escaped",
			Options{Dir: `C:\pki`, Env: "dev", Name: "client", Format: PEM},
			map[string]string{"ssl.keystore.location": `C:\\pki/dev/client/keystore.pem`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := Properties(tt.opts)
			if err != nil {
				t.Fatalf("Properties: %v", err)
			}
			got := parseProperties(t, text)
			for k, v := range common {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, k := range tt.absent {
				if v, ok := got[k]; ok {
					t.Errorf("%s = %q, want it absent", k, v)
				}
			}
			if tt.opts.Password != "" && (tt.opts.Role == Broker || tt.opts.Format == PEM) && strings.Contains(text, tt.opts.Password) {
				t.Errorf("password printed:\n%s", text)
			}
		})
	}
}

func TestPropertiesRejects(t *testing.T) {
	tests := []struct {
		name, wantErr string
		opts          Options
	}{
		{"no dir", "dir is required", Options{Env: "dev", Name: "c"}},
		{"bad env", "env", Options{Dir: "d", Env: "../x", Name: "c"}},
		{"no name", "name", Options{Dir: "d", Env: "dev"}},
		{"format", "format", Options{Dir: "d", Env: "dev", Name: "c", Format: "pkcs11"}},
		{"role", "role", Options{Dir: "d", Env: "dev", Name: "c", Role: "controller"}},
		{"bootstrap without port", "bootstrap", Options{Dir: "d", Env: "dev", Name: "c", Bootstrap: "kafka"}},
		{"bootstrap injection", "bootstrap", Options{Dir: "d", Env: "dev", Name: "c", Bootstrap: "k:9093\nssl.client.auth=none"}},
		{"broker with two addresses", "one host:port", Options{Dir: "d", Env: "dev", Name: "c", Role: Broker, Bootstrap: "a:1,b:2"}},
		{"multi-line password", "one line", Options{Dir: "d", Env: "dev", Name: "c", Password: "a\nb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Properties(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
