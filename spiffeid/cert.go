package spiffeid

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// tagURI is the GeneralName choice uniformResourceIdentifier [6] IA5String.
const tagURI = 6

// FromCert returns the identity of a certificate. As an X.509-SVID it must
// carry exactly one URI SAN, and that URI must be a canonical logsys ID.
// The URI is read from the raw extension, as the issuer wrote it, not
// from the re-encoded form crypto/x509 offers in c.URIs.
func FromCert(c *x509.Certificate) (ID, error) {
	uris, err := rawURISANs(c)
	if err != nil {
		return ID{}, err
	}
	switch len(uris) {
	case 0:
		return ID{}, fmt.Errorf("%w: certificate has no URI SAN", ErrInvalid)
	case 1:
		return Parse(uris[0])
	}
	return ID{}, fmt.Errorf("%w: certificate has %d URI SANs, want exactly one", ErrInvalid, len(uris))
}

// rawURISANs returns the URI entries of the subjectAltName extension.
func rawURISANs(c *x509.Certificate) ([]string, error) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		rest, err := asn1.Unmarshal(ext.Value, &names)
		if err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("%w: malformed subjectAltName extension", ErrInvalid)
		}
		var out []string
		for _, n := range names {
			if n.Class == asn1.ClassContextSpecific && n.Tag == tagURI {
				out = append(out, string(n.Bytes))
			}
		}
		return out, nil
	}
	return nil, nil
}
