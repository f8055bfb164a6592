package pki

import (
	"os"
	"path/filepath"
)

// Layout gives the paths of every file of a PKI directory.
type Layout struct {
	Dir string
}

// MetaFile is the metadata file recording the trust domain and defaults.
func (l Layout) MetaFile() string { return filepath.Join(l.Dir, "pki.json") }

// RootDir is the directory of the root CA.
func (l Layout) RootDir() string { return filepath.Join(l.Dir, "root") }

// RootCert is the root CA certificate.
func (l Layout) RootCert() string { return filepath.Join(l.RootDir(), "ca.pem") }

// RootKey is the default location of the root CA key.
func (l Layout) RootKey() string { return filepath.Join(l.RootDir(), "ca-key.pem") }

// EnvDir is the directory of one environment.
func (l Layout) EnvDir(env string) string { return filepath.Join(l.Dir, env) }

// CACert is the current intermediate CA certificate of env.
func (l Layout) CACert(env string) string { return filepath.Join(l.EnvDir(env), "ca.pem") }

// CAKey is the key of the current intermediate CA of env.
func (l Layout) CAKey(env string) string { return filepath.Join(l.EnvDir(env), "ca-key.pem") }

// PrevCACert is the previous intermediate of env, kept during an overlap window.
func (l Layout) PrevCACert(env string) string { return filepath.Join(l.EnvDir(env), "ca-prev.pem") }

// PrevCAKey is the key of the previous intermediate of env.
func (l Layout) PrevCAKey(env string) string {
	return filepath.Join(l.EnvDir(env), "ca-prev-key.pem")
}

// ChainFile holds the current intermediate of env followed by the root.
func (l Layout) ChainFile(env string) string { return filepath.Join(l.EnvDir(env), "ca-chain.pem") }

// BundleFile holds current and previous intermediates plus the root; it
// exists only during an intermediate overlap window.
func (l Layout) BundleFile(env string) string { return filepath.Join(l.EnvDir(env), "bundle.pem") }

// TrustFile is the file a trust consumer of env should load: BundleFile
// when it exists, ChainFile otherwise.
func (l Layout) TrustFile(env string) string {
	if _, err := os.Stat(l.BundleFile(env)); err == nil {
		return l.BundleFile(env)
	}
	return l.ChainFile(env)
}

// CRLFile is the CRL of the current intermediate of env.
func (l Layout) CRLFile(env string) string { return filepath.Join(l.EnvDir(env), "crl.pem") }

// PrevCRLFile is the CRL of the previous intermediate of env.
func (l Layout) PrevCRLFile(env string) string { return filepath.Join(l.EnvDir(env), "crl-prev.pem") }

// LeafDir is the directory of one leaf identity.
func (l Layout) LeafDir(env, name string) string { return filepath.Join(l.EnvDir(env), name) }

// CertFile is the leaf certificate followed by its intermediate.
func (l Layout) CertFile(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "cert.pem")
}

// KeyFile is the leaf's PKCS#8 private key.
func (l Layout) KeyFile(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "key.pem")
}

// KeystoreP12 is the leaf key and full chain as PKCS#12.
func (l Layout) KeystoreP12(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "keystore.p12")
}

// KeystoreJKS is the leaf key and full chain as JKS.
func (l Layout) KeystoreJKS(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "keystore.jks")
}

// TruststoreP12 holds env's intermediate(s), not the root, as PKCS#12.
func (l Layout) TruststoreP12(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "truststore.p12")
}

// TruststoreJKS holds env's intermediate(s), not the root, as JKS.
func (l Layout) TruststoreJKS(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "truststore.jks")
}

// PassFile holds the password of the leaf's four stores.
func (l Layout) PassFile(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "store.pass")
}

// RootCRL is the CRL signed by the root, listing revoked intermediates.
// Verifiers that check revocation along the whole chain (OpenSSL with
// crl_check_all, PostgreSQL's ssl_crl_file) need it next to each
// environment's crl.pem.
func (l Layout) RootCRL() string { return filepath.Join(l.RootDir(), "crl.pem") }

// KeystorePEM is the PEM keystore for Kafka (ssl.keystore.type=PEM): the
// leaf's PKCS#8 key followed by its chain (written by package kafkaprops).
func (l Layout) KeystorePEM(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "keystore.pem")
}

// StorePropertiesFile holds "password=<store.pass>" for Kafka's
// FileConfigProvider (written by package kafkaprops).
func (l Layout) StorePropertiesFile(env, name string) string {
	return filepath.Join(l.LeafDir(env, name), "store.properties")
}

// TokensPending holds the records of unused bootstrap tokens of env (one
// file per token, named by its hash); see package ca.
func (l Layout) TokensPending(env string) string {
	return filepath.Join(l.EnvDir(env), "tokens", "pending")
}

// TokensUsed holds the records of spent bootstrap tokens of env.
func (l Layout) TokensUsed(env string) string {
	return filepath.Join(l.EnvDir(env), "tokens", "used")
}

// Ledger is the issuance ledger of env's online CA: one JSON record per
// line, appended with AppendLine (see package ca).
func (l Layout) Ledger(env string) string { return filepath.Join(l.EnvDir(env), "ledger.jsonl") }

// Reports holds, for env's online CA, the last trust report of each
// enrolled certificate lineage: which intermediates it trusts (see
// package ca). It is rewritten whole with WriteFile.
func (l Layout) Reports(env string) string { return filepath.Join(l.EnvDir(env), "reports.json") }

// rel returns path relative to the PKI directory for reports.
func (l Layout) rel(path string) string {
	if r, err := filepath.Rel(l.Dir, path); err == nil {
		return r
	}
	return path
}
