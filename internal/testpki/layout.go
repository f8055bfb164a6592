package testpki

import (
	"os"
	"path/filepath"
	"testing"

	"logsys/pki"
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

// Paths returns the layout's file names for name in env under dir, as
// pki.Layout names them.
func Paths(dir, env, name string) Files {
	l := pki.Layout{Dir: dir}
	return Files{
		CA:     l.CACert(env),
		Chain:  l.ChainFile(env),
		Bundle: l.BundleFile(env),
		CRL:    l.CRLFile(env),
		Cert:   l.CertFile(env, name),
		Key:    l.KeyFile(env, name),
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
	ca.write(dir, f.CA, ca.CAPEM(env), pki.PublicPerm)
	ca.write(dir, f.Chain, ca.ChainPEM(env), pki.PublicPerm)
	ca.write(dir, f.CRL, ca.CRLPEM(env), pki.PublicPerm)
	if len(ca.Intermediates(env)) > 1 {
		ca.write(dir, f.Bundle, ca.BundlePEM(env), pki.PublicPerm)
	} else if err := pki.RemoveFile(dir, f.Bundle); err != nil {
		ca.t.Fatalf("testpki: remove bundle: %v", err)
	}
	return f
}

// WriteLeaf writes l's cert.pem and key.pem under dir/<env>/<name>/ and
// returns the layout's file names for it.
func (ca *CA) WriteLeaf(dir string, l *Leaf) Files {
	ca.t.Helper()
	f := Paths(dir, l.Env, l.Name)
	ca.write(dir, f.Cert, l.CertPEM, pki.PublicPerm)
	ca.write(dir, f.Key, l.KeyPEM, pki.SecretPerm)
	return f
}

// WriteFile replaces path atomically with pki's writer (temp file, fsync,
// rename), creating parent directories 0700, the way the real PKI
// rotates files.
func (ca *CA) WriteFile(path string, data []byte, perm os.FileMode) {
	ca.t.Helper()
	ca.write(filepath.Dir(path), path, data, perm)
}

func (ca *CA) write(dir, path string, data []byte, perm os.FileMode) {
	ca.t.Helper()
	if err := pki.WriteFile(dir, path, data, perm); err != nil {
		ca.t.Fatalf("testpki: %v", err)
	}
}

// IssuerFromLayout reads env's current intermediate and its key from a
// `logsys pki init` directory, for SignWith.
func IssuerFromLayout(t testing.TB, dir, env string) *Issuer {
	t.Helper()
	l := pki.Layout{Dir: dir}
	certs, err := pki.ReadCertificates(l.CACert(env))
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	key, err := pki.ReadPrivateKey(l.CAKey(env))
	if err != nil {
		t.Fatalf("testpki: %v", err)
	}
	return &Issuer{Cert: certs[0], Key: key, PEM: CertPEM(certs[0])}
}
