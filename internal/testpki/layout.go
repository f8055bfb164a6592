package testpki

import (
	"fmt"
	"os"
	"path/filepath"
)

// Files names the files of one leaf in the `logsys pki init` layout.
type Files struct {
	CA     string // DIR/<env>/ca.pem: the current intermediate
	Chain  string // DIR/<env>/ca-chain.pem: intermediate then root
	Bundle string // DIR/<env>/bundle.pem: only during rollover
	CRL    string // DIR/<env>/crl.pem
	Cert   string // DIR/<env>/<name>/cert.pem: leaf then intermediate
	Key    string // DIR/<env>/<name>/key.pem: PKCS#8
}

// Paths returns the layout's file names for name in env under dir.
func Paths(dir, env, name string) Files {
	e := filepath.Join(dir, env)
	return Files{
		CA:     filepath.Join(e, "ca.pem"),
		Chain:  filepath.Join(e, "ca-chain.pem"),
		Bundle: filepath.Join(e, "bundle.pem"),
		CRL:    filepath.Join(e, "crl.pem"),
		Cert:   filepath.Join(e, name, "cert.pem"),
		Key:    filepath.Join(e, name, "key.pem"),
	}
}

// WriteLayout writes every env's CA files and every leaf issued so far.
func (ca *CA) WriteLayout(dir string) {
	ca.t.Helper()
	for _, env := range ca.order {
		ca.WriteEnv(dir, env)
		e := ca.env(env)
		ca.mu.Lock()
		leaves := append([]*Leaf(nil), e.leaves...)
		ca.mu.Unlock()
		for _, l := range leaves {
			ca.WriteLeaf(dir, l)
		}
	}
}

// WriteEnv writes env's ca.pem, ca-chain.pem and crl.pem, and bundle.pem
// while env has more than one intermediate (removing it otherwise).
func (ca *CA) WriteEnv(dir, env string) Files {
	ca.t.Helper()
	f := Paths(dir, env, "")
	ca.WriteFile(f.CA, ca.CAPEM(env), 0o644)
	ca.WriteFile(f.Chain, ca.ChainPEM(env), 0o644)
	ca.WriteFile(f.CRL, ca.CRLPEM(env), 0o644)
	if len(ca.Intermediates(env)) > 1 {
		ca.WriteFile(f.Bundle, ca.BundlePEM(env), 0o644)
	} else if err := os.Remove(f.Bundle); err != nil && !os.IsNotExist(err) {
		ca.t.Fatalf("testpki: remove bundle: %v", err)
	}
	return f
}

// WriteLeaf writes l's cert.pem and key.pem under dir/<env>/<name>/ and
// returns the layout's file names for it.
func (ca *CA) WriteLeaf(dir string, l *Leaf) Files {
	ca.t.Helper()
	f := Paths(dir, l.Env, l.Name)
	ca.WriteFile(f.Cert, l.CertPEM, 0o644)
	ca.WriteFile(f.Key, l.KeyPEM, 0o600)
	return f
}

// WriteFile replaces path atomically (temp file, fsync, rename), creating
// parent directories 0700, the way the real PKI rotates files.
func (ca *CA) WriteFile(path string, data []byte, perm os.FileMode) {
	ca.t.Helper()
	if err := writeFile(path, data, perm); err != nil {
		ca.t.Fatalf("testpki: %v", err)
	}
}

func writeFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}
