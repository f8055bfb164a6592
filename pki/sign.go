package pki

import (
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"logsys/spiffeid"
)

// MaxBackdate is the most a certificate's NotBefore is set before the
// moment it is signed (see Backdate).
const MaxBackdate = 5 * time.Minute

// Backdate is the one backdating policy of every certificate logsys
// signs: NotBefore is set a tenth of the lifetime before the signing time,
// at most MaxBackdate. Five minutes absorb the clock skew between hosts
// that NTP usually keeps well below it, so a freshly issued certificate is
// not refused as "not yet valid" by a peer whose clock runs behind. The
// tenth keeps short-lived certificates of the online CA (minutes, seconds
// in tests) mostly in the future: a backdate larger than the lifetime
// would make a certificate due for renewal as soon as it is issued.
func Backdate(lifetime time.Duration) time.Duration {
	return max(0, min(MaxBackdate, lifetime/10))
}

// ttlOf inverts Backdate: the lifetime requested for a certificate that
// spans life from NotBefore to NotAfter.
func ttlOf(life time.Duration) time.Duration {
	if life >= 11*MaxBackdate {
		return life - MaxBackdate
	}
	return life * 10 / 11
}

// Issuer is a CA certificate with its signing key: the root, or an
// environment's intermediate. SignLeaf is the only leaf signer of logsys.
type Issuer struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NewIssuer pairs a CA certificate with its private key.
func NewIssuer(cert *x509.Certificate, key crypto.Signer) (*Issuer, error) {
	if cert == nil || key == nil {
		return nil, errors.New("issuer: certificate and key are required")
	}
	if !cert.IsCA || !cert.BasicConstraintsValid {
		return nil, fmt.Errorf("issuer %q: not a CA certificate", cert.Subject.CommonName)
	}
	if !keyMatches(cert, key) {
		return nil, fmt.Errorf("issuer %q: %w", cert.Subject.CommonName, ErrKeyMismatch)
	}
	return &Issuer{cert: cert, key: key}, nil
}

// Cert returns the issuer's certificate.
func (is *Issuer) Cert() *x509.Certificate { return is.cert }

// LeafSpec describes one leaf certificate. Everything a leaf holds comes
// from it: nothing is taken from a certificate request but its key.
type LeafSpec struct {
	TrustDomain string
	Env         string
	Name        string
	DNS         []string
	IPs         []net.IP
	TTL         time.Duration
	Usage       Usage
}

// SignLeaf signs pub as the leaf spec describes: subject
// O=logsys,OU=<env>,CN=<name>, the URI SAN spiffe://<td>/<env>/<name>,
// the DNS and IP SANs, the TLS usage (UsageDefault resolved by name),
// NotBefore backdated by Backdate(TTL) and NotAfter at now+TTL but never
// past the issuer's. Any positive TTL is accepted (the online CA issues
// minutes); pki's own commands keep MinLeafTTL. The name spiffeid.CAName
// is refused: only SignCAServer issues it.
func (is *Issuer) SignLeaf(now time.Time, spec LeafSpec, pub crypto.PublicKey) (*x509.Certificate, error) {
	if err := spiffeid.ValidateWorkloadName(spec.Name); err != nil {
		return nil, fmt.Errorf("sign leaf: %w", err)
	}
	return is.sign(now, spec, pub)
}

// SignCAServer signs the online CA's own serving certificate: the
// reserved name spiffeid.CAName with server authentication only. spec.Name
// must be empty or CAName; spec.Usage is ignored.
func (is *Issuer) SignCAServer(now time.Time, spec LeafSpec, pub crypto.PublicKey) (*x509.Certificate, error) {
	if spec.Name != "" && spec.Name != spiffeid.CAName {
		return nil, fmt.Errorf("sign ca server certificate: name %q, want %q", spec.Name, spiffeid.CAName)
	}
	spec.Name, spec.Usage = spiffeid.CAName, UsageServer
	return is.sign(now, spec, pub)
}

func (is *Issuer) sign(now time.Time, spec LeafSpec, pub crypto.PublicKey) (*x509.Certificate, error) {
	id, err := spiffeid.New(spec.TrustDomain, spec.Env, spec.Name)
	if err != nil {
		return nil, fmt.Errorf("sign leaf: %w", err)
	}
	if spec.TTL <= 0 {
		return nil, fmt.Errorf("sign leaf %s: ttl %v must be positive", id, spec.TTL)
	}
	if pub == nil {
		return nil, fmt.Errorf("sign leaf %s: no public key", id)
	}
	notAfter := now.Add(spec.TTL)
	if notAfter.After(is.cert.NotAfter) {
		notAfter = is.cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, fmt.Errorf("sign leaf %s: issuer %q expired %s", id, is.cert.Subject.CommonName, is.cert.NotAfter.UTC().Format(time.RFC3339))
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{spec.Env}, CommonName: spec.Name}
	tmpl, err := baseTemplate(now.Add(-Backdate(spec.TTL)), notAfter, subj, pub)
	if err != nil {
		return nil, err
	}
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = spec.Usage.resolve(spec.Name).extKeyUsage()
	tmpl.DNSNames = spec.DNS
	tmpl.IPAddresses = spec.IPs
	tmpl.URIs = []*url.URL{id.URL()}
	return sign(tmpl, is.cert, pub, is.key)
}

// newLeaf generates a key of type kt and has ca sign it; pki's own
// commands keep the MinLeafTTL floor.
func newLeaf(now time.Time, ca *Issuer, spec LeafSpec, kt KeyType) (*x509.Certificate, crypto.Signer, error) {
	if spec.TTL < MinLeafTTL {
		return nil, nil, fmt.Errorf("leaf ttl %v is below the minimum %v", spec.TTL, MinLeafTTL)
	}
	if err := spiffeid.ValidateWorkloadName(spec.Name); err != nil {
		return nil, nil, err
	}
	key, err := kt.generate()
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %s/%s: %w", spec.Env, spec.Name, err)
	}
	cert, err := ca.SignLeaf(now, spec, key.Public())
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// specOf recovers the issuance profile of an existing leaf for re-issue.
func specOf(c *x509.Certificate) (LeafSpec, error) {
	id, err := spiffeid.FromCert(c)
	if err != nil {
		return LeafSpec{}, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	ttl := max(ttlOf(c.NotAfter.Sub(c.NotBefore)), MinLeafTTL)
	return LeafSpec{TrustDomain: id.TrustDomain, Env: id.Env, Name: id.Name, DNS: c.DNSNames, IPs: c.IPAddresses, TTL: ttl, Usage: usageOf(c)}, nil
}
