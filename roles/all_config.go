package roles

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"logsys/ca"
	"logsys/internal/cfgerr"
	"logsys/store"
	"logsys/tlsx"
)

// AllConfig configures `logsys all`: the whole pipeline in one process,
// each hop over real mutual TLS on loopback.
type AllConfig struct {
	DataDir string `mapstructure:"data_dir"`
	// ListenHost is the host the gateway, producer and consumer listen on
	// while their addr is left at the role's default (which listens on
	// every interface). The default keeps the pipeline on loopback.
	ListenHost string       `mapstructure:"listen_host"`
	Broker     BrokerConfig `mapstructure:"broker"`
	// The roles' own sections (gateway, producer, consumer) apply to
	// `logsys all` too, except the settings it owns (see Conflicts).
	Gateway  GatewayConfig  `mapstructure:"-"`
	Producer ProducerConfig `mapstructure:"-"`
	Consumer ConsumerConfig `mapstructure:"-"`
	// StoreDSN selects PostgreSQL; empty means the embedded store under
	// DataDir/store.
	StoreDSN string `mapstructure:"store_dsn"`
	// UseCA runs an online CA (`logsys ca`) for the environment: the roles
	// make their own keys, get LeafTTL certificates from it with single-use
	// tokens, and renew them at 2/3 of their lifetime. Off: the roles read
	// the `logsys pki init` files.
	UseCA   bool          `mapstructure:"use_ca"`
	CAAddr  string        `mapstructure:"ca_addr"`
	LeafTTL time.Duration `mapstructure:"leaf_ttl"`
	// CAPublishDelay is how long a new intermediate is only published in
	// the trust bundle before leaves are signed by it.
	CAPublishDelay time.Duration `mapstructure:"ca_publish_delay"`
	// Out receives the human summary (where everything is, a curl line).
	Out    io.Writer    `mapstructure:"-"`
	Logger *slog.Logger `mapstructure:"-"`
}

// DefaultAllConfig returns the defaults: data under ./.logsys, every
// listener on 127.0.0.1.
func DefaultAllConfig() AllConfig {
	return AllConfig{
		DataDir: ".logsys", ListenHost: "127.0.0.1", Gateway: DefaultGatewayConfig(), Producer: DefaultProducerConfig(),
		Consumer: DefaultConsumerConfig(), Broker: DefaultBrokerConfig(),
		UseCA: true, CAAddr: "127.0.0.1:8443", LeafTTL: time.Hour, CAPublishDelay: ca.DefaultPublishDelay,
	}
}

// Validate reports every unusable setting of the all section itself, each
// error naming its key; the roles' sections are checked by their own
// Validate and by Conflicts.
func (c AllConfig) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir: is required"))
	}
	if h := c.ListenHost; strings.ContainsAny(h, "/ []") || (strings.Contains(h, ":") && net.ParseIP(h) == nil) {
		errs = append(errs, fmt.Errorf("listen_host: %q must be a host name or IP address without a port", h))
	}
	if c.UseCA {
		if _, _, err := net.SplitHostPort(c.CAAddr); err != nil {
			errs = append(errs, fmt.Errorf("ca_addr: %q is not host:port", c.CAAddr))
		}
		if c.LeafTTL != 0 && c.LeafTTL < ca.MinLeafTTL {
			errs = append(errs, fmt.Errorf("leaf_ttl: %v is below the minimum %v", c.LeafTTL, ca.MinLeafTTL))
		}
	}
	errs = append(errs, notNegative(limit{"ca_publish_delay", int64(c.CAPublishDelay)})...)
	if c.StoreDSN != "" {
		for _, err := range cfgerr.Split(store.Config{DSN: c.StoreDSN}.Validate()) {
			_, rest, _ := cfgerr.Key(err)
			errs = append(errs, fmt.Errorf("store_dsn: %s", rest))
		}
	}
	if err := c.Broker.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("broker", err))
	}
	return errors.Join(errs...)
}

// Conflicts reports the roles' settings that `logsys all` owns but that
// differ from their defaults: it points the roles at its own producer,
// broker, PKI (data_dir/pki), store (store_dsn or data_dir/store) and, with
// use_ca, its own CA, and runs one environment of one trust domain. Errors
// name the full key (gateway.producer.url, all.broker.tls.pki_dir, ...).
func (c AllConfig) Conflicts() error {
	d := DefaultAllConfig()
	var errs []error
	owned := func(key, what string, changed bool) {
		if changed {
			errs = append(errs, fmt.Errorf("%s: is set by logsys all (%s); remove it, or run the roles one by one", key, what))
		}
	}
	owned("gateway.producer.url", "its own producer", c.Gateway.Producer.URL != d.Gateway.Producer.URL)
	owned("producer.kafka.brokers", "the embedded broker", !slices.Equal(c.Producer.Kafka.Brokers, d.Producer.Kafka.Brokers))
	owned("consumer.kafka.brokers", "the embedded broker", !slices.Equal(c.Consumer.Kafka.Brokers, d.Consumer.Kafka.Brokers))
	for _, s := range []struct {
		key      string
		got, def store.Config
	}{{"gateway.store", c.Gateway.Store, d.Gateway.Store}, {"consumer.store", c.Consumer.Store, d.Consumer.Store}} {
		owned(s.key+".dsn", "all.store_dsn", s.got.DSN != s.def.DSN)
		owned(s.key+".data_dir", "all.data_dir/store", s.got.DataDir != s.def.DataDir)
		owned(s.key+".max_conns", "one store shared by gateway and consumer", s.got.MaxConns != s.def.MaxConns)
	}
	env, td := c.Gateway.Identity.Env, c.Gateway.Identity.TrustDomain
	for _, id := range []struct {
		key      string
		got, def tlsx.Identity
	}{
		{"gateway.tls", c.Gateway.Identity, d.Gateway.Identity}, {"producer.tls", c.Producer.Identity, d.Producer.Identity},
		{"consumer.tls", c.Consumer.Identity, d.Consumer.Identity}, {"all.broker.tls", c.Broker.Identity, d.Broker.Identity},
	} {
		owned(id.key+".pki_dir", "all.data_dir/pki", id.got.PKIDir != id.def.PKIDir)
		if c.UseCA {
			for _, f := range []struct {
				name     string
				got, def string
			}{
				{"ca_url", id.got.CAURL, id.def.CAURL}, {"ca_token", id.got.CAToken, id.def.CAToken},
				{"ca_token_file", id.got.CATokenFile, id.def.CATokenFile}, {"ca_bundle", id.got.CABundle, id.def.CABundle},
				{"state_dir", id.got.StateDir, id.def.StateDir}, {"cert_file", id.got.CertFile, id.def.CertFile},
				{"key_file", id.got.KeyFile, id.def.KeyFile}, {"ca_file", id.got.CAFile, id.def.CAFile},
				{"bundle_file", id.got.BundleFile, id.def.BundleFile}, {"crl_file", id.got.CRLFile, id.def.CRLFile},
			} {
				owned(id.key+"."+f.name, "all.use_ca: certificates from its own CA", f.got != f.def)
			}
		}
		if id.key != "gateway.tls" && id.got.Env != env {
			errs = append(errs, fmt.Errorf("%s.env: %q differs from gateway.tls.env %q; logsys all runs one environment", id.key, id.got.Env, env))
		}
		if id.key != "gateway.tls" && id.got.TrustDomain != td {
			errs = append(errs, fmt.Errorf("%s.trust_domain: %q differs from gateway.tls.trust_domain %q; logsys all runs one trust domain", id.key, id.got.TrustDomain, td))
		}
	}
	return errors.Join(errs...)
}

// resolve points every role at the data dir's PKI, broker and store, and
// keeps listeners left at their role's default address on ListenHost.
func (c AllConfig) resolve() AllConfig {
	pkiDir := filepath.Join(c.DataDir, "pki")
	for _, id := range []*tlsx.Identity{&c.Gateway.Identity, &c.Producer.Identity, &c.Consumer.Identity, &c.Broker.Identity} {
		id.PKIDir = pkiDir
	}
	c.Broker.DataDir = filepath.Join(c.DataDir, "kafka")
	c.Broker.Groups, c.Broker.GroupTopics = []string{c.Consumer.Group}, []string{c.Consumer.Kafka.Topic}
	c.Gateway.Store = store.Config{DSN: c.StoreDSN, DataDir: filepath.Join(c.DataDir, "store")}
	c.Consumer.Store = c.Gateway.Store
	for _, l := range []**slog.Logger{&c.Gateway.Logger, &c.Producer.Logger, &c.Consumer.Logger, &c.Broker.Logger} {
		*l = c.Logger
	}
	d := DefaultAllConfig()
	for _, a := range []struct {
		addr *string
		def  string
	}{
		{&c.Gateway.Addr, d.Gateway.Addr}, {&c.Producer.Addr, d.Producer.Addr}, {&c.Consumer.Addr, d.Consumer.Addr},
	} {
		if _, port, err := net.SplitHostPort(a.def); err == nil && *a.addr == a.def {
			*a.addr = net.JoinHostPort(c.ListenHost, port)
		}
	}
	return c
}
