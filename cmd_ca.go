package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"logsys/ca"
	"logsys/internal/config"
	"logsys/pki"
	"logsys/spiffeid"
)

// newCACmd builds "logsys ca": the online issuing service of one environment.
func newCACmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Sign certificates for one environment over mTLS: bootstrap tokens and automatic renewal",
		Long: `logsys ca holds an environment's intermediate key (from the logsys pki directory)
and signs certificate requests over HTTPS (TLS 1.3):

  POST /v1/bootstrap  first certificate, with a single-use token from "logsys pki token"
  POST /v1/renew      renewal, authenticated by the still-valid current certificate
  GET  /v1/trust      the environment's trust bundle and CRLs

The identity of a new certificate comes from the token or the presented
certificate, never from the request. After "logsys pki rotate --intermediate"
the new intermediate is published in the trust bundle at once and signs leaves
once ca.pem is older than --publish-delay.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := load(cmd, "ca")
			if err != nil {
				return err
			}
			cfg := l.CA
			cfg.Logger = l.Log.Logger(cmd.ErrOrStderr())
			return ca.Run(cmd.Context(), cfg)
		},
	}
	config.AddFlags(cmd.Flags(), "ca")
	return cmd
}

// newTokenCmd builds "logsys pki token": a single-use bootstrap token.
func newTokenCmd() *cobra.Command {
	var o ca.TokenOptions
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Print a single-use, expiring bootstrap token for one workload of one environment",
		Long: `Prints a random token (256 bits) bound to --env and --name. logsys ca stores only
its SHA-256 with the binding and expiry (DIR/<env>/tokens/, 0600) and accepts it
once, before it expires, for exactly spiffe://<trust-domain>/<env>/<name>.
The token is printed once on stdout; keep it secret.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = pkiDir(cmd)
			m, err := pki.ReadMeta(o.Dir)
			if err != nil {
				return err
			}
			tok, rec, err := ca.NewToken(o)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "single-use token for %s, expires %s\n",
				spiffeid.ID{TrustDomain: m.TrustDomain, Env: rec.Env, Name: rec.Name}, rec.Expires.Format(time.RFC3339))
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "dev", "environment the token is bound to")
	f.StringVar(&o.Name, "name", "", "workload name the token is bound to (required)")
	f.DurationVar(&o.TTL, "ttl", ca.DefaultTokenTTL, fmt.Sprintf("validity of the token (at most %v)", ca.MaxTokenTTL))
	f.StringSliceVar(&o.Hosts, "hosts", nil, "extra DNS names or IPs for the certificate")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
