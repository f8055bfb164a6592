package dlq

import (
	"errors"
	"fmt"
	"net"
	"time"

	"logsys/kafkaacl"
	"logsys/tlsx"
)

// Config is the `dlq` section: who `logsys dlq` is on the brokers and
// where the topics are.
type Config struct {
	// PKIDir, Env and Name select the client certificate in the `logsys
	// pki` layout; the brokers grant `operator` (kafkaacl) just what the
	// command needs.
	PKIDir string `mapstructure:"pki_dir"`
	Env    string `mapstructure:"env"`
	Name   string `mapstructure:"name"`
	// Brokers are the bootstrap addresses; BrokerName the identity they
	// must present.
	Brokers    []string `mapstructure:"brokers"`
	BrokerName string   `mapstructure:"broker_name"`
	// Topic receives replays; DLQTopic holds the dead letters.
	Topic    string `mapstructure:"topic"`
	DLQTopic string `mapstructure:"dlq_topic"`
	// Timeout bounds one command: reading the topic, or a replay.
	Timeout time.Duration `mapstructure:"timeout"`
}

// DefaultConfig returns the defaults: the operator of dev in the PKI and
// the broker that `logsys all` runs.
func DefaultConfig() Config {
	return Config{
		PKIDir: tlsx.DefaultPKIDir, Env: tlsx.DefaultEnv, Name: "operator",
		Brokers: []string{"127.0.0.1:9093"}, BrokerName: "kafka",
		Topic: kafkaacl.TopicEvents, DLQTopic: kafkaacl.TopicDLQ, Timeout: 30 * time.Second,
	}
}

// Validate reports every unusable setting, each error naming its key.
func (c Config) Validate() error {
	var errs []error
	for _, k := range []struct{ key, v string }{
		{"pki_dir", c.PKIDir}, {"env", c.Env}, {"name", c.Name}, {"broker_name", c.BrokerName},
		{"topic", c.Topic}, {"dlq_topic", c.DLQTopic},
	} {
		if k.v == "" {
			errs = append(errs, fmt.Errorf("%s: is required", k.key))
		}
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: is required"))
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			errs = append(errs, fmt.Errorf("brokers: %q is not host:port", b))
		}
	}
	if c.Topic != "" && c.Topic == c.DLQTopic {
		errs = append(errs, errors.New("dlq_topic: must differ from topic"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, errors.New("timeout: must be positive"))
	}
	return errors.Join(errs...)
}
