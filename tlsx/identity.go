package tlsx

import (
	"errors"
	"fmt"
	"time"

	"logsys/spiffeid"
)

// Identity says which certificate a workload presents, what it trusts and
// how strictly: the "tls" section of every role's configuration. Paths
// default to the `logsys pki init` layout under PKIDir.
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
	// ReloadInterval is the periodic poll that backs the file watch; with
	// CAURL, how often the trust bundle is fetched from the CA (each fetch
	// reports which intermediates the workload trusts).
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// MinTLS is "1.3" (default) or "1.2".
	MinTLS string `mapstructure:"min_tls"`
	// KeyExchange is "hybrid" (X25519MLKEM768 first, the default) or "x25519".
	KeyExchange string `mapstructure:"key_exchange"`
	// CAURL, when set, makes the workload obtain and renew its certificate
	// from `logsys ca` instead of reading PKIDir: it makes its own key,
	// keeps it in StateDir (0600), renews at 2/3 of the lifetime and
	// hot-swaps.
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
	// MaxConnAge closes every connection of the role's listeners at this
	// age (drawn in [0.9, 1] of it; HTTP requests in flight finish).
	MaxConnAge time.Duration `mapstructure:"max_conn_age"`
	// CRLGrace is how long past its nextUpdate the CRL still counts
	// (health is DOWN meanwhile); after it every peer is refused.
	CRLGrace time.Duration `mapstructure:"crl_grace"`
}

// Defaults of an Identity.
const (
	DefaultPKIDir          = ".logsys/pki"
	DefaultTrustDomain     = "logsys.local"
	DefaultEnv             = "dev"
	DefaultExpiryThreshold = 7 * 24 * time.Hour
)

// DefaultIdentity returns the defaults for the named workload.
func DefaultIdentity(name string) Identity {
	return Identity{
		PKIDir:          DefaultPKIDir,
		TrustDomain:     DefaultTrustDomain,
		Env:             DefaultEnv,
		Name:            name,
		ReloadInterval:  DefaultPollInterval,
		MinTLS:          "1.3",
		KeyExchange:     "hybrid",
		ExpiryThreshold: DefaultExpiryThreshold,
		MaxConnAge:      DefaultMaxConnAge,
		CRLGrace:        DefaultCRLGrace,
	}
}

// Resolved fills the file paths that are not set from the PKI layout.
func (id Identity) Resolved() Identity {
	l := LayoutSource(id.PKIDir, id.Env, id.Name)
	for _, f := range []struct {
		p *string
		v string
	}{
		{&id.CertFile, l.CertFile}, {&id.KeyFile, l.KeyFile}, {&id.CAFile, l.CAFile},
		{&id.BundleFile, l.BundleFile}, {&id.CRLFile, l.CRLFile},
	} {
		if *f.p == "" {
			*f.p = f.v
		}
	}
	return id
}

// Validate reports every unusable setting without touching the disk. Each
// error starts with the key it is about (pki_dir, env, ...).
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
		errs = append(errs, errors.New("state_dir: is required with ca_url"))
	}
	if id.CAURL == "" && id.PKIDir == "" && (id.CertFile == "" || id.KeyFile == "" || id.CAFile == "") {
		errs = append(errs, errors.New("pki_dir: is required unless cert_file, key_file and ca_file are set"))
	}
	if id.MinTLS != "1.3" && id.MinTLS != "1.2" {
		errs = append(errs, fmt.Errorf("min_tls: %q must be 1.3 or 1.2", id.MinTLS))
	}
	if id.KeyExchange != "hybrid" && id.KeyExchange != "x25519" {
		errs = append(errs, fmt.Errorf("key_exchange: %q must be hybrid or x25519", id.KeyExchange))
	}
	if id.ReloadInterval < 0 {
		errs = append(errs, errors.New("reload_interval: must not be negative"))
	}
	if id.ExpiryThreshold < 0 {
		errs = append(errs, errors.New("expiry_threshold: must not be negative"))
	}
	if id.MaxConnAge <= 0 {
		errs = append(errs, errors.New("max_conn_age: must be positive"))
	}
	if id.CRLGrace <= 0 {
		errs = append(errs, errors.New("crl_grace: must be positive"))
	}
	return errors.Join(errs...)
}
