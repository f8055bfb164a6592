// Command logsys is a log pipeline with mutual TLS on every hop and its own
// PKI. This package holds only the cobra commands: each parses its flags,
// loads the configuration tree (internal/config), calls one package and
// returns its error, which main maps to an exit status in one place.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"logsys/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "logsys:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status (for example from pki verify).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// exitCode is the one mapping of errors to exit statuses: a command's own
// status (pki verify, health), else 1.
func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return 1
}

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
	root.PersistentFlags().String("config", "", "configuration file (default: ./"+config.DefaultFile+" when present)")
	root.AddCommand(newPKICmd())
	root.AddCommand(newHealthCmd())
	root.AddCommand(newBenchCmd())
	root.AddCommand(newCACmd())
	root.AddCommand(newConfigCmd())
	root.AddCommand(newDLQCmd())
	for _, c := range roleCommands() {
		root.AddCommand(c)
	}
	return root
}

// load reads the configuration tree for command (the cobra command's path
// below the root, e.g. "pki init") with cmd's flags, and validates the
// sections command reads.
func load(cmd *cobra.Command, command string) (*config.Loaded, error) {
	path, _ := cmd.Flags().GetString("config")
	l, err := config.Load(config.Options{File: path, Command: command, Flags: cmd.Flags()})
	if err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}
