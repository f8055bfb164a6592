package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"logsys/ca"
	"logsys/ca/wire"
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
certificate, never from the request. Renewals and trust fetches report which
intermediates each role holds. After "logsys pki rotate --intermediate" the new
intermediate is published in the trust bundle at once; it signs leaves once it
has been published for --publish-delay and every member has reported it (or
after --rollover-max-wait, with an alert), and the previous one is retired once
no leaf it signed is left. "logsys ca status" shows the phase.`,
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
	cmd.AddCommand(newCAStatusCmd())
	return cmd
}

// newCAStatusCmd builds "logsys ca status": the rollover phase of a
// running CA and what each member trusts.
func newCAStatusCmd() *cobra.Command {
	var (
		o      ca.StatusOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the intermediate rollover of a running logsys ca and which intermediates each member trusts",
		Long: `Asks a running logsys ca (GET /v1/status) for the phase of its environment's
intermediate rollover (done, prepared, propagating, active, retiring) and, for
each member (a live certificate lineage of an identity), the intermediates it
reported holding, when it last reported, and its newest certificate.

The request presents DIR/<env>/<name>/cert.pem (--name: an admin name of the
CA, ca.admins; "operator" by default, issued by logsys pki init) and trusts only
the environment's intermediates.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := load(cmd, "ca status")
			if err != nil {
				return err
			}
			o.Dir, o.Env = l.CA.Dir, l.CA.Env
			if o.URL == "" {
				o.URL = caURL(l.CA.Addr)
			}
			if o.Name == "" && len(l.CA.Admins) > 0 {
				o.Name = l.CA.Admins[0]
			}
			st, err := ca.FetchStatus(cmd.Context(), o)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			return printStatus(cmd.OutOrStdout(), st)
		},
	}
	f := cmd.Flags()
	f.String("pki-dir", "", "PKI directory (sets ca.pki_dir)")
	f.String("env", "", "environment (sets ca.env)")
	f.StringVar(&o.URL, "url", "", "URL of logsys ca (default: https://localhost at the port of ca.addr)")
	f.StringVar(&o.Name, "name", "", "admin name whose certificate is presented (default: the first of ca.admins)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// caURL is the local URL of a CA listening on addr.
func caURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "https://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "https://" + net.JoinHostPort(host, port)
}

// printStatus shows a rollover status as text.
func printStatus(out io.Writer, st wire.Status) error {
	names := map[string]string{st.Current.SHA256: "current"}
	if st.Previous != nil {
		names[st.Current.SHA256], names[st.Previous.SHA256] = "next", "previous"
	}
	if st.Retired != "" {
		names[st.Retired] = "retired"
	}
	anchor := func(sha string) string {
		if n, ok := names[sha]; ok {
			return n
		}
		return sha[:min(12, len(sha))]
	}
	ago := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return fmt.Sprintf("%s (%s ago)", t.Format(time.RFC3339), st.At.Sub(t).Round(time.Second))
	}
	fmt.Fprintf(out, "environment %s: rollover %s", st.Env, st.Phase)
	if !st.Since.IsZero() {
		fmt.Fprintf(out, " since %s", ago(st.Since))
	}
	switch st.Phase {
	case "prepared", "propagating":
		fmt.Fprintf(out, ": %d of %d members hold the next intermediate", st.Ready, st.Counted)
	case "active":
		fmt.Fprintf(out, ": %d of %d members hold a certificate of the new intermediate", st.Ready, st.Counted)
	case "retiring":
		fmt.Fprintf(out, ": %d of %d members no longer hold the retired intermediate", st.Ready, st.Counted)
	}
	fmt.Fprintln(out)
	if st.Forced != "" {
		fmt.Fprintf(out, "  activated before every member reported it (%s)\n", st.Forced)
	}
	for _, i := range []struct {
		what string
		in   *wire.Intermediate
	}{{"ca.pem", &st.Current}, {"ca-prev.pem", st.Previous}} {
		if i.in == nil {
			continue
		}
		signs := ""
		if i.in.SHA256 == st.Signer {
			signs = ", signs new leaves"
		}
		fmt.Fprintf(out, "  %-8s %-11s serial %s, expires %s%s\n", anchor(i.in.SHA256), i.what, i.in.Serial, i.in.NotAfter.Format(time.RFC3339), signs)
	}
	maxWait := st.MaxWait
	if maxWait == "0s" {
		maxWait = "none (waits for every member)"
	}
	fmt.Fprintf(out, "  rule: published at least %s, then every member; maximum wait %s\n", st.MinPropagation, maxWait)
	if len(st.Waiting) > 0 {
		fmt.Fprintf(out, "  waiting for: %s\n", strings.Join(slices.Compact(st.Waiting), ", "))
	}
	if n := len(st.PreviousLeaves); n > 0 {
		last := st.PreviousLeaves[n-1]
		fmt.Fprintf(out, "  retirement waits for %d unexpired leaves of the previous intermediate, the last until %s\n", n, last.NotAfter.Format(time.RFC3339))
		for _, l := range st.PreviousLeaves {
			if l.File != "" {
				fmt.Fprintf(out, "    leaf file %s (%s), until %s: re-issue it with logsys pki rotate --env %s\n", l.File, l.Identity, l.NotAfter.Format(time.RFC3339), st.Env)
			}
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IDENTITY\tLINEAGE\tSERIAL\tNOT-AFTER\tISSUER\tANCHORS HELD\tLAST SEEN\tWAITING")
	for _, m := range st.Members {
		var held []string
		for _, a := range m.Anchors {
			held = append(held, anchor(a))
		}
		if len(held) == 0 {
			held = []string{"-"}
		}
		waiting := ""
		if m.Waiting {
			waiting = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", m.Identity, m.Lineage, m.Serial, m.NotAfter.Format(time.RFC3339),
			anchor(m.IssuerSHA256), m.IssuerSerial, strings.Join(held, ","), ago(m.LastSeen), waiting)
	}
	return tw.Flush()
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
