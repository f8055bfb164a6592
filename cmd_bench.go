package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"logsys/bench"
)

// newBenchCmd is `logsys bench`: measure what security costs.
func newBenchCmd() *cobra.Command {
	def := bench.DefaultConfig()
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
	f.Bool("quick", false, "a ~10 s smoke run (short arms, few handshakes, storm of 200)")
	f.Duration("duration", def.Duration, "bound on the whole run; sections that no longer fit are skipped")
	f.Duration("arm", def.Arm, "measuring time of each arm (a comparison runs two arms, interleaved)")
	f.Int("conns", def.Conns, "concurrent senders per arm")
	f.Float64("rate", 0, "requests per second per arm (0: closed loop, as fast as answers come)")
	f.Int64("requests", 0, "stop each arm after this many requests (0: by time)")
	f.Int("batch", def.Batch, "events per request of the batch arm (with --gateway: 1 sends single events)")
	f.Int("handshakes", def.Handshakes, "handshakes per cell of the handshake table")
	f.Int("storm", def.StormClients, "clients of the reconnect storm (0 skips it)")
	f.StringSlice("key-types", def.KeyTypes, "leaf key types of the handshake table (ecdsa-p256, ed25519, rsa2048, rsa4096)")
	f.String("data-dir", "", "where the bench PKI, broker and store live (default: a temporary directory, removed)")
	f.StringSlice("brokers", nil, "real Kafka brokers (host:port,...) for the producer instead of the embedded broker; needs --pki-dir")
	f.String("pki-dir", "", "with --brokers: the PKI the brokers trust (gateway, producer, client identities of env dev)")
	f.String("gateway", "", "https URL of a running gateway to drive instead of the embedded pipeline")
	f.String("cert", "", "client certificate for --gateway")
	f.String("key", "", "client key for --gateway")
	f.String("ca", "", "CA chain (ca-chain.pem) for --gateway")
	f.Bool("http2", false, "with --gateway: use HTTP/2 instead of HTTP/1.1 keep-alive")
	f.Bool("json", false, "print the report as JSON")
	f.Bool("progress", false, "show progress on stderr even when it is not a terminal")
	f.String("cpuprofile", "", "write a CPU profile of the run (go tool pprof) to this file")
	return cmd
}

// benchConfig builds the run's configuration from the flags: --quick
// picks the smoke defaults, explicit flags override either.
func benchConfig(cmd *cobra.Command) (bench.Config, error) {
	f := cmd.Flags()
	cfg := bench.DefaultConfig()
	if q, _ := f.GetBool("quick"); q {
		cfg = bench.QuickConfig()
	}
	var errs []error
	set := func(name string, apply func() error) {
		if f.Changed(name) {
			if err := apply(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	set("duration", func() (err error) { cfg.Duration, err = f.GetDuration("duration"); return })
	set("arm", func() (err error) { cfg.Arm, err = f.GetDuration("arm"); return })
	set("conns", func() (err error) { cfg.Conns, err = f.GetInt("conns"); return })
	set("rate", func() (err error) { cfg.Rate, err = f.GetFloat64("rate"); return })
	set("requests", func() (err error) { cfg.Requests, err = f.GetInt64("requests"); return })
	set("batch", func() (err error) { cfg.Batch, err = f.GetInt("batch"); return })
	set("handshakes", func() (err error) { cfg.Handshakes, err = f.GetInt("handshakes"); return })
	set("storm", func() (err error) { cfg.StormClients, err = f.GetInt("storm"); return })
	set("key-types", func() (err error) { cfg.KeyTypes, err = f.GetStringSlice("key-types"); return })
	cfg.DataDir, _ = f.GetString("data-dir")
	cfg.Gateway, _ = f.GetString("gateway")
	cfg.CertFile, _ = f.GetString("cert")
	cfg.KeyFile, _ = f.GetString("key")
	cfg.CAFile, _ = f.GetString("ca")
	cfg.HTTP2, _ = f.GetBool("http2")
	cfg.Brokers, _ = f.GetStringSlice("brokers")
	cfg.PKIDir, _ = f.GetString("pki-dir")
	if cfg.Gateway != "" && !f.Changed("batch") {
		cfg.Batch = 1
	}
	if len(errs) > 0 {
		return cfg, errs[0]
	}
	if p, _ := f.GetBool("progress"); p || isTerminal(cmd.ErrOrStderr()) {
		cfg.Progress = cmd.ErrOrStderr()
	}
	return cfg, cfg.Validate()
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
