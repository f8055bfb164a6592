package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	dirPerm    = DirPerm
	keyPerm    = SecretPerm
	publicPerm = PublicPerm
)

// write is WriteFile inside the PKI directory. A path outside it (a root
// key kept elsewhere) is written with only its own directory as the root.
func (l Layout) write(path string, data []byte, perm fs.FileMode) error {
	return WriteFile(l.rootOf(path), path, data, perm)
}

// rootOf is the directory below which links are refused for path.
func (l Layout) rootOf(path string) string {
	if _, err := insideDir(l.Dir, path); err == nil {
		return l.Dir
	}
	return filepath.Dir(path)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// pemBlocks decodes every PEM block of data; trailing garbage, an empty
// file or a block of another type is an error.
func pemBlocks(path string, data []byte, wantType string) ([]*pem.Block, error) {
	var blocks []*pem.Block
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != wantType {
			return nil, fileErrf(path, ErrMalformed, "PEM block %d is %q, want %q", len(blocks)+1, b.Type, wantType)
		}
		blocks = append(blocks, b)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		if bytes.Contains(rest, []byte("-----BEGIN")) {
			return nil, fileErrf(path, ErrMalformed, "truncated or corrupt PEM block after %d good block(s)", len(blocks))
		}
		return nil, fileErrf(path, ErrMalformed, "unexpected non-PEM data after %d block(s)", len(blocks))
	}
	if len(blocks) == 0 {
		return nil, fileErrf(path, ErrMalformed, "no %s PEM block", wantType)
	}
	return blocks, nil
}

// ReadCertificates reads a PEM file of one or more certificates; errors
// name the file.
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	return parseCertificates(path, data)
}

func parseCertificates(path string, data []byte) ([]*x509.Certificate, error) {
	blocks, err := pemBlocks(path, data, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fileErrf(path, ErrMalformed, "certificate %d: %v", i+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// ReadPrivateKey reads a PEM PKCS#8 private key; errors name the file.
func ReadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read private key: %w", err)
	}
	return parsePrivateKey(path, data)
}

func parsePrivateKey(path string, data []byte) (crypto.Signer, error) {
	blocks, err := pemBlocks(path, data, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if len(blocks) != 1 {
		return nil, fileErrf(path, ErrMalformed, "%d PEM blocks, want exactly one private key", len(blocks))
	}
	k, err := x509.ParsePKCS8PrivateKey(blocks[0].Bytes)
	if err != nil {
		return nil, fileErrf(path, ErrMalformed, "PKCS#8 private key: %v", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fileErrf(path, ErrMalformed, "unsupported private key type %T", k)
	}
	return s, nil
}

// EncodeCerts returns certs as concatenated PEM CERTIFICATE blocks.
func EncodeCerts(certs ...*x509.Certificate) []byte { return encodeCerts(certs...) }

func encodeCerts(certs ...*x509.Certificate) []byte {
	var buf bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return buf.Bytes()
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writeCerts(l Layout, path string, certs ...*x509.Certificate) error {
	return l.write(path, encodeCerts(certs...), publicPerm)
}

func writeKey(l Layout, path string, key crypto.Signer) error {
	data, err := encodeKey(key)
	if err != nil {
		return err
	}
	return l.write(path, data, keyPerm)
}

// readCertKey reads a certificate file (first cert is the subject) and its
// key, checking that they belong together.
func readCertKey(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	certs, err := ReadCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := ReadPrivateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	if !keyMatches(certs[0], key) {
		return nil, nil, fileErrf(keyPath, ErrKeyMismatch, "does not match %s", certPath)
	}
	return certs[0], key, nil
}

var errNotExist = fs.ErrNotExist

func isNotExist(err error) bool { return errors.Is(err, errNotExist) }

// EncodePrivateKey returns key as a PEM PKCS#8 "PRIVATE KEY" block.
func EncodePrivateKey(key crypto.Signer) ([]byte, error) { return encodeKey(key) }

// ReadLeaf reads the chain (leaf first) and the private key of the leaf
// name of env, checking that they belong together; errors name the file.
// The key is read without following links.
func ReadLeaf(l Layout, env, name string) ([]*x509.Certificate, crypto.Signer, error) {
	certPath, keyPath := l.CertFile(env, name), l.KeyFile(env, name)
	certs, err := ReadCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	data, err := ReadSecret(l.Dir, keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read private key: %w", err)
	}
	key, err := parsePrivateKey(keyPath, data)
	if err != nil {
		return nil, nil, err
	}
	if !keyMatches(certs[0], key) {
		return nil, nil, fileErrf(keyPath, ErrKeyMismatch, "does not match %s", certPath)
	}
	return certs, key, nil
}
