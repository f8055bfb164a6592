package spiffeid

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a certificate whose subjectAltName holds exactly the
// given URIs, byte for byte (written as a raw extension, so no URL
// re-encoding can change them).
func selfSigned(t *testing.T, uris ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Unix(0, 0).Add(time.Hour),
	}
	if len(uris) > 0 {
		var names []asn1.RawValue
		for _, u := range uris {
			names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tagURI, Bytes: []byte(u)})
		}
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("localhost")})
		val, err := asn1.Marshal(names)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: oidSubjectAltName, Value: val}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFromCert(t *testing.T) {
	tests := []struct {
		name string
		uris []string
		want string // ID or error substring
		ok   bool
	}{
		{"one canonical id", []string{"spiffe://logsys.local/dev/gateway"}, "spiffe://logsys.local/dev/gateway", true},
		{"no san", nil, "no URI SAN", false},
		{"percent-encoded name", []string{"spiffe://logsys.local/dev/%63lient"}, "percent-encoding", false},
		{"uppercase trust domain", []string{"spiffe://LOGSYS.local/dev/client"}, "trust domain", false},
		{"dot segment", []string{"spiffe://logsys.local/dev/./client"}, "dot segment", false},
		{"empty segment", []string{"spiffe://logsys.local/dev//client"}, "empty path segment", false},
		{"trailing slash", []string{"spiffe://logsys.local/dev/client/"}, "empty path segment", false},
		// crypto/x509's c.URIs would re-encode these two as the canonical form.
		{"empty fragment", []string{"spiffe://logsys.local/dev/client#"}, "not allowed", false},
		{"empty query", []string{"spiffe://logsys.local/dev/client?"}, "not allowed", false},
		{"two spiffe ids", []string{"spiffe://logsys.local/dev/client", "spiffe://logsys.local/dev/gateway"}, "2 URI SANs", false},
		{"spiffe id and another uri", []string{"spiffe://logsys.local/dev/client", "https://example.org/x"}, "2 URI SANs", false},
		{"non-spiffe uri", []string{"https://example.org/x"}, "want spiffe://", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := FromCert(selfSigned(t, tt.uris...))
			if tt.ok {
				if err != nil || id.String() != tt.want {
					t.Fatalf("FromCert = %v, %v; want %s", id, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("FromCert = %v, %v; want an error containing %q", id, err, tt.want)
			}
		})
	}
}

// TestFromCertTemplateURL checks the ID as a template URL survives
// crypto/x509's encoding unchanged.
func TestFromCertTemplateURL(t *testing.T) {
	id := ID{"logsys.local", "dev", "client"}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Unix(0, 0), NotAfter: time.Unix(3600, 0),
		URIs: []*url.URL{id.URL()}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	got, err := FromCert(c)
	if err != nil || got != id {
		t.Fatalf("FromCert = %v, %v; want %v", got, err, id)
	}
}
