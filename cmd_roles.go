package main

import (
	"context"

	"github.com/spf13/cobra"

	"logsys/internal/config"
	"logsys/roles"
)

// runner is what every role is.
type runner interface {
	Run(ctx context.Context) error
	Close() error
}

// roleCommands returns gateway, producer, consumer and all.
func roleCommands() []*cobra.Command {
	return []*cobra.Command{
		roleCmd("gateway", "Accept log events over HTTPS from clients with certificates (default :8080)",
			func(ctx context.Context, l *config.Loaded, cmd *cobra.Command) (runner, error) {
				cfg := l.Gateway
				cfg.Logger = l.Log.Logger(cmd.ErrOrStderr())
				return roles.NewGateway(ctx, cfg)
			}),
		roleCmd("producer", "Accept events from the gateway and write them to Kafka (default :8081)",
			func(ctx context.Context, l *config.Loaded, cmd *cobra.Command) (runner, error) {
				cfg := l.Producer
				cfg.Logger = l.Log.Logger(cmd.ErrOrStderr())
				return roles.NewProducer(ctx, cfg)
			}),
		roleCmd("consumer", "Read events from Kafka in a consumer group and store them (health on :8082)",
			func(ctx context.Context, l *config.Loaded, cmd *cobra.Command) (runner, error) {
				cfg := l.Consumer
				cfg.Logger = l.Log.Logger(cmd.ErrOrStderr())
				return roles.NewConsumer(ctx, cfg)
			}),
		roleCmd("all", "Run the whole pipeline locally on 127.0.0.1: PKI, embedded broker and store, gateway, producer, consumer",
			func(ctx context.Context, l *config.Loaded, cmd *cobra.Command) (runner, error) {
				cfg := l.AllConfig()
				cfg.Logger, cfg.Out = l.Log.Logger(cmd.ErrOrStderr()), cmd.OutOrStdout()
				return roles.NewAll(ctx, cfg)
			}),
	}
}

// roleCmd is one long-running role: load and validate its configuration
// (nothing is bound before that succeeds), build it, run it until a
// signal, close it.
func roleCmd(name, short string, build func(context.Context, *config.Loaded, *cobra.Command) (runner, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   name,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := load(cmd, name)
			if err != nil {
				return err
			}
			r, err := build(cmd.Context(), l, cmd)
			if err != nil {
				return err
			}
			defer r.Close()
			return r.Run(cmd.Context())
		},
	}
	config.AddFlags(cmd.Flags(), name)
	return cmd
}
