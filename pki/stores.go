package pki

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pavlo-v-chernykh/keystore-go/v4"
	"software.sslmate.com/src/go-pkcs12"
)

// newPassword returns 128 random bits as hex, the strength go-pkcs12's
// modern encoder asks for.
func newPassword() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate store password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// ReadStorePassword returns the password of the leaf's keystores and
// truststores (store.pass).
func ReadStorePassword(dir, env, name string) (string, error) {
	l := Layout{Dir: dir}
	return readPassword(l, l.PassFile(env, name))
}

// readPassword reads store.pass without following a link (a planted link
// would turn another file's content into the store password).
func readPassword(l Layout, path string) (string, error) {
	data, err := ReadSecret(l.rootOf(path), path)
	if err != nil {
		return "", fmt.Errorf("read store password: %w", err)
	}
	p := strings.TrimSpace(string(data))
	if len(p) < 16 {
		return "", fileErrf(path, ErrMalformed, "store password shorter than 16 characters")
	}
	return p, nil
}

// trustEntry is one CA certificate of a truststore with its alias.
type trustEntry struct {
	alias string
	cert  *x509.Certificate
}

func encodeKeystoreP12(key crypto.Signer, chain []*x509.Certificate, pass string) ([]byte, error) {
	data, err := pkcs12.Modern.Encode(key, chain[0], chain[1:], pass)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12 keystore: %w", err)
	}
	return data, nil
}

func encodeTruststoreP12(trust []trustEntry, pass string) ([]byte, error) {
	entries := make([]pkcs12.TrustStoreEntry, 0, len(trust))
	for _, t := range trust {
		entries = append(entries, pkcs12.TrustStoreEntry{Cert: t.cert, FriendlyName: t.alias})
	}
	data, err := pkcs12.Modern.EncodeTrustStoreEntries(entries, pass)
	if err != nil {
		return nil, fmt.Errorf("encode PKCS#12 truststore: %w", err)
	}
	return data, nil
}

func jksCert(c *x509.Certificate) keystore.Certificate {
	return keystore.Certificate{Type: "X509", Content: c.Raw}
}

func encodeKeystoreJKS(now time.Time, alias string, key crypto.Signer, chain []*x509.Certificate, pass string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode JKS keystore: %w", err)
	}
	ks := keystore.New()
	entry := keystore.PrivateKeyEntry{CreationTime: now, PrivateKey: der}
	for _, c := range chain {
		entry.CertificateChain = append(entry.CertificateChain, jksCert(c))
	}
	if err := ks.SetPrivateKeyEntry(alias, entry, []byte(pass)); err != nil {
		return nil, fmt.Errorf("encode JKS keystore: %w", err)
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(pass)); err != nil {
		return nil, fmt.Errorf("encode JKS keystore: %w", err)
	}
	return buf.Bytes(), nil
}

func encodeTruststoreJKS(now time.Time, trust []trustEntry, pass string) ([]byte, error) {
	ks := keystore.New()
	for _, t := range trust {
		e := keystore.TrustedCertificateEntry{CreationTime: now, Certificate: jksCert(t.cert)}
		if err := ks.SetTrustedCertificateEntry(t.alias, e); err != nil {
			return nil, fmt.Errorf("encode JKS truststore: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := ks.Store(&buf, []byte(pass)); err != nil {
		return nil, fmt.Errorf("encode JKS truststore: %w", err)
	}
	return buf.Bytes(), nil
}

// storesCurrent reports whether the four stores exist, open with pass and
// hold exactly the wanted leaf and trust anchors.
func storesCurrent(l Layout, env, name, pass string, leaf *x509.Certificate, trust []trustEntry) (bool, string) {
	p12, err := os.ReadFile(l.KeystoreP12(env, name))
	if err != nil {
		return false, "keystore.p12 missing"
	}
	_, c, _, err := pkcs12.DecodeChain(p12, pass)
	if err != nil || !c.Equal(leaf) {
		return false, "keystore.p12 does not hold the current certificate"
	}
	tp12, err := os.ReadFile(l.TruststoreP12(env, name))
	if err != nil {
		return false, "truststore.p12 missing"
	}
	tcerts, err := pkcs12.DecodeTrustStore(tp12, pass)
	if err != nil || len(tcerts) != len(trust) {
		return false, "truststore.p12 does not hold the current CAs"
	}
	for i := range trust {
		if !tcerts[i].Equal(trust[i].cert) {
			return false, "truststore.p12 does not hold the current CAs"
		}
	}
	if ok, why := jksCurrent(l.KeystoreJKS(env, name), pass, name, leaf); !ok {
		return false, why
	}
	return jksTrustCurrent(l.TruststoreJKS(env, name), pass, trust)
}

func loadJKS(path, pass string) (keystore.KeyStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return keystore.KeyStore{}, err
	}
	defer f.Close()
	ks := keystore.New()
	return ks, ks.Load(f, []byte(pass))
}

func jksCurrent(path, pass, alias string, leaf *x509.Certificate) (bool, string) {
	ks, err := loadJKS(path, pass)
	if err != nil {
		return false, "keystore.jks missing or unreadable"
	}
	chain, err := ks.GetPrivateKeyEntryCertificateChain(alias)
	if err != nil || len(chain) == 0 || !bytes.Equal(chain[0].Content, leaf.Raw) {
		return false, "keystore.jks does not hold the current certificate"
	}
	return true, ""
}

func jksTrustCurrent(path, pass string, trust []trustEntry) (bool, string) {
	ks, err := loadJKS(path, pass)
	if err != nil {
		return false, "truststore.jks missing or unreadable"
	}
	if len(ks.Aliases()) != len(trust) {
		return false, "truststore.jks does not hold the current CAs"
	}
	for _, t := range trust {
		e, err := ks.GetTrustedCertificateEntry(t.alias)
		if err != nil || !bytes.Equal(e.Certificate.Content, t.cert.Raw) {
			return false, "truststore.jks does not hold the current CAs"
		}
	}
	return true, ""
}
