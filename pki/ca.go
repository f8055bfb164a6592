package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/url"
	"time"
)

// Lifetimes and policy constants.
const (
	RootLifetimeYears         = 10
	IntermediateLifetimeYears = 1
	DefaultLeafTTL            = 30 * 24 * time.Hour
	MinLeafTTL                = time.Hour
	CRLLifetime               = 7 * 24 * time.Hour
	// ExpiringWithin marks a certificate as "expiring" in Inspect.
	ExpiringWithin = 7 * 24 * time.Hour
	// RenewFraction is the default share of a lifetime after which a
	// certificate is renewed (see NeedsRenewal).
	RenewFraction = 2.0 / 3.0
	// backdate absorbs clock skew between issuer and relying parties.
	backdate = 5 * time.Minute
)

// Usage says which TLS roles a leaf may take.
type Usage int

// Leaf usages. UsageDefault resolves by name: "client" gets client
// authentication only, every other name server and client authentication.
const (
	UsageDefault Usage = iota
	UsageServerClient
	UsageServer
	UsageClient
)

// resolve turns UsageDefault into the usage for name.
func (u Usage) resolve(name string) Usage {
	if u != UsageDefault {
		return u
	}
	if name == "client" {
		return UsageClient
	}
	return UsageServerClient
}

func (u Usage) String() string {
	switch u {
	case UsageServer:
		return "server"
	case UsageClient:
		return "client"
	}
	return "server+client"
}

// ExtKeyUsage returns the extended key usages of a leaf called name with
// usage u (UsageDefault resolved by name).
func (u Usage) ExtKeyUsage(name string) []x509.ExtKeyUsage { return u.resolve(name).extKeyUsage() }

func (u Usage) extKeyUsage() []x509.ExtKeyUsage {
	switch u {
	case UsageServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case UsageClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
}

func usageOf(c *x509.Certificate) Usage {
	var s, cl bool
	for _, u := range c.ExtKeyUsage {
		s = s || u == x509.ExtKeyUsageServerAuth
		cl = cl || u == x509.ExtKeyUsageClientAuth
	}
	switch {
	case s && !cl:
		return UsageServer
	case cl && !s:
		return UsageClient
	}
	return UsageServerClient
}

// authority is a CA certificate with its signing key.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// NeedsRenewal reports whether cert should be replaced at now: when now is
// outside its validity, or at least fraction of its lifetime has elapsed.
// It is a pure function of its inputs.
func NeedsRenewal(cert *x509.Certificate, now time.Time, fraction float64) bool {
	if now.Before(cert.NotBefore) || !now.Before(cert.NotAfter) {
		return true
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	renewAt := cert.NotBefore.Add(time.Duration(float64(life) * fraction))
	return !now.Before(renewAt)
}

func baseTemplate(now, notAfter time.Time, subject pkix.Name, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := RandomSerial()
	if err != nil {
		return nil, err
	}
	ski, err := SubjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-backdate).UTC(),
		NotAfter:     notAfter.UTC(),
		SubjectKeyId: ski,
	}, nil
}

func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func newRoot(now time.Time, td string, kt KeyType) (*authority, error) {
	key, err := kt.generate()
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{td}, CommonName: "logsys root CA"}
	tmpl, err := baseTemplate(now, now.AddDate(RootLifetimeYears, 0, 0), subj, key.Public())
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLen = 1
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	cert, err := sign(tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key}, nil
}

func newIntermediate(now time.Time, root *authority, td, env string, kt KeyType) (*authority, error) {
	key, err := kt.generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s intermediate key: %w", env, err)
	}
	notAfter := now.AddDate(IntermediateLifetimeYears, 0, 0)
	if notAfter.After(root.cert.NotAfter) {
		notAfter = root.cert.NotAfter
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{td}, CommonName: "logsys " + env + " intermediate CA"}
	tmpl, err := baseTemplate(now, notAfter, subj, key.Public())
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLen = 0
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	cert, err := sign(tmpl, root.cert, key.Public(), root.key)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key}, nil
}

// LeafSpec describes one leaf certificate.
type LeafSpec struct {
	TrustDomain string
	Env         string
	Name        string
	DNS         []string
	IPs         []net.IP
	TTL         time.Duration
	Usage       Usage
}

func (s LeafSpec) validate() error {
	if err := validTrustDomain(s.TrustDomain); err != nil {
		return err
	}
	if err := validLabel("env", s.Env); err != nil {
		return err
	}
	if err := validLabel("name", s.Name); err != nil {
		return err
	}
	if s.TTL < MinLeafTTL {
		return fmt.Errorf("leaf ttl %v is below the minimum %v", s.TTL, MinLeafTTL)
	}
	return nil
}

// DefaultSANs returns the SANs every leaf gets: its name, localhost and
// the loopback addresses, plus hosts (DNS names or IP literals) and extras,
// each once. The online CA (package ca) uses the same rule.
func DefaultSANs(name string, hosts []string, extraDNS []string, extraIPs []net.IP) ([]string, []net.IP) {
	dns := []string{name, "localhost"}
	ips := []net.IP{net.ParseIP("127.0.0.1").To4(), net.ParseIP("::1")}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = appendIP(ips, ip)
		} else if h != "" {
			dns = appendStr(dns, h)
		}
	}
	for _, d := range extraDNS {
		dns = appendStr(dns, d)
	}
	for _, ip := range extraIPs {
		ips = appendIP(ips, ip)
	}
	return dns, ips
}

func appendStr(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func appendIP(list []net.IP, ip net.IP) []net.IP {
	if v4 := ip.To4(); v4 != nil {
		ip = v4
	}
	for _, x := range list {
		if x.Equal(ip) {
			return list
		}
	}
	return append(list, ip)
}

func newLeaf(now time.Time, ca *authority, spec LeafSpec, kt KeyType) (*x509.Certificate, crypto.Signer, error) {
	if err := spec.validate(); err != nil {
		return nil, nil, err
	}
	key, err := kt.generate()
	if err != nil {
		return nil, nil, fmt.Errorf("generate key for %s/%s: %w", spec.Env, spec.Name, err)
	}
	notAfter := now.Add(spec.TTL)
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	uri, err := url.Parse(SPIFFEID(spec.TrustDomain, spec.Env, spec.Name))
	if err != nil {
		return nil, nil, fmt.Errorf("build identity: %w", err)
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{spec.Env}, CommonName: spec.Name}
	tmpl, err := baseTemplate(now, notAfter, subj, key.Public())
	if err != nil {
		return nil, nil, err
	}
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = spec.Usage.resolve(spec.Name).extKeyUsage()
	tmpl.DNSNames = spec.DNS
	tmpl.IPAddresses = spec.IPs
	tmpl.URIs = []*url.URL{uri}
	cert, err := sign(tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// specOf recovers the issuance profile of an existing leaf for re-issue.
func specOf(c *x509.Certificate) (LeafSpec, error) {
	if len(c.URIs) != 1 {
		return LeafSpec{}, fmt.Errorf("%w: want exactly one URI SAN, found %d", ErrIdentity, len(c.URIs))
	}
	td, env, name, err := ParseID(c.URIs[0].String())
	if err != nil {
		return LeafSpec{}, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	ttl := c.NotAfter.Sub(c.NotBefore) - backdate
	if ttl < MinLeafTTL {
		ttl = MinLeafTTL
	}
	return LeafSpec{TrustDomain: td, Env: env, Name: name, DNS: c.DNSNames, IPs: c.IPAddresses, TTL: ttl, Usage: usageOf(c)}, nil
}

// coversSANs reports whether c already carries every wanted DNS name and IP.
func coversSANs(c *x509.Certificate, dns []string, ips []net.IP) bool {
	for _, d := range dns {
		found := false
		for _, x := range c.DNSNames {
			found = found || x == d
		}
		if !found {
			return false
		}
	}
	for _, ip := range ips {
		found := false
		for _, x := range c.IPAddresses {
			found = found || x.Equal(ip)
		}
		if !found {
			return false
		}
	}
	return true
}
