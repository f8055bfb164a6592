package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

// readCRL reads a PEM CRL and checks that issuer signed it.
func readCRL(path string, issuer *x509.Certificate) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read crl: %w", err)
	}
	blocks, err := pemBlocks(path, data, "X509 CRL")
	if err != nil {
		return nil, err
	}
	if len(blocks) != 1 {
		return nil, fileErrf(path, ErrMalformed, "%d PEM blocks, want one CRL", len(blocks))
	}
	crl, err := x509.ParseRevocationList(blocks[0].Bytes)
	if err != nil {
		return nil, fileErrf(path, ErrMalformed, "parse CRL: %v", err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fileErrf(path, ErrWrongIssuer, "CRL not signed by %q: %v", issuer.Subject.CommonName, err)
	}
	return crl, nil
}

// writeCRL signs a CRL with the given entries and number.
func writeCRL(l Layout, path string, now time.Time, ca *Issuer, number *big.Int, entries []x509.RevocationListEntry) (*x509.RevocationList, error) {
	return writeCRLUntil(l, path, now, now.Add(CRLLifetime), ca, number, entries)
}

// writeCRLUntil signs a CRL valid until next.
func writeCRLUntil(l Layout, path string, now, next time.Time, ca *Issuer, number *big.Int, entries []x509.RevocationListEntry) (*x509.RevocationList, error) {
	tmpl := &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                now.UTC(),
		NextUpdate:                next.UTC(),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		return nil, fmt.Errorf("sign crl %s: %w", path, err)
	}
	if err := l.write(path, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}), publicPerm); err != nil {
		return nil, err
	}
	return x509.ParseRevocationList(der)
}

// crlNeedsResign reports whether a CRL is at or past half its lifetime.
func crlNeedsResign(crl *x509.RevocationList, now time.Time) bool {
	if now.Before(crl.ThisUpdate) || !now.Before(crl.NextUpdate) {
		return true
	}
	half := crl.ThisUpdate.Add(crl.NextUpdate.Sub(crl.ThisUpdate) / 2)
	return !now.Before(half)
}

func nextNumber(crl *x509.RevocationList) *big.Int {
	if crl == nil || crl.Number == nil {
		return big.NewInt(1)
	}
	return new(big.Int).Add(crl.Number, big.NewInt(1))
}

func isRevoked(crl *x509.RevocationList, serial *big.Int) bool {
	if crl == nil {
		return false
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
