package pki

import (
	"crypto/x509"
	"fmt"
	"time"
)

// RootCRLLifetime is how long the root's CRL stays valid. It is long
// because signing it needs the root key, which may be kept offline.
const RootCRLLifetime = 180 * 24 * time.Hour

// ensureRootCRL creates or re-signs root/crl.pem when the root key is at
// hand, keeping its entries; with the key offline an existing CRL is kept.
func ensureRootCRL(r *Report, l Layout, now time.Time, o InitOptions, root *x509.Certificate) error {
	path := l.RootCRL()
	var cur *x509.RevocationList
	if exists(path) {
		crl, err := readCRL(path, root)
		if err != nil {
			return err
		}
		cur = crl
	}
	if !exists(o.RootKeyPath) {
		if cur != nil {
			r.add(l, path, OpKept, "root key offline: re-sign it with the key at hand before "+cur.NextUpdate.UTC().Format(time.RFC3339))
		}
		return nil
	}
	if cur != nil && !crlNeedsResign(cur, now) {
		r.add(l, path, OpKept, "")
		return nil
	}
	ra, err := loadRootAuthority(l, root, o.RootKeyPath)
	if err != nil {
		return err
	}
	var entries []x509.RevocationListEntry
	if cur != nil {
		entries = cur.RevokedCertificateEntries
	}
	tmplNext := now.Add(RootCRLLifetime)
	if _, err := writeCRLUntil(l, path, now, tmplNext, ra, nextNumber(cur), entries); err != nil {
		return fmt.Errorf("root crl: %w", err)
	}
	if cur == nil {
		r.add(l, path, OpCreated, "")
	} else {
		r.add(l, path, OpReplaced, "nextUpdate "+cur.NextUpdate.UTC().Format(time.RFC3339)+" is near")
	}
	return nil
}
