package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net"
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
)

// Usage says which TLS roles a leaf may take.
type Usage int

// Leaf usages. UsageDefault resolves by name: "client" and "operator"
// (the admin of `logsys ca status`) get client authentication only, every
// other name server and client authentication.
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
	if name == "client" || name == "operator" {
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

// UsageOf returns the TLS usage c carries, so that a re-issue or renewal
// never widens it. ok is false when c has neither server nor client
// authentication; u is then UsageServerClient, what pki re-issues it with.
func UsageOf(c *x509.Certificate) (u Usage, ok bool) {
	var s, cl bool
	for _, u := range c.ExtKeyUsage {
		s = s || u == x509.ExtKeyUsageServerAuth
		cl = cl || u == x509.ExtKeyUsageClientAuth
	}
	switch {
	case s && !cl:
		return UsageServer, true
	case cl && !s:
		return UsageClient, true
	}
	return UsageServerClient, s && cl
}

func usageOf(c *x509.Certificate) Usage {
	u, _ := UsageOf(c)
	return u
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

func baseTemplate(notBefore, notAfter time.Time, subject pkix.Name, pub crypto.PublicKey) (*x509.Certificate, error) {
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
		NotBefore:    notBefore.UTC(),
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

func newRoot(now time.Time, td string, kt KeyType) (*Issuer, error) {
	key, err := kt.generate()
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{td}, CommonName: "logsys root CA"}
	notAfter := now.AddDate(RootLifetimeYears, 0, 0)
	tmpl, err := baseTemplate(now.Add(-Backdate(notAfter.Sub(now))), notAfter, subj, key.Public())
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
	return &Issuer{cert: cert, key: key}, nil
}

func newIntermediate(now time.Time, root *Issuer, td, env string, kt KeyType) (*Issuer, error) {
	key, err := kt.generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s intermediate key: %w", env, err)
	}
	notAfter := now.AddDate(IntermediateLifetimeYears, 0, 0)
	if notAfter.After(root.cert.NotAfter) {
		notAfter = root.cert.NotAfter
	}
	subj := pkix.Name{Organization: []string{"logsys"}, OrganizationalUnit: []string{td}, CommonName: "logsys " + env + " intermediate CA"}
	tmpl, err := baseTemplate(now.Add(-Backdate(notAfter.Sub(now))), notAfter, subj, key.Public())
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
	return &Issuer{cert: cert, key: key}, nil
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
