package roles

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"

	"logsys/internal/cfgerr"
	"logsys/kafkaacl"
	"logsys/tlsx"
)

// BrokerConfig configures the embedded Kafka-compatible broker that
// `logsys all` runs: mutual TLS on loopback, persisted on disk.
type BrokerConfig struct {
	Identity tlsx.Identity `mapstructure:"tls"`
	Port     int           `mapstructure:"port"`
	// DataDir is where the broker persists its log; `logsys all` puts it
	// under its data_dir, so it is not a key of the configuration file.
	DataDir    string   `mapstructure:"-"`
	Partitions int32    `mapstructure:"partitions"`
	Topics     []string `mapstructure:"topics"`
	// Clients are the identity names that may connect. Each connection
	// is the Kafka principal User:<name> and may do only what
	// kafkaacl.Grants allow that principal (docs/security.md).
	Clients []string `mapstructure:"clients"`
	// SyncWrites fsyncs every produced batch before acknowledging it. Off
	// by default, like Kafka (log.flush.interval.messages): acknowledged
	// data survives a crash of the process (it is in the page cache), not
	// of the machine.
	SyncWrites bool         `mapstructure:"sync_writes"`
	Logger     *slog.Logger `mapstructure:"-"`

	// Retention and RetentionBytes (per partition) bound what the broker
	// keeps, as Kafka's retention.ms and retention.bytes do; 0 is no
	// limit. With KeepUncommitted, records the consumer groups of Groups
	// have not committed are kept past them (broker_retention.go).
	Retention       time.Duration `mapstructure:"retention"`
	RetentionBytes  int64         `mapstructure:"retention_bytes"`
	KeepUncommitted bool          `mapstructure:"keep_uncommitted"`
	// Groups are the consumer groups KeepUncommitted waits for, and
	// GroupTopics the topics they consume: a partition of one of these is
	// kept whole until every group has committed on it. `logsys all` sets
	// its consumer's group and topic.
	Groups      []string `mapstructure:"-"`
	GroupTopics []string `mapstructure:"-"`
}

// DefaultBrokerConfig returns the embedded broker's defaults.
func DefaultBrokerConfig() BrokerConfig {
	return BrokerConfig{
		Identity: tlsx.DefaultIdentity("kafka"), Port: 9093, DataDir: ".logsys/kafka", Partitions: 6,
		Topics: []string{kafkaacl.TopicEvents, kafkaacl.TopicDLQ}, Clients: []string{"producer", "consumer", "operator"},
		// Bounded by default (docs/operations.md, "Embedded broker
		// retention"; figures in docs/bench.md).
		Retention: 24 * time.Hour, RetentionBytes: 32 << 20, KeepUncommitted: true,
	}
}

// Validate reports every unusable setting, each error naming its key.
func (c BrokerConfig) Validate() error {
	var errs []error
	if err := c.Identity.Validate(); err != nil {
		errs = append(errs, cfgerr.Under("tls", err))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("port: %d out of range", c.Port))
	}
	if c.Partitions <= 0 {
		errs = append(errs, errors.New("partitions: must be positive"))
	}
	if len(c.Clients) == 0 {
		errs = append(errs, errors.New("clients: must name at least one identity"))
	}
	errs = append(errs, notNegative(limit{"retention", int64(c.Retention)}, limit{"retention_bytes", c.RetentionBytes})...)
	if c.Retention > 0 && c.Retention < time.Minute {
		errs = append(errs, fmt.Errorf("retention: %v is below the minimum of 1m (retention is applied every %v)", c.Retention, retentionCheck))
	}
	if c.RetentionBytes > 0 && c.RetentionBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("retention_bytes: %d is below the minimum of 1 MiB (1048576)", c.RetentionBytes))
	}
	if slices.Contains(c.Clients, c.Identity.Name) {
		errs = append(errs, fmt.Errorf("clients: %q is the broker's own identity, its super user, and may not connect", c.Identity.Name))
	}
	return errors.Join(errs...)
}

// Broker is the embedded broker (franz-go's kfake) behind mutual TLS:
// only the configured identities of the environment may connect, and
// each may do only what kafkaacl.Grants allow it (deny by default, the
// same rules as the real cluster; see broker_acl.go).
type Broker struct {
	*base
	cfg     BrokerConfig
	ln      *principalListener
	denials *denials
	cluster *kfake.Cluster
	ret     *retention
	stopRet context.CancelFunc
	retDone chan struct{}
}

// NewBroker starts listening at once; Close stops it. ctx bounds the
// start (obtaining a certificate from the CA).
func NewBroker(ctx context.Context, cfg BrokerConfig) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	rb, err := newBase(ctx, "broker", cfg.Identity, cfg.Logger, nil)
	if err != nil {
		return nil, err
	}
	b := &Broker{base: rb, cfg: cfg}
	secret, err := newBrokerSecret()
	if err != nil {
		return nil, err
	}
	b.denials = newDenials(b.log)
	listen := func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		tl, err := b.tls.wrapListener(ln, "broker", cfg.Clients...)
		if err != nil {
			ln.Close()
			return nil, err
		}
		b.ln = newPrincipalListener(tl, secret, cfg.Identity.Name, b.denials, b.log)
		return b.ln, nil
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(cfg.Port),
		kfake.ListenFn(listen),
		kfake.SeedTopics(cfg.Partitions, cfg.Topics...),
	}
	opts = append(opts, aclOpts(cfg.Clients, cfg.Identity.Name, secret)...)
	opts = append(opts, retentionOpts(cfg)...)
	if cfg.DataDir != "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("broker: create data dir: %w", err)
		}
		if err := removeCredentials(cfg.DataDir); err != nil {
			return nil, err
		}
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if cfg.SyncWrites {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	if b.cluster, err = kfake.NewCluster(opts...); err != nil {
		return nil, fmt.Errorf("start embedded broker on port %d (all.broker.port): %w", cfg.Port, err)
	}
	for _, t := range cfg.Topics {
		if ti := b.cluster.TopicInfo(t); ti != nil {
			b.denials.topics[ti.TopicID] = t
		}
	}
	if err := errors.Join(removeCredentials(cfg.DataDir), b.reconcileACLs(context.Background())); err != nil {
		b.Close()
		return nil, err
	}
	b.ret = newRetention(cfg)
	b.applyRetention(time.Now()) // what a replay brought back beyond retention_bytes
	rctx, stop := context.WithCancel(context.Background())
	b.stopRet, b.retDone = stop, make(chan struct{})
	go b.runRetention(rctx, b.retDone)
	return b, nil
}

// Addrs returns the broker's host:port addresses.
func (b *Broker) Addrs() []string { return b.cluster.ListenAddrs() }

// Port returns the bound port.
func (b *Broker) Port() int {
	_, p, _ := net.SplitHostPort(b.Addrs()[0])
	n, _ := strconv.Atoi(p)
	return n
}

// Collector is logsys_broker_authorization_denied_total, for the
// registry of whichever role serves the process's metrics.
func (b *Broker) Collector() prometheus.Collector { return b.denials.counter }

// Close stops the broker, flushing its data to disk.
func (b *Broker) Close() error {
	if b.stopRet != nil {
		b.stopRet()
		<-b.retDone
	}
	b.cluster.Close()
	return errors.Join(removeCredentials(b.cfg.DataDir), b.close())
}
