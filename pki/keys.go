package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// KeyType names a key algorithm for newly generated keys.
type KeyType string

// Supported key types. ECDSA P-256 is the default.
const (
	KeyECDSAP256 KeyType = "ecdsa-p256"
	KeyRSA2048   KeyType = "rsa2048"
	KeyRSA4096   KeyType = "rsa4096"
	KeyEd25519   KeyType = "ed25519"
)

// ParseKeyType validates s; the empty string means the default.
func ParseKeyType(s string) (KeyType, error) {
	switch k := KeyType(s); k {
	case "":
		return KeyECDSAP256, nil
	case KeyECDSAP256, KeyRSA2048, KeyRSA4096, KeyEd25519:
		return k, nil
	}
	return "", fmt.Errorf("unknown key type %q: want ecdsa-p256, rsa2048, rsa4096 or ed25519", s)
}

// generate makes a new private key of type k.
func (k KeyType) generate() (crypto.Signer, error) {
	switch k {
	case KeyECDSAP256, "":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyRSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case KeyRSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case KeyEd25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unknown key type %q", k)
}

// keyMatches reports whether key is the private half of cert's public key.
func keyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// randomSerial returns a positive random serial of at most 128 bits with
// the top bit cleared, so its DER encoding never exceeds 16 octets.
// RandomSerial returns a positive random serial of more than 64 bits
// (RFC 5280 allows at most 20 octets).
func RandomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 127)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("generate serial: %w", err)
		}
		if n.BitLen() > 64 { // never tiny, never zero
			return n, nil
		}
	}
}

// SubjectKeyID derives a key identifier from the SubjectPublicKeyInfo's key
// bits: SHA-256 truncated to 160 bits (RFC 7093 method 1).
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	var spki struct {
		Algorithm asn1.RawValue
		Key       asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	sum := sha256.Sum256(spki.Key.Bytes)
	return sum[:20], nil
}
