package enroll

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"logsys/ca/wire"
	"logsys/pki"
)

// pinFile is where StateDir keeps the pinned root: <env>/root.pem. It is
// the one file of a state directory that a `logsys pki` directory does not
// have (and that `pki inspect --identities` ignores).
func (r *Renewer) pinFile() string { return filepath.Join(r.l.EnvDir(r.cfg.Env), "root.pem") }

// loadPin settles the pinned root: <env>/root.pem of StateDir when present
// (it is never replaced by anything the CA sends), else the root of
// CABundle, else (state written before roots were pinned) the root of the
// state's ca-chain.pem. CABundle's intermediates must be signed by it.
func (r *Renewer) loadPin() error {
	saved, err := readRoot(r.pinFile(), true)
	if err != nil {
		return err
	}
	var fromBundle *x509.Certificate
	var bundleCerts []*x509.Certificate
	if r.cfg.CABundle != "" {
		data, err := os.ReadFile(r.cfg.CABundle)
		if err != nil {
			return fmt.Errorf("enroll: ca bundle: %w", err)
		}
		if bundleCerts, err = parseCerts(data); err != nil {
			return fmt.Errorf("enroll: ca bundle %s: %w", r.cfg.CABundle, err)
		}
		for _, c := range bundleCerts {
			if !isSelfSigned(c) {
				continue
			}
			if fromBundle != nil && !fromBundle.Equal(c) {
				return fmt.Errorf("enroll: ca bundle %s holds two roots; it must hold the environment's chain of one root", r.cfg.CABundle)
			}
			fromBundle = c
		}
	}
	switch {
	case saved != nil && fromBundle != nil && !saved.Equal(fromBundle):
		return fmt.Errorf("enroll: ca bundle %s: its root %q differs from the root pinned in %s (remove that file to pin another root)",
			r.cfg.CABundle, fromBundle.Subject, r.pinFile())
	case saved != nil:
		r.pin, r.pinSaved = pinnedTo{root: saved}, true
	case fromBundle != nil:
		r.pin = pinnedTo{root: fromBundle}
	default:
		legacy, err := readRoot(r.l.ChainFile(r.cfg.Env), false)
		if err != nil || legacy == nil {
			return fmt.Errorf("enroll: no root to pin: set the ca bundle to the environment's ca-chain.pem (intermediate and root)")
		}
		r.pin = pinnedTo{root: legacy}
	}
	if r.bootstrap, err = r.pin.intermediates("ca bundle "+r.cfg.CABundle, encodeCerts(bundleCerts)); err != nil && r.cfg.CABundle != "" {
		return fmt.Errorf("enroll: %w", err)
	}
	return nil
}

// readBundle re-reads CABundle: an operator (or `logsys all`, whose bundle
// is the live ca-chain.pem) may replace it, for example after a rollover.
// Its intermediates must still be signed by the pinned root.
func (r *Renewer) readBundle() ([]*x509.Certificate, error) {
	data, err := os.ReadFile(r.cfg.CABundle)
	if err != nil {
		return nil, fmt.Errorf("ca bundle: %w", err)
	}
	return r.pin.intermediates("ca bundle "+r.cfg.CABundle, data)
}

// readRoot returns the self-signed CA certificate of path (nil when the
// file is absent). With only set, the file must hold nothing else.
func readRoot(path string, only bool) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("enroll: %s: %w", path, err)
	}
	for _, c := range certs {
		if isSelfSigned(c) && c.IsCA {
			if only && len(certs) != 1 {
				return nil, fmt.Errorf("enroll: %s must hold exactly the pinned root", path)
			}
			return c, nil
		}
	}
	if only {
		return nil, fmt.Errorf("enroll: %s holds no self-signed root", path)
	}
	return nil, nil
}

// loadDisk installs the certificate, key and trust bundle found in
// StateDir when they pass the checks a fresh answer of the CA would.
func (r *Renewer) loadDisk() error {
	env, name := r.cfg.Env, r.cfg.Name
	read := func(path string, optional bool) (string, error) {
		b, err := os.ReadFile(path)
		if optional && errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		return string(b), err
	}
	var errs []error
	certPEM, err := read(r.l.CertFile(env, name), false)
	errs = append(errs, err)
	keyPEM, err := read(r.l.KeyFile(env, name), false)
	errs = append(errs, err)
	var t wire.Trust
	t.CA, err = read(r.l.CACert(env), false)
	errs = append(errs, err)
	t.Bundle, err = read(r.l.BundleFile(env), true)
	errs = append(errs, err)
	t.Chain, err = read(r.l.ChainFile(env), true)
	errs = append(errs, err)
	t.CRL, err = read(r.l.CRLFile(env), false)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	h := &held{certPEM: []byte(certPEM), keyPEM: []byte(keyPEM), trust: t}
	if h.cert, err = r.pair(h.certPEM, h.keyPEM); err != nil {
		return fmt.Errorf("%s: %w", r.l.CertFile(env, name), err)
	}
	if h.anchors, err = r.pin.verifyTrust(t); err != nil {
		return fmt.Errorf("state in %s: %w", r.l.EnvDir(env), err)
	}
	if err := covers(h.anchors, h.cert); err != nil {
		return fmt.Errorf("%s: %w", r.l.CertFile(env, name), err)
	}
	r.install(h)
	return nil
}

// writeState saves h for restarts: the pin (once), the trust bundle, then
// the new key and certificate (renamed back to back), then removes
// bundle.pem when the overlap ended.
func (r *Renewer) writeState(h *held) error {
	if !r.pinSaved {
		if err := pki.WriteFile(r.l.Dir, r.pinFile(), encodeCerts([]*x509.Certificate{r.pin.root}), pki.PublicPerm); err != nil {
			return err
		}
		r.pinSaved = true
	}
	return r.writeTrust(h.trust, func() error {
		k, err := pki.Stage(r.l.Dir, r.l.KeyFile(r.cfg.Env, r.cfg.Name), h.keyPEM, pki.SecretPerm)
		if err != nil {
			return err
		}
		c, err := pki.Stage(r.l.Dir, r.l.CertFile(r.cfg.Env, r.cfg.Name), h.certPEM, pki.PublicPerm)
		if err != nil {
			k.Discard()
			return err
		}
		return pki.Commit(k, c)
	})
}

// writeTrust writes bundle.pem (when present), ca.pem, ca-chain.pem and
// crl.pem, runs between (if any), and finally removes a stale bundle.pem.
// Unchanged files are left alone.
func (r *Renewer) writeTrust(t wire.Trust, between func() error) error {
	env := r.cfg.Env
	files := []struct {
		path string
		data string
	}{{r.l.BundleFile(env), t.Bundle}, {r.l.CACert(env), t.CA}, {r.l.ChainFile(env), t.Chain}, {r.l.CRLFile(env), t.CRL}}
	var staged []*pki.Staged
	for _, f := range files {
		if f.data == "" {
			continue
		}
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, []byte(f.data)) {
			continue
		}
		s, err := pki.Stage(r.l.Dir, f.path, []byte(f.data), pki.PublicPerm)
		if err != nil {
			for _, x := range staged {
				x.Discard()
			}
			return err
		}
		staged = append(staged, s)
	}
	if err := pki.Commit(staged...); err != nil {
		return err
	}
	if between != nil {
		if err := between(); err != nil {
			return err
		}
	}
	if t.Bundle == "" {
		return pki.RemoveFile(r.l.Dir, r.l.BundleFile(env))
	}
	return nil
}
