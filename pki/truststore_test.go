package pki

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"logsys/internal/testutil"

	"software.sslmate.com/src/go-pkcs12"
)

// truststoreCerts returns the certificates of env's truststore of name in
// format "p12" or "jks".
func truststoreCerts(t *testing.T, l Layout, env, name, format string) []*x509.Certificate {
	t.Helper()
	pass, err := readPassword(l, l.PassFile(env, name))
	if err != nil {
		t.Fatal(err)
	}
	if format == "p12" {
		data, err := os.ReadFile(l.TruststoreP12(env, name))
		if err != nil {
			t.Fatal(err)
		}
		certs, err := pkcs12.DecodeTrustStore(data, pass)
		if err != nil {
			t.Fatal(err)
		}
		return certs
	}
	ks, err := loadJKS(l.TruststoreJKS(env, name), pass)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for _, alias := range ks.Aliases() {
		e, err := ks.GetTrustedCertificateEntry(alias)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(e.Certificate.Content)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	return certs
}

// TestTruststoresPinTheEnvironment replays issue 12 item 9 with Go's
// verifier: a server chain as a dev broker presents it (leaf, dev
// intermediate, root) must verify against a dev truststore and fail
// against a staging one, although both environments share the root.
func TestTruststoresPinTheEnvironment(t *testing.T) {
	dir := newPKI(t, []string{"dev", "staging"}, []string{"kafka", "client"})
	l := Layout{Dir: dir}
	root := mustCert(t, l.RootCert())
	devChain, err := ReadCertificates(l.CertFile("dev", "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	presented := append(devChain, root) // a server may send the root too
	accepted := 0
	for _, format := range []string{"p12", "jks"} {
		for _, env := range []string{"dev", "staging"} {
			anchors := truststoreCerts(t, l, env, "client", format)
			pool := x509.NewCertPool()
			for _, c := range anchors {
				if c.Equal(root) || bytes.Equal(c.RawIssuer, c.RawSubject) {
					t.Errorf("%s truststore.%s holds a self-signed certificate %q", env, format, c.Subject.CommonName)
				}
				pool.AddCert(c)
			}
			inter := x509.NewCertPool()
			for _, c := range presented[1:] {
				inter.AddCert(c)
			}
			_, err := presented[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, CurrentTime: t0,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
			switch {
			case env == "dev" && err != nil:
				t.Errorf("dev truststore.%s refuses the dev broker: %v", format, err)
			case env == "staging" && err == nil:
				accepted++
				t.Errorf("staging truststore.%s accepts the dev broker", format)
			}
		}
	}
	if accepted != 0 {
		t.Fatalf("%d staging truststores accepted a dev server", accepted)
	}
}

// javaCheck validates a PEM chain with the JDK's PKIX trust manager, the
// one a Java Kafka client builds from ssl.truststore.*.
const javaCheck = `import java.io.*;
import java.security.KeyStore;
import java.security.cert.*;
import java.util.*;
import javax.net.ssl.*;

// Usage: TrustCheck CHAIN.pem (STORE TYPE PASSWORD)... prints one line per store.
public class TrustCheck {
    public static void main(String[] a) throws Exception {
        List<X509Certificate> chain = new ArrayList<>();
        try (InputStream in = new FileInputStream(a[0])) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) chain.add((X509Certificate) c);
        }
        for (int i = 1; i + 2 < a.length; i += 3) {
            KeyStore ks = KeyStore.getInstance(a[i + 1]);
            try (InputStream in = new FileInputStream(a[i])) { ks.load(in, a[i + 2].toCharArray()); }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            X509TrustManager tm = (X509TrustManager) tmf.getTrustManagers()[0];
            try {
                tm.checkServerTrusted(chain.toArray(new X509Certificate[0]), "ECDHE_ECDSA");
                System.out.println("TRUSTED");
            } catch (CertificateException e) {
                System.out.println("REFUSED " + e.getMessage().replace('\n', ' '));
            }
        }
    }
}
`

// TestJavaTruststoresPinTheEnvironment is the same check with Java's
// PKIX: an intermediate-only truststore is a valid anchor set for Java,
// and the staging one refuses the dev broker's chain.
func TestJavaTruststoresPinTheEnvironment(t *testing.T) {
	java := testutil.NeedTool(t, "java")
	dir, l := interopPKI(t, []string{"kafka", "client"}) // envs dev and prod, real time
	src := filepath.Join(t.TempDir(), "TrustCheck.java")
	if err := os.WriteFile(src, []byte(javaCheck), 0o600); err != nil {
		t.Fatal(err)
	}
	chain := filepath.Join(t.TempDir(), "presented.pem")
	certs, err := ReadCertificates(l.CertFile("dev", "kafka"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chain, encodeCerts(append(certs, mustCert(t, l.RootCert()))...), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env, typ, store string
		want            string
	}{
		{"dev", "PKCS12", l.TruststoreP12("dev", "client"), "TRUSTED"},
		{"dev", "JKS", l.TruststoreJKS("dev", "client"), "TRUSTED"},
		{"prod", "PKCS12", l.TruststoreP12("prod", "client"), "REFUSED"},
		{"prod", "JKS", l.TruststoreJKS("prod", "client"), "REFUSED"},
	}
	args := []string{src, chain}
	for _, tt := range tests {
		pass, err := ReadStorePassword(dir, tt.env, "client")
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, tt.store, tt.typ, pass)
	}
	out, err := testutil.RunTool(t, java, args...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err != nil || len(lines) != len(tests) {
		t.Fatalf("java trust check: %v\n%s", err, out)
	}
	for i, tt := range tests {
		if !strings.HasPrefix(lines[i], tt.want) {
			t.Errorf("%s truststore (%s) on the dev broker's chain: %s, want %s", tt.env, tt.typ, lines[i], tt.want)
		}
	}
}
