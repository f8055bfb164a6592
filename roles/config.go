package roles

import (
	"errors"
	"fmt"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// Identity says which certificate a role presents, what it trusts and how
// strictly. Paths default to the `logsys pki init` layout under PKIDir.
type Identity struct {
	PKIDir      string `mapstructure:"pki_dir"`
	TrustDomain string `mapstructure:"trust_domain"`
	Env         string `mapstructure:"env"`
	Name        string `mapstructure:"name"`
	CertFile    string `mapstructure:"cert_file"`
	KeyFile     string `mapstructure:"key_file"`
	// CAFile is the environment's intermediate: the only trust anchor.
	CAFile string `mapstructure:"ca_file"`
	// BundleFile holds current and next intermediates during a rollover;
	// it is read when present.
	BundleFile string `mapstructure:"bundle_file"`
	CRLFile    string `mapstructure:"crl_file"`
	// ReloadInterval is the periodic poll that backs the file watch.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// MinTLS is "1.3" (default) or "1.2".
	MinTLS string `mapstructure:"min_tls"`
	// KeyExchange is "hybrid" (X25519MLKEM768 first, the default) or "x25519".
	KeyExchange string `mapstructure:"key_exchange"`
	// CAURL, when set, makes the role obtain and renew its certificate from
	// `logsys ca` instead of reading pki_dir: it makes its own key, keeps it
	// in StateDir (0600), renews at 2/3 of the lifetime and hot-swaps.
	CAURL string `mapstructure:"ca_url"`
	// CAToken or CATokenFile is the single-use bootstrap token from
	// `logsys pki token`; needed only while StateDir holds no valid
	// certificate.
	CAToken     string `mapstructure:"ca_token"`
	CATokenFile string `mapstructure:"ca_token_file"`
	// CABundle verifies the CA on first contact (the environment's
	// ca-chain.pem); StateDir receives certificate, key and trust bundle.
	CABundle string `mapstructure:"ca_bundle"`
	StateDir string `mapstructure:"state_dir"`
	// ExpiryThreshold turns health DOWN when a certificate in use expires
	// within it.
	ExpiryThreshold time.Duration `mapstructure:"expiry_threshold"`
}

// DefaultIdentity returns the defaults for the named leaf.
func DefaultIdentity(name string) Identity {
	return Identity{
		PKIDir:          ".logsys/pki",
		TrustDomain:     "logsys.local",
		Env:             "dev",
		Name:            name,
		ReloadInterval:  30 * time.Second,
		MinTLS:          "1.3",
		KeyExchange:     "hybrid",
		ExpiryThreshold: 7 * 24 * time.Hour,
	}
}

// resolved fills file paths from the PKI layout where they are not set.
func (id Identity) resolved() Identity {
	l := pki.Layout{Dir: id.PKIDir}
	if id.CertFile == "" {
		id.CertFile = l.CertFile(id.Env, id.Name)
	}
	if id.KeyFile == "" {
		id.KeyFile = l.KeyFile(id.Env, id.Name)
	}
	if id.CAFile == "" {
		id.CAFile = l.CACert(id.Env)
	}
	if id.BundleFile == "" {
		id.BundleFile = l.BundleFile(id.Env)
	}
	if id.CRLFile == "" {
		id.CRLFile = l.CRLFile(id.Env)
	}
	return id
}

// Validate reports the first unusable setting.
func (id Identity) Validate() error {
	var errs []error
	if err := spiffeid.ValidateEnv(id.Env); err != nil {
		errs = append(errs, fmt.Errorf("env: %w", err))
	}
	if err := spiffeid.ValidateName(id.Name); err != nil {
		errs = append(errs, fmt.Errorf("name: %w", err))
	}
	if err := spiffeid.ValidateTrustDomain(id.TrustDomain); err != nil {
		errs = append(errs, fmt.Errorf("trust_domain: %w", err))
	}
	if id.CAURL != "" && id.StateDir == "" {
		errs = append(errs, errors.New("state_dir is required with ca_url"))
	}
	if id.CAURL == "" && id.PKIDir == "" && (id.CertFile == "" || id.KeyFile == "" || id.CAFile == "") {
		errs = append(errs, errors.New("pki_dir or cert_file, key_file and ca_file are required"))
	}
	if id.MinTLS != "1.3" && id.MinTLS != "1.2" {
		errs = append(errs, fmt.Errorf("min_tls %q must be 1.3 or 1.2", id.MinTLS))
	}
	if id.KeyExchange != "hybrid" && id.KeyExchange != "x25519" {
		errs = append(errs, fmt.Errorf("key_exchange %q must be hybrid or x25519", id.KeyExchange))
	}
	if id.ExpiryThreshold < 0 {
		errs = append(errs, errors.New("expiry_threshold must not be negative"))
	}
	return errors.Join(errs...)
}
