package kafkaprops

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"logsys/internal/testutil"
	"logsys/pki"
)

func TestWriteFiles(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"kafka", "client"})
	l := pki.Layout{Dir: dir}
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"client p12 needs nothing", Options{Dir: dir, Env: "dev", Name: "client"}, nil},
		{"client pem keystore", Options{Dir: dir, Env: "dev", Name: "client", Format: PEM}, []string{l.KeystorePEM("dev", "client")}},
		{"broker jks store.properties", Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker, Format: JKS},
			[]string{l.StorePropertiesFile("dev", "kafka")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, err := MissingFiles(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(before, ",") != strings.Join(tt.want, ",") {
				t.Errorf("missing before write = %q, want %q", before, tt.want)
			}
			got, err := WriteFiles(tt.opts)
			if err != nil {
				t.Fatalf("WriteFiles: %v", err)
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
			if after, _ := MissingFiles(tt.opts); len(after) != 0 {
				t.Errorf("still missing after write: %q", after)
			}
		})
	}

	pass, err := pki.ReadStorePassword(dir, "dev", "kafka")
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
	key, err := pki.ReadPrivateKey(l.KeyFile("dev", "client"))
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

func TestWriteFilesRefusesMismatchedKey(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"kafka", "client"})
	l := pki.Layout{Dir: dir}
	testutil.CopyFile(t, l.KeyFile("dev", "kafka"), l.KeyFile("dev", "client"))
	_, err := WriteFiles(Options{Dir: dir, Env: "dev", Name: "client", Format: PEM})
	if err == nil || !strings.Contains(err.Error(), pki.ErrKeyMismatch.Error()) {
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
	keytool := testutil.NeedTool(t, "keytool")
	dir, l := interopPKI(t, []string{"kafka", "client"})
	pass, err := pki.ReadStorePassword(dir, "dev", "client")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
	}{
		{"client jks", Options{Dir: dir, Env: "dev", Name: "client", Format: JKS, Password: pass}},
		{"client p12", Options{Dir: dir, Env: "dev", Name: "client", Format: PKCS12, Password: pass}},
		{"broker jks via store.properties", Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker, Format: JKS}},
		{"broker p12 via store.properties", Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := WriteFiles(tt.opts); err != nil {
				t.Fatal(err)
			}
			text, err := Properties(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p := parseProperties(t, text)
			for _, store := range []struct{ prefix, want string }{
				{"ssl.keystore", "PrivateKeyEntry"}, {"ssl.truststore", "trustedCertEntry"},
			} {
				pw := resolveFileProvider(t, p[store.prefix+".password"])
				out, err := testutil.RunTool(t, keytool, "-list", "-keystore", p[store.prefix+".location"],
					"-storetype", p[store.prefix+".type"], "-storepass", pw)
				if err != nil {
					t.Fatalf("keytool -list %s: %v\n%s", p[store.prefix+".location"], err, out)
				}
				if !strings.Contains(out, store.want) {
					t.Errorf("keytool -list %s: no %q in\n%s", p[store.prefix+".location"], store.want, out)
				}
			}
			if tt.opts.Role == Client {
				if got := p["ssl.key.password"]; got != pass {
					t.Errorf("ssl.key.password is not the store password")
				}
			}
		})
	}

	t.Run("pem keystore", func(t *testing.T) {
		openssl := testutil.NeedTool(t, "openssl")
		o := Options{Dir: dir, Env: "dev", Name: "client", Format: PEM}
		if _, err := WriteFiles(o); err != nil {
			t.Fatal(err)
		}
		ks := l.KeystorePEM("dev", "client")
		fromKey, err := testutil.RunTool(t, openssl, "pkey", "-in", ks, "-pubout")
		if err != nil {
			t.Fatalf("openssl pkey: %v\n%s", err, fromKey)
		}
		fromCert, err := testutil.RunTool(t, openssl, "x509", "-in", ks, "-noout", "-pubkey")
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, fromCert)
		}
		if fromKey != fromCert {
			t.Errorf("keystore.pem key and certificate differ:\n%s\n%s", fromKey, fromCert)
		}
		out, err := testutil.RunTool(t, openssl, "verify", "-partial_chain", "-CAfile", l.CACert("dev"), ks)
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

func TestSnippet(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"kafka", "client"})
	pass, err := pki.ReadStorePassword(dir, "dev", "client")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Snippet(Request{Options: Options{Dir: dir, Env: "dev", Name: "client"}, IncludePassword: true})
	if err != nil || !strings.Contains(res.Properties, "ssl.keystore.password="+pass) || len(res.Missing) != 0 {
		t.Fatalf("client with password: %v %+v", err, res)
	}
	res, err = Snippet(Request{Options: Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker}, Write: true})
	if err != nil || len(res.Wrote) != 1 || len(res.Missing) != 0 {
		t.Fatalf("broker with --write: %v %+v", err, res)
	}
	res, err = Snippet(Request{Options: Options{Dir: dir, Env: "dev", Name: "client", Format: PEM}})
	if err != nil || len(res.Missing) != 1 {
		t.Fatalf("pem without --write: %v %+v, want keystore.pem missing", err, res)
	}
	for _, req := range []Request{
		{Options: Options{Dir: dir, Env: "dev", Name: "kafka", Role: Broker}, IncludePassword: true},
		{Options: Options{Dir: dir, Env: "dev", Name: "client", Format: PEM}, IncludePassword: true},
	} {
		if res, err := Snippet(req); err == nil || !strings.Contains(err.Error(), "--include-password") || strings.Contains(res.Properties, pass) {
			t.Errorf("%+v: %v, want an --include-password refusal", req.Options, err)
		}
	}
}
