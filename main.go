// Command logsys is a log pipeline with mutual TLS on every hop and its own
// PKI. This package holds only the cobra commands and viper configuration;
// the work is done in roles/, pki/, tlsx/ and store/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "logsys:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		os.Exit(1)
	}
}

// exitError carries a specific exit status (for example from pki verify).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// run builds the command tree and executes it with args.
func run(ctx context.Context, args []string) error {
	root := newRootCmd()
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "logsys",
		Short:         "Log pipeline with mutual TLS on every hop and its own PKI",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "configuration file (default: ./config.yaml when present)")
	root.AddCommand(newPKICmd())
	root.AddCommand(newHealthCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newCACmd())
	for _, c := range roleCommands() {
		root.AddCommand(c)
	}
	return root
}
