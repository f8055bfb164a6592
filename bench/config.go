package bench

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"time"
)

// Config is one `logsys bench` run.
type Config struct {
	// Arm is how long each measured arm runs; comparisons run both arms
	// for this long in total, interleaved in two rounds.
	Arm time.Duration `mapstructure:"arm"`
	// Duration bounds the whole run (setup included); arms are shortened
	// to fit and later sections skipped when it runs out.
	Duration time.Duration `mapstructure:"duration"`
	// Quick is a ~10 s smoke run: short arms, few handshakes, a small storm.
	Quick bool `mapstructure:"quick"`
	// Conns is the number of concurrent senders of each arm.
	Conns int `mapstructure:"conns"`
	// Rate caps requests per second of each arm (0: as fast as answers come).
	Rate float64 `mapstructure:"rate"`
	// Requests stops each arm after this many requests (0: by time only).
	Requests int64 `mapstructure:"requests"`
	// Batch is the events per request of the batch arm (and of the remote
	// run; 1 sends single events to /api/v1/logs).
	Batch int `mapstructure:"batch"`
	// Handshakes is the number of handshakes per handshake-cost cell.
	Handshakes int `mapstructure:"handshakes"`
	// StormClients is the size of the reconnect storm (0: skip it).
	StormClients int `mapstructure:"storm"`
	// KeyTypes are the leaf key types of the handshake table.
	KeyTypes []string `mapstructure:"key_types"`
	// DataDir holds the bench PKI and the embedded broker and store; a
	// temporary directory (removed afterwards) when empty.
	DataDir string `mapstructure:"data_dir"`

	// Gateway, when set, is the https URL of a running gateway to drive
	// instead of the embedded pipeline, with this client certificate.
	Gateway  string `mapstructure:"gateway"`
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	CAFile   string `mapstructure:"ca_file"`
	// HTTP2 makes the remote run use HTTP/2 (HTTP/1.1 keep-alive otherwise).
	HTTP2 bool `mapstructure:"http2"`

	// Brokers, when set, are real Kafka brokers (host:port) that the
	// pipeline's producer writes to instead of the embedded broker; the
	// client identities (gateway, producer, client in env dev) come from
	// PKIDir, the PKI the brokers trust. Broker CPU is read from /proc of
	// the processes listening on the brokers' ports when they are local.
	Brokers []string `mapstructure:"brokers"`
	PKIDir  string   `mapstructure:"pki_dir"`

	// Progress receives a live progress line; nil disables it.
	Progress io.Writer `mapstructure:"-"`
}

// DefaultConfig is the default run: under a minute on two cores.
func DefaultConfig() Config {
	return Config{
		Arm: 2 * time.Second, Duration: 55 * time.Second, Conns: 64, Batch: 500,
		Handshakes: 150, StormClients: 5000, KeyTypes: []string{"ecdsa-p256", "ed25519", "rsa2048"},
	}
}

// QuickConfig is the ~10 s smoke run used by tests and CI.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Quick, c.Arm, c.Duration = true, 500*time.Millisecond, 30*time.Second
	c.Handshakes, c.StormClients, c.KeyTypes = 20, 200, []string{"ecdsa-p256"}
	return c
}

// Validate reports every unusable setting, naming the flag.
func (c Config) Validate() error {
	var errs []error
	if c.Arm <= 0 {
		errs = append(errs, errors.New("--arm must be positive"))
	}
	if c.Duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	if c.Conns < 1 || c.Conns > 10000 {
		errs = append(errs, fmt.Errorf("--conns %d must be between 1 and 10000", c.Conns))
	}
	if c.Rate < 0 {
		errs = append(errs, errors.New("--rate must not be negative"))
	}
	if c.Requests < 0 {
		errs = append(errs, errors.New("--requests must not be negative"))
	}
	if c.Batch < 1 || c.Batch > 5000 {
		errs = append(errs, fmt.Errorf("--batch %d must be between 1 and 5000 (the gateway's max_batch_events)", c.Batch))
	}
	if c.Handshakes < 1 {
		errs = append(errs, errors.New("--handshakes must be at least 1"))
	}
	if c.StormClients < 0 || c.StormClients > 10000 {
		errs = append(errs, fmt.Errorf("--storm %d must be between 0 and 10000", c.StormClients))
	}
	for _, k := range c.KeyTypes {
		if _, ok := keyTypes[k]; !ok {
			errs = append(errs, fmt.Errorf("--key-types: %q is not one of ecdsa-p256, ed25519, rsa2048, rsa4096", k))
		}
	}
	if c.Gateway != "" {
		u, err := url.Parse(c.Gateway)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--gateway %q must be an https URL such as https://127.0.0.1:8080", c.Gateway))
		}
		if c.CertFile == "" || c.KeyFile == "" || c.CAFile == "" {
			errs = append(errs, errors.New("--gateway needs --cert, --key and --ca (the client's certificate, key and the environment's CA chain)"))
		}
	} else if c.CertFile != "" || c.KeyFile != "" || c.CAFile != "" {
		errs = append(errs, errors.New("--cert, --key and --ca apply only with --gateway"))
	}
	errs = append(errs, c.validateBrokers()...)
	return errors.Join(errs...)
}

func (c Config) validateBrokers() []error {
	var errs []error
	if len(c.Brokers) == 0 {
		if c.PKIDir != "" {
			errs = append(errs, errors.New("--pki-dir applies only with --brokers"))
		}
		return errs
	}
	if c.Gateway != "" {
		errs = append(errs, errors.New("--brokers and --gateway exclude each other: --gateway drives a running pipeline"))
	}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("--brokers: %q must be host:port", b))
		}
	}
	if c.PKIDir == "" {
		errs = append(errs, errors.New("--brokers needs --pki-dir: the PKI the brokers trust (logsys pki init), for the gateway, producer and client identities"))
	}
	return errs
}
