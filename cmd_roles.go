package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"logsys/roles"
)

// roleCommands returns gateway, producer, consumer and all.
func roleCommands() []*cobra.Command {
	return []*cobra.Command{
		roleCmd("gateway", "Accept log events over HTTPS from clients with certificates (default :8080)",
			func(ctx context.Context, v *viper.Viper) (runner, error) {
				cfg := roles.DefaultGatewayConfig()
				if err := unmarshal(v, "gateway", &cfg); err != nil {
					return nil, err
				}
				cfg.Logger = newLogger(v)
				return roles.NewGateway(ctx, cfg)
			}, map[string]any{"gateway": roles.DefaultGatewayConfig()}, "gateway"),
		roleCmd("producer", "Accept events from the gateway and write them to Kafka (default :8081)",
			func(ctx context.Context, v *viper.Viper) (runner, error) {
				cfg := roles.DefaultProducerConfig()
				if err := unmarshal(v, "producer", &cfg); err != nil {
					return nil, err
				}
				cfg.Logger = newLogger(v)
				return roles.NewProducer(ctx, cfg)
			}, map[string]any{"producer": roles.DefaultProducerConfig()}, "producer"),
		roleCmd("consumer", "Read events from Kafka in a consumer group and store them (health on :8082)",
			func(ctx context.Context, v *viper.Viper) (runner, error) {
				cfg := roles.DefaultConsumerConfig()
				if err := unmarshal(v, "consumer", &cfg); err != nil {
					return nil, err
				}
				cfg.Logger = newLogger(v)
				return roles.NewConsumer(ctx, cfg)
			}, map[string]any{"consumer": roles.DefaultConsumerConfig()}, "consumer"),
		allCmd(),
	}
}

// runner is what every role is.
type runner interface {
	Run(ctx context.Context) error
	Close() error
}

func roleCmd(name, short string, build func(context.Context, *viper.Viper) (runner, error), defaults map[string]any, section string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v, err := newViper(cmd, withLogDefaults(defaults))
			if err != nil {
				return err
			}
			for flag, key := range map[string]string{"addr": section + ".addr", "pki-dir": section + ".tls.pki_dir", "env": section + ".tls.env"} {
				if err := bindFlag(v, cmd, flag, key); err != nil {
					return err
				}
			}
			r, err := build(cmd.Context(), v)
			if err != nil {
				return err
			}
			defer r.Close()
			return r.Run(cmd.Context())
		},
	}
	cmd.Flags().String("addr", "", "listen address (overrides "+section+".addr)")
	cmd.Flags().String("pki-dir", "", "directory made by `logsys pki init` (overrides "+section+".tls.pki_dir)")
	cmd.Flags().String("env", "", "environment whose certificates to use (overrides "+section+".tls.env)")
	return cmd
}

func allCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "all",
		Short: "Run the whole pipeline locally: PKI, embedded broker and store, gateway, producer, consumer",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			def := roles.DefaultAllConfig()
			v, err := newViper(cmd, withLogDefaults(map[string]any{
				"all": def, "gateway": def.Gateway, "producer": def.Producer, "consumer": def.Consumer,
			}))
			if err != nil {
				return err
			}
			if err := bindFlag(v, cmd, "data-dir", "all.data_dir"); err != nil {
				return err
			}
			cfg := def
			for section, out := range map[string]any{"all": &cfg, "gateway": &cfg.Gateway, "producer": &cfg.Producer, "consumer": &cfg.Consumer} {
				if err := unmarshal(v, section, out); err != nil {
					return err
				}
			}
			cfg.Logger, cfg.Out = newLogger(v), cmd.OutOrStdout()
			a, err := roles.NewAll(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer a.Close()
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().String("data-dir", ".logsys", "where the PKI, broker data and store live")
	return cmd
}

// logConfig is the logging section of config.yaml.
type logConfig struct {
	Level  string `mapstructure:"level"`
	Format string `mapstructure:"format"`
}

func withLogDefaults(m map[string]any) map[string]any {
	m["log"] = logConfig{Level: "info", Format: "text"}
	return m
}

// newLogger builds the structured logger from the log section.
func newLogger(v *viper.Viper) *slog.Logger {
	var lc logConfig
	_ = v.UnmarshalKey("log", &lc)
	var level slog.Level
	if err := level.UnmarshalText([]byte(lc.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if lc.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
