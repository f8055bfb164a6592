package testpki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"
)

// DefaultTrustDomain is the trust domain used when Options.TrustDomain is empty.
const DefaultTrustDomain = "logsys.local"

// Options configures a test CA.
type Options struct {
	// TrustDomain of the SPIFFE IDs; DefaultTrustDomain when empty.
	TrustDomain string
	// Envs gets one intermediate each; {"dev"} when empty.
	Envs []string
	// Now is the clock every certificate and CRL is issued at; time.Now() when zero.
	Now time.Time
	// KeyType of the root and intermediates; ECDSA when empty.
	KeyType KeyType
}

// Issuer is a CA certificate with its key (the root or an intermediate).
type Issuer struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// PEM is Cert alone, PEM-encoded.
	PEM []byte
}

type envState struct {
	// issuers holds every intermediate of the env, oldest first; the last is current.
	issuers   []*Issuer
	revoked   []x509.RevocationListEntry
	crlNumber int64
	leaves    []*Leaf
}

// CA is a root plus one intermediate per environment. Methods fail the test
// on error, so they may only be called from the test goroutine.
type CA struct {
	t    testing.TB
	td   string
	now  time.Time
	kt   KeyType
	root *Issuer

	mu   sync.Mutex
	envs map[string]*envState
	// order keeps Envs' order for deterministic output.
	order []string
}

// New creates a root and one intermediate per environment.
func New(t testing.TB, opts Options) *CA {
	t.Helper()
	if opts.TrustDomain == "" {
		opts.TrustDomain = DefaultTrustDomain
	}
	if len(opts.Envs) == 0 {
		opts.Envs = []string{"dev"}
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	ca := &CA{t: t, td: opts.TrustDomain, now: opts.Now, kt: opts.KeyType, envs: map[string]*envState{}}
	ca.root = ca.newIssuer(pkix.Name{Organization: []string{"logsys test"}, CommonName: "logsys test root " + opts.TrustDomain}, nil, 10*365*24*time.Hour, 1)
	for _, env := range opts.Envs {
		if _, dup := ca.envs[env]; dup {
			t.Fatalf("testpki: duplicate env %q", env)
		}
		ca.envs[env] = &envState{}
		ca.order = append(ca.order, env)
		ca.RolloverIntermediate(env)
	}
	return ca
}

// TrustDomain returns the trust domain of the CA's SPIFFE IDs.
func (ca *CA) TrustDomain() string { return ca.td }

// Now returns the CA's clock.
func (ca *CA) Now() time.Time { return ca.now }

// Envs returns the environments in creation order.
func (ca *CA) Envs() []string { return slices.Clone(ca.order) }

// Root returns the root CA.
func (ca *CA) Root() *Issuer { return ca.root }

// Intermediate returns the current intermediate of env.
func (ca *CA) Intermediate(env string) *Issuer {
	e := ca.env(env)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return e.issuers[len(e.issuers)-1]
}

// Intermediates returns every intermediate of env, oldest first.
func (ca *CA) Intermediates(env string) []*Issuer {
	e := ca.env(env)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return slices.Clone(e.issuers)
}

// RolloverIntermediate issues a new intermediate for env and makes it the
// current one: later leaves are signed by it. The previous intermediates stay
// in BundlePEM until DropIntermediate removes them.
func (ca *CA) RolloverIntermediate(env string) *Issuer {
	ca.t.Helper()
	e := ca.env(env)
	ca.mu.Lock()
	n := len(e.issuers) + 1
	ca.mu.Unlock()
	name := pkix.Name{
		Organization:       []string{"logsys test"},
		OrganizationalUnit: []string{env},
		CommonName:         fmt.Sprintf("logsys test %s intermediate %d", env, n),
	}
	iss := ca.newIssuer(name, ca.root, 365*24*time.Hour, 0)
	ca.mu.Lock()
	e.issuers = append(e.issuers, iss)
	ca.mu.Unlock()
	return iss
}

// DropIntermediate removes every intermediate of env but the current one,
// ending a rollover.
func (ca *CA) DropIntermediate(env string) {
	e := ca.env(env)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	e.issuers = e.issuers[len(e.issuers)-1:]
}

func (ca *CA) env(env string) *envState {
	ca.t.Helper()
	ca.mu.Lock()
	defer ca.mu.Unlock()
	e, ok := ca.envs[env]
	if !ok {
		ca.t.Fatalf("testpki: unknown env %q", env)
	}
	return e
}

// newIssuer creates a CA certificate signed by parent (self-signed when nil).
func (ca *CA) newIssuer(name pkix.Name, parent *Issuer, ttl time.Duration, maxPathLen int) *Issuer {
	ca.t.Helper()
	key, err := newKey(ca.kt)
	if err != nil {
		ca.t.Fatalf("testpki: issuer key: %v", err)
	}
	serial, err := newSerial()
	if err != nil {
		ca.t.Fatalf("testpki: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		NotBefore:             ca.now.Add(-time.Hour),
		NotAfter:              ca.now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	cert := sign(ca.t, tmpl, signerCert, key.Public(), signerKey)
	return &Issuer{Cert: cert, Key: key, PEM: CertPEM(cert)}
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(nil, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("testpki: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse certificate: %v", err)
	}
	return cert
}

// Revoke adds serial to env's CRL; the next CRLPEM(env) lists it.
func (ca *CA) Revoke(env string, serial *big.Int) {
	e := ca.env(env)
	ca.mu.Lock()
	defer ca.mu.Unlock()
	e.revoked = append(e.revoked, x509.RevocationListEntry{
		SerialNumber:   new(big.Int).Set(serial),
		RevocationTime: ca.now,
	})
}

// CRLPEM returns a fresh CRL for env, signed by env's current intermediate,
// valid from now for 24 hours, listing every serial revoked so far.
func (ca *CA) CRLPEM(env string) []byte {
	return ca.CRLPEMFrom(env, ca.Intermediate(env))
}

// CRLPEMFrom is CRLPEM signed by a chosen issuer (for example another CA's
// intermediate, to build a CRL whose signature must not verify).
func (ca *CA) CRLPEMFrom(env string, iss *Issuer) []byte {
	ca.t.Helper()
	e := ca.env(env)
	ca.mu.Lock()
	e.crlNumber++
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: slices.Clone(e.revoked),
		Number:                    big.NewInt(e.crlNumber),
		ThisUpdate:                ca.now,
		NextUpdate:                ca.now.Add(24 * time.Hour),
	}
	ca.mu.Unlock()
	der, err := x509.CreateRevocationList(nil, tmpl, iss.Cert, iss.Key)
	if err != nil {
		ca.t.Fatalf("testpki: create crl: %v", err)
	}
	return pemBlock("X509 CRL", der)
}

// CRLOptions shapes a CRL made by CRLPEMWith; zero fields take the
// values CRLPEM uses.
type CRLOptions struct {
	Issuer *Issuer // env's current intermediate when nil
	// Number is the CRL number; the env's next one when nil (the counter
	// is not advanced by an explicit number).
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
	// Revoked replaces the serials revoked so far when Empty is set or it
	// is non-nil.
	Revoked []*big.Int
	Empty   bool
}

// CRLPEMWith returns a CRL for env shaped by o: to replay an old, stale
// or empty CRL, or one whose number goes backwards.
func (ca *CA) CRLPEMWith(env string, o CRLOptions) []byte {
	ca.t.Helper()
	if o.Issuer == nil {
		o.Issuer = ca.Intermediate(env)
	}
	e := ca.env(env)
	ca.mu.Lock()
	if o.Number == nil {
		e.crlNumber++
		o.Number = big.NewInt(e.crlNumber)
	}
	entries := slices.Clone(e.revoked)
	ca.mu.Unlock()
	if o.Empty || o.Revoked != nil {
		entries = nil
		for _, s := range o.Revoked {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: ca.now})
		}
	}
	if o.ThisUpdate.IsZero() {
		o.ThisUpdate = ca.now
	}
	if o.NextUpdate.IsZero() {
		o.NextUpdate = o.ThisUpdate.Add(24 * time.Hour)
	}
	der, err := x509.CreateRevocationList(nil, &x509.RevocationList{
		RevokedCertificateEntries: entries, Number: o.Number, ThisUpdate: o.ThisUpdate, NextUpdate: o.NextUpdate,
	}, o.Issuer.Cert, o.Issuer.Key)
	if err != nil {
		ca.t.Fatalf("testpki: create crl: %v", err)
	}
	return pemBlock("X509 CRL", der)
}

// CAPEM returns env's current intermediate (the layout's ca.pem).
func (ca *CA) CAPEM(env string) []byte { return ca.Intermediate(env).PEM }

// ChainPEM returns env's current intermediate then the root (ca-chain.pem).
func (ca *CA) ChainPEM(env string) []byte {
	return CertPEM(ca.Intermediate(env).Cert, ca.root.Cert)
}

// BundlePEM returns every intermediate of env, newest first, then the root
// (bundle.pem during a rollover).
func (ca *CA) BundlePEM(env string) []byte {
	iss := ca.Intermediates(env)
	certs := make([]*x509.Certificate, 0, len(iss)+1)
	for i := len(iss) - 1; i >= 0; i-- {
		certs = append(certs, iss[i].Cert)
	}
	return CertPEM(append(certs, ca.root.Cert)...)
}

// Pool returns a pool of env's intermediates only: the environment's trust
// anchors.
func (ca *CA) Pool(env string) *x509.CertPool {
	p := x509.NewCertPool()
	for _, iss := range ca.Intermediates(env) {
		p.AddCert(iss.Cert)
	}
	return p
}

// RootPool returns a pool holding only the root.
func (ca *CA) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root.Cert)
	return p
}
