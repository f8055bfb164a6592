package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"logsys/internal/config"
	"logsys/roles"
)

// exitUnhealthy is the exit status of "logsys health" when the probe fails,
// as container health checks expect.
const exitUnhealthy = 1

// newHealthCmd builds "logsys health": a probe for container health checks
// (the image has no shell or curl). It exits 0 when the endpoint answers
// 200, 1 otherwise with a one-line reason.
func newHealthCmd() *cobra.Command {
	var liveness, url string
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Probe a role's /healthz (plain HTTP, loopback) or /readyz (mutual TLS); exit 0 when UP",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := load(cmd, "health")
			if err != nil {
				return &exitError{code: exitUnhealthy, err: fmt.Errorf("DOWN: %w", err)}
			}
			pc := l.Health
			pc.Liveness, pc.URL = liveness, url
			target, err := roles.Probe(cmd.Context(), pc)
			if err != nil {
				return &exitError{code: exitUnhealthy, err: fmt.Errorf("DOWN: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "UP: %s\n", target)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&liveness, "liveness", "", "plain-HTTP liveness URL on loopback, e.g. http://127.0.0.1:9080/healthz (a URL without a path probes /healthz)")
	f.StringVar(&url, "url", "", "HTTPS readiness URL probed with mutual TLS, e.g. https://127.0.0.1:8080/readyz (a URL without a path probes /readyz)")
	config.AddFlags(f, "health")
	cmd.MarkFlagsMutuallyExclusive("liveness", "url")
	cmd.MarkFlagsOneRequired("liveness", "url")
	return cmd
}
