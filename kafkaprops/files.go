package kafkaprops

import (
	"errors"
	"fmt"
	"os"

	"logsys/pki"
)

// WriteFiles writes the files Properties names that `logsys pki init`
// does not create: the PEM keystore (key then chain) for PEM, and
// store.properties for a broker with a JKS or PKCS#12 store. Files are
// written atomically with mode 0600 by pki's writer. It returns the paths
// written.
func WriteFiles(o Options) ([]string, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("kafka files: %w", err)
	}
	l := pki.Layout{Dir: o.Dir}
	switch {
	case o.Format == PEM:
		certs, key, err := pki.ReadLeaf(l, o.Env, o.Name)
		if err != nil {
			return nil, err
		}
		keyPEM, err := pki.EncodePrivateKey(key)
		if err != nil {
			return nil, err
		}
		path := l.KeystorePEM(o.Env, o.Name)
		if err := pki.WriteFile(l.Dir, path, append(keyPEM, pki.EncodeCerts(certs...)...), pki.SecretPerm); err != nil {
			return nil, err
		}
		return []string{path}, nil
	case o.Role == Broker:
		pass, err := pki.ReadStorePassword(o.Dir, o.Env, o.Name)
		if err != nil {
			return nil, err
		}
		path := l.StorePropertiesFile(o.Env, o.Name)
		if err := pki.WriteFile(l.Dir, path, []byte("password="+escapeProperty(pass)+"\n"), pki.SecretPerm); err != nil {
			return nil, err
		}
		return []string{path}, nil
	}
	return nil, nil
}

// missingFiles returns the files the properties of o name that do not exist.
func (o Options) missingFiles() []string {
	l := pki.Layout{Dir: o.Dir}
	var paths []string
	switch o.Format {
	case PEM:
		paths = []string{l.KeystorePEM(o.Env, o.Name), l.CACert(o.Env)}
	case JKS:
		paths = []string{l.KeystoreJKS(o.Env, o.Name), l.TruststoreJKS(o.Env, o.Name)}
	default:
		paths = []string{l.KeystoreP12(o.Env, o.Name), l.TruststoreP12(o.Env, o.Name)}
	}
	if o.Role == Broker && o.Format != PEM {
		paths = append(paths, l.StorePropertiesFile(o.Env, o.Name))
	}
	var out []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			out = append(out, p)
		}
	}
	return out
}

// MissingFiles returns the files Properties(o) names that do not exist
// yet (run WriteFiles, or `logsys pki init`, to create them).
func MissingFiles(o Options) ([]string, error) {
	o, err := o.resolve()
	if err != nil {
		return nil, fmt.Errorf("kafka files: %w", err)
	}
	return o.missingFiles(), nil
}

// Request is what `logsys pki snippets` asks for.
type Request struct {
	Options
	// IncludePassword prints a client's literal store password, read
	// from store.pass.
	IncludePassword bool
	// Write creates the files WriteFiles writes.
	Write bool
}

// Result is the properties text, the files written and those still missing.
type Result struct {
	Properties string
	Wrote      []string
	Missing    []string
}

// Snippet answers a Request: the properties, after writing the missing
// files when asked.
func Snippet(req Request) (Result, error) {
	var res Result
	o := req.Options
	if req.IncludePassword {
		if o.Role == Broker {
			return res, errors.New("--include-password is for clients; brokers read store.properties")
		}
		if o.Format == PEM {
			return res, errors.New("--include-password: PEM stores have no password")
		}
		p, err := pki.ReadStorePassword(o.Dir, o.Env, o.Name)
		if err != nil {
			return res, err
		}
		o.Password = p
	}
	props, err := Properties(o)
	if err != nil {
		return res, err
	}
	res.Properties = props
	if req.Write {
		if res.Wrote, err = WriteFiles(o); err != nil {
			return res, err
		}
	}
	res.Missing, err = MissingFiles(o)
	return res, err
}
