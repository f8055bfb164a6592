package pki

import (
	"bufio"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
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

func TestKafkaProperties(t *testing.T) {
	const dir = "/pki"
	common := map[string]string{
		"ssl.protocol": "TLSv1.3", "ssl.enabled.protocols": "TLSv1.3", "ssl.endpoint.identification.algorithm": "https",
	}
	brokerPass := "${file:/pki/dev/kafka/store.properties:password}"
	tests := []struct {
		name   string
		opts   KafkaOptions
		want   map[string]string
		absent []string
	}{
		{"client p12 default, placeholder password",
			KafkaOptions{Dir: dir, Env: "dev", Name: "client"},
			map[string]string{
				"bootstrap.servers": "localhost:9093", "security.protocol": "SSL",
				"ssl.keystore.type": "PKCS12", "ssl.keystore.location": "/pki/dev/client/keystore.p12",
				"ssl.keystore.password": "<store.pass>", "ssl.key.password": "<store.pass>",
				"ssl.truststore.type": "PKCS12", "ssl.truststore.location": "/pki/dev/client/truststore.p12",
				"ssl.truststore.password": "<store.pass>",
			},
			[]string{"config.providers", "ssl.client.auth", "listeners"}},
		{"client jks with literal password",
			KafkaOptions{Dir: dir, Env: "prod", Name: "app", Format: KafkaJKS, Bootstrap: "k1:9093,k2:9093", Password: "s3cret-s3cret-s3cret"},
			map[string]string{
				"bootstrap.servers": "k1:9093,k2:9093", "ssl.keystore.type": "JKS",
				"ssl.keystore.location": "/pki/prod/app/keystore.jks", "ssl.keystore.password": "s3cret-s3cret-s3cret",
				"ssl.truststore.location": "/pki/prod/app/truststore.jks", "ssl.truststore.password": "s3cret-s3cret-s3cret",
			}, nil},
		{"client pem: no passwords, env intermediate as the only anchor",
			KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPEM},
			map[string]string{
				"ssl.keystore.type": "PEM", "ssl.keystore.location": "/pki/dev/client/keystore.pem",
				"ssl.truststore.type": "PEM", "ssl.truststore.location": "/pki/dev/ca.pem",
			},
			[]string{"ssl.keystore.password", "ssl.key.password", "ssl.truststore.password"}},
		{"pem ignores a password",
			KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPEM, Password: "never-printed-here"},
			map[string]string{"ssl.keystore.type": "PEM"},
			[]string{"ssl.keystore.password", "ssl.key.password", "ssl.truststore.password"}},
		{"broker p12: file config provider, mTLS required, env-only principal mapping",
			KafkaOptions{Dir: dir, Env: "dev", Name: "kafka", Role: KafkaBroker, Bootstrap: "kafka:9093"},
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
			KafkaOptions{Dir: dir, Env: "dev", Name: "kafka", Role: KafkaBroker, Password: "literal-literal-x"},
			map[string]string{"ssl.keystore.password": brokerPass}, nil},
		{"broker pem",
			KafkaOptions{Dir: dir, Env: "staging", Name: "kafka", Role: KafkaBroker, Format: KafkaPEM},
			map[string]string{
				"ssl.keystore.type": "PEM", "ssl.keystore.location": "/pki/staging/kafka/keystore.pem",
				"ssl.principal.mapping.rules": "RULE:^CN=([a-z0-9][a-z0-9_.-]*),OU=staging,O=logsys$/$1/",
			},
			[]string{"config.providers", "ssl.keystore.password"}},
		{"backslashes escaped",
			KafkaOptions{Dir: `C:\pki`, Env: "dev", Name: "client", Format: KafkaPEM},
			map[string]string{"ssl.keystore.location": `C:\\pki/dev/client/keystore.pem`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, err := KafkaProperties(tt.opts)
			if err != nil {
				t.Fatalf("KafkaProperties: %v", err)
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
			if tt.opts.Password != "" && (tt.opts.Role == KafkaBroker || tt.opts.Format == KafkaPEM) && strings.Contains(text, tt.opts.Password) {
				t.Errorf("password printed:\n%s", text)
			}
		})
	}
}

func TestKafkaPropertiesRejects(t *testing.T) {
	tests := []struct {
		name, wantErr string
		opts          KafkaOptions
	}{
		{"no dir", "dir is required", KafkaOptions{Env: "dev", Name: "c"}},
		{"bad env", "env", KafkaOptions{Dir: "d", Env: "../x", Name: "c"}},
		{"no name", "name", KafkaOptions{Dir: "d", Env: "dev"}},
		{"format", "format", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Format: "pkcs11"}},
		{"role", "role", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Role: "controller"}},
		{"bootstrap without port", "bootstrap", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Bootstrap: "kafka"}},
		{"bootstrap injection", "bootstrap", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Bootstrap: "k:9093\nssl.client.auth=none"}},
		{"broker with two addresses", "one host:port", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Role: KafkaBroker, Bootstrap: "a:1,b:2"}},
		{"multi-line password", "one line", KafkaOptions{Dir: "d", Env: "dev", Name: "c", Password: "a\nb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := KafkaProperties(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWriteKafkaFiles(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"kafka", "client"})
	l := Layout{Dir: dir}
	tests := []struct {
		name string
		opts KafkaOptions
		want []string
	}{
		{"client p12 needs nothing", KafkaOptions{Dir: dir, Env: "dev", Name: "client"}, nil},
		{"client pem keystore", KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPEM}, []string{l.KeystorePEM("dev", "client")}},
		{"broker jks store.properties", KafkaOptions{Dir: dir, Env: "dev", Name: "kafka", Role: KafkaBroker, Format: KafkaJKS},
			[]string{l.StorePropertiesFile("dev", "kafka")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := MissingKafkaFiles(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(before, ",") != strings.Join(tt.want, ",") {
				t.Errorf("missing before write = %q, want %q", before, tt.want)
			}
			got, err := WriteKafkaFiles(tt.opts)
			if err != nil {
				t.Fatalf("WriteKafkaFiles: %v", err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("wrote %q, want %q", got, tt.want)
			}
			for _, p := range got {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("%s mode %v, want 0600", p, fi.Mode().Perm())
				}
			}
			if after, _ := MissingKafkaFiles(tt.opts); len(after) != 0 {
				t.Errorf("still missing after write: %q", after)
			}
		})
	}

	pass, err := ReadStorePassword(dir, "dev", "kafka")
	if err != nil {
		t.Fatal(err)
	}
	props, err := os.ReadFile(l.StorePropertiesFile("dev", "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	if string(props) != "password="+pass+"\n" {
		t.Errorf("store.properties does not hold store.pass")
	}

	// keystore.pem: exactly one PKCS#8 key, then the leaf and its intermediate.
	key, err := ReadPrivateKey(l.KeyFile("dev", "client"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(l.KeystorePEM("dev", "client"))
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var leaf *x509.Certificate
	var pemKey crypto.Signer
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		types = append(types, b.Type)
		switch {
		case b.Type == "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				t.Fatalf("keystore.pem key: %v", err)
			}
			pemKey = k.(crypto.Signer)
		case leaf == nil:
			if leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatalf("keystore.pem certificate: %v", err)
			}
		}
	}
	if strings.Join(types, ",") != "PRIVATE KEY,CERTIFICATE,CERTIFICATE" {
		t.Fatalf("keystore.pem blocks = %q", types)
	}
	if !leaf.Equal(mustCert(t, l.CertFile("dev", "client"))) || !keyMatches(leaf, pemKey) || !keyMatches(leaf, key) {
		t.Error("keystore.pem does not hold the client's key and certificate")
	}
}

func TestWriteKafkaFilesRefusesMismatchedKey(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"kafka", "client"})
	l := Layout{Dir: dir}
	copyFile(t, l.KeyFile("dev", "kafka"), l.KeyFile("dev", "client"))
	_, err := WriteKafkaFiles(KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPEM})
	if err == nil || !strings.Contains(err.Error(), ErrKeyMismatch.Error()) {
		t.Errorf("error %v, want a key mismatch", err)
	}
	if _, err := os.Stat(l.KeystorePEM("dev", "client")); !os.IsNotExist(err) {
		t.Errorf("keystore.pem written despite the mismatch (stat: %v)", err)
	}
}

// TestKafkaStoresOpenWithKeytool checks that the locations, types and
// passwords the properties name open with the JDK's keytool, the way a
// Kafka client or broker loads them, and that the PEM keystore's key
// matches its certificate with openssl.
func TestKafkaStoresOpenWithKeytool(t *testing.T) {
	keytool := needTool(t, "keytool")
	dir, l := interopPKI(t, []string{"kafka", "client"})
	pass, err := ReadStorePassword(dir, "dev", "client")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts KafkaOptions
	}{
		{"client jks", KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaJKS, Password: pass}},
		{"client p12", KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPKCS12, Password: pass}},
		{"broker jks via store.properties", KafkaOptions{Dir: dir, Env: "dev", Name: "kafka", Role: KafkaBroker, Format: KafkaJKS}},
		{"broker p12 via store.properties", KafkaOptions{Dir: dir, Env: "dev", Name: "kafka", Role: KafkaBroker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := WriteKafkaFiles(tt.opts); err != nil {
				t.Fatal(err)
			}
			text, err := KafkaProperties(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := parseProperties(t, text)
			for _, store := range []struct{ prefix, want string }{
				{"ssl.keystore", "PrivateKeyEntry"}, {"ssl.truststore", "trustedCertEntry"},
			} {
				pw := resolveFileProvider(t, p[store.prefix+".password"])
				out, err := run(t, keytool, "-list", "-keystore", p[store.prefix+".location"],
					"-storetype", p[store.prefix+".type"], "-storepass", pw)
				if err != nil {
					t.Fatalf("keytool -list %s: %v\n%s", p[store.prefix+".location"], err, out)
				}
				if !strings.Contains(out, store.want) {
					t.Errorf("keytool -list %s: no %q in\n%s", p[store.prefix+".location"], store.want, out)
				}
			}
			if tt.opts.Role == KafkaClient {
				if got := p["ssl.key.password"]; got != pass {
					t.Errorf("ssl.key.password is not the store password")
				}
			}
		})
	}

	t.Run("pem keystore", func(t *testing.T) {
		openssl := needTool(t, "openssl")
		o := KafkaOptions{Dir: dir, Env: "dev", Name: "client", Format: KafkaPEM}
		if _, err := WriteKafkaFiles(o); err != nil {
			t.Fatal(err)
		}
		ks := l.KeystorePEM("dev", "client")
		fromKey, err := run(t, openssl, "pkey", "-in", ks, "-pubout")
		if err != nil {
			t.Fatalf("openssl pkey: %v\n%s", err, fromKey)
		}
		fromCert, err := run(t, openssl, "x509", "-in", ks, "-noout", "-pubkey")
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, fromCert)
		}
		if fromKey != fromCert {
			t.Errorf("keystore.pem key and certificate differ:\n%s\n%s", fromKey, fromCert)
		}
		out, err := run(t, openssl, "verify", "-partial_chain", "-CAfile", l.CACert("dev"), ks)
		if err != nil {
			t.Errorf("keystore.pem leaf does not verify against the truststore location ca.pem: %v\n%s", err, out)
		}
	})
}

// resolveFileProvider returns v, or the value a ${file:PATH:KEY}
// reference names, as Kafka's FileConfigProvider reads it.
func resolveFileProvider(t *testing.T, v string) string {
	t.Helper()
	ref, ok := strings.CutPrefix(v, "${file:")
	if !ok {
		return v
	}
	ref = strings.TrimSuffix(ref, "}")
	i := strings.LastIndex(ref, ":")
	data, err := os.ReadFile(ref[:i])
	if err != nil {
		t.Fatal(err)
	}
	props := parseProperties(t, string(data))
	val, ok := props[ref[i+1:]]
	if !ok {
		t.Fatalf("%s has no key %s", ref[:i], ref[i+1:])
	}
	return val
}
