package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"logsys/bench"
	"logsys/ca"
	"logsys/dlq"
	"logsys/roles"
	"logsys/tlsx"
)

// File is the whole configuration tree, as config.yaml spells it.
type File struct {
	Log      Log                  `mapstructure:"log"`
	Gateway  roles.GatewayConfig  `mapstructure:"gateway"`
	Producer roles.ProducerConfig `mapstructure:"producer"`
	Consumer roles.ConsumerConfig `mapstructure:"consumer"`
	// All holds the settings of `logsys all` itself; it runs the roles
	// with the gateway, producer and consumer sections above.
	All    roles.AllConfig   `mapstructure:"all"`
	CA     ca.Config         `mapstructure:"ca"`
	PKI    PKI               `mapstructure:"pki"`
	Health roles.ProbeConfig `mapstructure:"health"`
	Bench  bench.Config      `mapstructure:"bench"`
	DLQ    dlq.Config        `mapstructure:"dlq"`
}

// Log configures the structured logs every long-running command writes
// to stderr.
type Log struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

// PKI holds what the `logsys pki` commands share.
type PKI struct {
	// Dir is the PKI directory every pki subcommand works on.
	Dir string `mapstructure:"dir"`
	// Hosts are extra DNS names or IPs `pki init` adds to every leaf.
	Hosts []string `mapstructure:"hosts"`
}

// Default returns the tree filled with the documented defaults.
func Default() File {
	c := ca.DefaultConfig()
	c.Dir, c.Env = tlsx.DefaultPKIDir, tlsx.DefaultEnv
	return File{
		Log:      Log{Level: "info", Format: "text"},
		Gateway:  roles.DefaultGatewayConfig(),
		Producer: roles.DefaultProducerConfig(),
		Consumer: roles.DefaultConsumerConfig(),
		All:      roles.DefaultAllConfig(),
		CA:       c,
		PKI:      PKI{Dir: tlsx.DefaultPKIDir},
		Health:   roles.DefaultProbeConfig(),
		Bench:    bench.DefaultConfig(),
		DLQ:      dlq.DefaultConfig(),
	}
}

// AllConfig is what `logsys all` runs: the all section with the gateway,
// producer and consumer sections of the tree.
func (f File) AllConfig() roles.AllConfig {
	a := f.All
	a.Gateway, a.Producer, a.Consumer = f.Gateway, f.Producer, f.Consumer
	return a
}

var logLevels = []string{"debug", "info", "warn", "error"}

// Validate reports an unknown level or format.
func (l Log) Validate() error {
	var errs []error
	if !slices.Contains(logLevels, strings.ToLower(l.Level)) {
		errs = append(errs, fmt.Errorf("level: %q must be one of %s", l.Level, strings.Join(logLevels, ", ")))
	}
	if l.Format != "text" && l.Format != "json" {
		errs = append(errs, fmt.Errorf("format: %q must be text or json", l.Format))
	}
	return errors.Join(errs...)
}

// Logger builds the structured logger the section describes, writing to w.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Validate reports an empty directory.
func (p PKI) Validate() error {
	if strings.TrimSpace(p.Dir) == "" {
		return errors.New("dir: is required")
	}
	return nil
}
