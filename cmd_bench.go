package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"logsys/bench"
	"logsys/internal/config"
)

// newBenchCmd is `logsys bench`: measure what security costs.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput, latency and CPU of the pipeline with and without TLS, HTTP/2, resumption and key types",
		Long: `bench starts the pipeline on loopback (embedded broker, every hop over mutual TLS) and
drives its gateway from the same process. It reports events/s, p50/p95/p99/max latency,
errors, CPU seconds per 1000 events (getrusage of the whole process: the load generator is
included) and bytes on the wire, and compares in one run: mTLS vs plaintext, HTTP/2 vs
HTTP/1.1 keep-alive, connection reuse vs a new connection per request with and without
session resumption, leaf key types and hybrid post-quantum vs X25519 key exchange.
With --gateway it drives a running gateway instead (no comparisons); with --brokers the
pipeline's producer writes to real Kafka brokers and broker CPU is reported beside app CPU.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := benchConfig(cmd)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if path, _ := f.GetString("cpuprofile"); path != "" {
				pf, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pf.Close()
				if err := pprof.StartCPUProfile(pf); err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			rep, err := bench.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON, _ := f.GetBool("json"); asJSON {
				return rep.JSON(cmd.OutOrStdout())
			}
			return rep.Table(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	config.AddFlags(f, "bench")
	f.Bool("json", false, "print the report as JSON")
	f.Bool("progress", false, "show progress on stderr even when it is not a terminal")
	f.String("cpuprofile", "", "write a CPU profile of the run (go tool pprof) to this file")
	return cmd
}

// benchConfig is the run's configuration: the bench section of the tree
// (--quick and --gateway pick their defaults there), with progress on a
// terminal or when asked.
func benchConfig(cmd *cobra.Command) (bench.Config, error) {
	l, err := load(cmd, "bench")
	if err != nil {
		return bench.Config{}, err
	}
	cfg := l.Bench
	if p, _ := cmd.Flags().GetBool("progress"); p || isTerminal(cmd.ErrOrStderr()) {
		cfg.Progress = cmd.ErrOrStderr()
	}
	return cfg, nil
}

// isTerminal reports whether w is a character device (a TTY).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
