package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"logsys/internal/config"
)

// newConfigCmd builds "logsys config": print and check the configuration.
func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration with its sources, or check a configuration file",
	}
	cmd.AddCommand(newConfigPrintCmd(), newConfigCheckCmd())
	return cmd
}

func newConfigPrintCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "print",
		Short: "Print every key's effective value and where it came from (default, file, env, flag); secrets redacted",
		Long: `Print the configuration a command would run with: every key, its value and its
source. With --role only that command's sections are shown, and the command's
flags may be given to see their effect (logsys config print --role gateway --addr :9443).
Tokens and passwords are shown as <redacted>, DSN passwords likewise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if role != "" && !slices.Contains(config.Roles(), role) {
				return fmt.Errorf("--role %q: want one of %s", role, strings.Join(config.Roles(), ", "))
			}
			var stray []string
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if f.Name == "role" || f.Name == "config" {
					return
				}
				if !slices.ContainsFunc(config.Flags(role), func(g config.Flag) bool { return g.Name == f.Name }) {
					stray = append(stray, "--"+f.Name)
				}
			})
			switch {
			case len(stray) > 0 && role == "":
				return fmt.Errorf("%s: give --role to say which command's flags these are", strings.Join(stray, ", "))
			case len(stray) > 0:
				return fmt.Errorf("%s: not a flag of logsys %s", strings.Join(stray, ", "), role)
			}
			path, _ := cmd.Flags().GetString("config")
			l, err := config.Load(config.Options{File: path, Command: role, Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			return l.Print(cmd.OutOrStdout(), role)
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "show only the sections of this command: "+strings.Join(config.Roles(), ", "))
	config.AddFlags(cmd.Flags(), config.PrintCommand)
	return cmd
}

func newConfigCheckCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration file (with the environment applied) without starting anything",
		Long: `Validate FILE with the environment applied, without starting anything. Without
--role every section is checked, including what logsys all owns (a file for
logsys all must not set the producer URL, brokers, pki_dir or store); with
--role only the sections that command reads (a file for separate gateway and
producer processes: --role gateway, then --role producer).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role != "" && !slices.Contains(config.Roles(), role) {
				return fmt.Errorf("--role %q: want one of %s", role, strings.Join(config.Roles(), ", "))
			}
			l, err := config.Load(config.Options{File: args[0], Command: role})
			if err != nil {
				return err
			}
			if err := l.Validate(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", args[0])
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "check only the sections of this command: "+strings.Join(config.Roles(), ", "))
	return cmd
}
