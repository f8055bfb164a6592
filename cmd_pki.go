package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"logsys/ca"
	"logsys/internal/config"
	"logsys/pki"
)

// exitVerifyFailed is the exit status of "pki verify" when the
// certificate is rejected (as opposed to 1 for usage or I/O errors).
const exitVerifyFailed = 2

// newPKICmd builds "logsys pki" and its subcommands.
func newPKICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pki",
		Short: "Manage the CA hierarchy: root, per-environment intermediates, leaves, CRLs and keystores",
	}
	config.AddFlags(cmd.PersistentFlags(), "pki")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		l, err := load(cmd, strings.TrimPrefix(cmd.CommandPath(), "logsys "))
		if err != nil {
			return err
		}
		cmd.SetContext(context.WithValue(cmd.Context(), pkiConfigKey{}, l))
		return nil
	}
	cmd.AddCommand(newPKIInitCmd(), newPKIIssueCmd(), newPKIInspectCmd(), newPKIVerifyCmd(),
		newPKIRevokeCmd(), newPKIRotateCmd())
	cmd.AddCommand(newPKISnippetsCmd())
	cmd.AddCommand(newTokenCmd())
	return cmd
}

// pkiConfigKey carries the configuration the pki command loaded before
// its subcommand runs.
type pkiConfigKey struct{}

// pkiConfig is the configuration loaded for the running pki subcommand.
func pkiConfig(cmd *cobra.Command) *config.Loaded {
	l, _ := cmd.Context().Value(pkiConfigKey{}).(*config.Loaded)
	if l == nil {
		d := config.Default()
		return &config.Loaded{File: d}
	}
	return l
}

// pkiDir is the PKI directory of every pki subcommand (pki.dir, --pki-dir).
func pkiDir(cmd *cobra.Command) string { return pkiConfig(cmd).PKI.Dir }

func printReport(w io.Writer, r pki.Report) {
	fmt.Fprint(w, r.String())
	fmt.Fprintf(w, "%d created, %d kept, %d replaced, %d removed\n",
		r.Count(pki.OpCreated), r.Count(pki.OpKept), r.Count(pki.OpReplaced), r.Count(pki.OpRemoved))
}

func newPKIInitCmd() *cobra.Command {
	var o pki.InitOptions
	var keyType string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create or complete the PKI (idempotent: keeps valid files, fills in missing ones)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kt, err := pki.ParseKeyType(keyType)
			if err != nil {
				return err
			}
			if keyType != "" {
				o.KeyType = kt
			}
			o.Dir, o.Hosts = pkiDir(cmd), pkiConfig(cmd).PKI.Hosts
			r, err := pki.Init(cmd.Context(), o)
			printReport(cmd.OutOrStdout(), r)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.TrustDomain, "trust-domain", "", "SPIFFE trust domain (default logsys.local, or as recorded in pki.json)")
	f.StringSliceVar(&o.Envs, "envs", nil, "environments (default dev,staging,prod)")
	f.StringSliceVar(&o.Names, "names", nil, "leaf names per environment (default gateway,producer,consumer,kafka,postgres,prometheus,client)")
	config.AddFlags(f, "pki init")
	f.StringVar(&o.RootKeyPath, "root-key-out", "", "root key location (written on creation, read when signing intermediates); default DIR/root/ca-key.pem")
	f.StringVar(&keyType, "key-type", "", "ecdsa-p256 (default), rsa2048, rsa4096 or ed25519")
	f.DurationVar(&o.LeafTTL, "ttl", 0, "leaf lifetime (default 720h; at least 1h)")
	return cmd
}

func usageFlag(clientOnly, serverOnly bool) (pki.Usage, error) {
	switch {
	case clientOnly && serverOnly:
		return 0, errors.New("--client-only and --server-only exclude each other")
	case clientOnly:
		return pki.UsageClient, nil
	case serverOnly:
		return pki.UsageServer, nil
	}
	return pki.UsageDefault, nil
}

func newPKIIssueCmd() *cobra.Command {
	var o pki.IssueOptions
	var ips []net.IP
	var clientOnly, serverOnly bool
	cmd := &cobra.Command{
		Use:   "issue",
		Short: "Issue (or re-issue with a new key) one leaf certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := usageFlag(clientOnly, serverOnly)
			if err != nil {
				return err
			}
			o.Dir, o.IPs, o.Usage = pkiDir(cmd), ips, u
			r, err := pki.Issue(cmd.Context(), o)
			printReport(cmd.OutOrStdout(), r)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "environment")
	f.StringVar(&o.Name, "name", "", "leaf name (also its DNS SAN and the last segment of its SPIFFE ID)")
	f.StringSliceVar(&o.DNS, "dns", nil, "extra DNS SANs")
	f.IPSliceVar(&ips, "ip", nil, "extra IP SANs")
	f.DurationVar(&o.TTL, "ttl", 0, "lifetime (default as recorded by init)")
	f.BoolVar(&clientOnly, "client-only", false, "client authentication only")
	f.BoolVar(&serverOnly, "server-only", false, "server authentication only")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newPKIInspectCmd() *cobra.Command {
	var asJSON, issued bool
	var identities string
	var iss ca.IssuedOptions
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "List every certificate with its expiry, status and chain check",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if issued {
				iss.Dir = pkiDir(cmd)
				return printIssued(cmd.Context(), cmd.OutOrStdout(), iss, asJSON)
			}
			if iss.Identity != "" || iss.Env != "" || iss.All {
				return errors.New("--identity, --env and --all go with --issued")
			}
			rows, err := pki.Inspect(cmd.Context(), pki.InspectOptions{Dir: pkiDir(cmd)})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if identities != "" {
				return printTrust(out, pkiDir(cmd), identities, asJSON)
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENV\tNAME\tIDENTITY\tSERIAL\tNOT-AFTER\tDAYS\tSTATUS\tCHAIN")
			for _, c := range rows {
				chain := "no"
				if c.ChainOK {
					chain = "yes"
				}
				env := c.Env
				if env == "" {
					env = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", env, c.Name, c.Identity, c.Serial,
					c.NotAfter.Format(time.RFC3339), c.DaysLeft, c.Status, chain)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, c := range rows {
				if c.Problem != "" {
					fmt.Fprintf(out, "%s: %s\n", c.Path, c.Problem)
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&identities, "identities", "", "state directories of roles enrolled with logsys ca (e.g. .logsys/identities): show which intermediates each one trusts")
	cmd.Flags().BoolVar(&issued, "issued", false, "list the certificates logsys ca issued (from each environment's ledger) with their lineage")
	cmd.Flags().StringVar(&iss.Identity, "identity", "", "with --issued: only this spiffe:// ID or workload name")
	cmd.Flags().StringVar(&iss.Env, "env", "", "with --issued: only this environment")
	cmd.Flags().BoolVar(&iss.All, "all", false, "with --issued: include expired certificates")
	cmd.MarkFlagsMutuallyExclusive("issued", "identities")
	return cmd
}

// printIssued lists what the CA issued, with lineage and status.
func printIssued(ctx context.Context, out io.Writer, o ca.IssuedOptions, asJSON bool) error {
	rows, reps, err := ca.Issued(ctx, o)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tIDENTITY\tSERIAL\tPARENT\tMETHOD\tISSUED\tNOT-AFTER\tSTATUS")
	for _, c := range rows {
		parent := c.Parent
		if parent == "" && c.Token != "" {
			parent = "token " + c.Token[:min(12, len(c.Token))]
		}
		status := c.Status
		if c.RevokedVia != "" && c.RevokedVia != c.Serial {
			status += " (via " + c.RevokedVia + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Env, c.Identity, c.Serial, parent, c.Method,
			c.IssuedAt.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339), status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reps {
		if r.Torn > 0 {
			fmt.Fprintf(out, "%s: %d bytes after the last complete record ignored (a write interrupted by a crash, or in progress)\n", r.Path, r.Torn)
		}
		if r.Skipped > 0 {
			fmt.Fprintf(out, "%s: %d records of kinds this version does not know skipped\n", r.Path, r.Skipped)
		}
	}
	return nil
}

// printTrust shows which intermediates each CA-enrolled role trusts.
func printTrust(out io.Writer, dir, identities string, asJSON bool) error {
	rows, err := pki.InspectTrust(dir, identities)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	yes := map[bool]string{true: "yes", false: "no"}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENV\tROLE\tTRUSTS CURRENT (ca.pem)\tTRUSTS PREVIOUS (ca-prev.pem)\tLEAF ISSUED BY\tPROBLEM")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Env, r.Name, yes[r.TrustsCurrent], yes[r.TrustsPrevious], r.LeafIssuedBy, r.Problem)
	}
	return tw.Flush()
}

func newPKIVerifyCmd() *cobra.Command {
	var env string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a certificate's chain, expiry, revocation and identity for an environment",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := pki.Verify(cmd.Context(), pki.VerifyOptions{Dir: pkiDir(cmd), Env: env, File: args[0]})
			if err != nil {
				return &exitError{code: exitVerifyFailed, err: fmt.Errorf("verify failed: %w", err)}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %s serial %s issued by %q, expires %s\n",
				res.File, res.Identity, res.Serial, res.Issuer, res.NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&env, "env", "", "environment the certificate must belong to")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func newPKIRevokeCmd() *cobra.Command {
	var o ca.RevokeOptions
	var serial string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a certificate and what the CA renewed from it (--serial), or every live certificate of an identity (--name, --identity)",
		Long: `Puts certificates on the environment's CRL and re-signs it. logsys ca records
every certificate it issues in DIR/<env>/ledger.jsonl; revoke reads it:

  --serial S     S and every unexpired certificate the CA renewed from it
  --name N       every unexpired certificate the CA issued to spiffe://<td>/<env>/N,
                 the leaf file DIR/<env>/N/cert.pem if there is one, and their lineage
  --identity ID  the same for a full spiffe:// ID of the environment

Each revoked serial is printed. A running logsys ca and the roles pick the CRL
up on their next reload; the CA also refuses to renew any certificate renewed
from a revoked one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serial != "" {
				s, err := pki.ParseSerial(serial)
				if err != nil {
					return err
				}
				o.Serial = s
			}
			o.Dir = pkiDir(cmd)
			res, err := ca.Revoke(cmd.Context(), o)
			out := cmd.OutOrStdout()
			printReport(out, res.Report)
			if err != nil {
				return err
			}
			for _, rv := range res.Revoked {
				what := "revoked"
				if rv.Already {
					what = "already revoked"
				}
				id := rv.Identity
				if id == "" {
					id = "-"
				}
				fmt.Fprintf(out, "%s serial %s %s (%s: %s)\n", what, rv.Serial, id, rv.Source, rv.Why)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "environment")
	f.StringVar(&serial, "serial", "", "serial number in hex (as printed by inspect)")
	f.StringVar(&o.Name, "name", "", "revoke every live certificate of this workload name")
	f.StringVar(&o.Identity, "identity", "", "revoke every live certificate of this spiffe:// ID")
	_ = cmd.MarkFlagRequired("env")
	cmd.MarkFlagsMutuallyExclusive("serial", "name", "identity")
	cmd.MarkFlagsOneRequired("serial", "name", "identity")
	return cmd
}

func newPKIRotateCmd() *cobra.Command {
	var o pki.RotateOptions
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Re-issue leaves with new keys; --intermediate moves the environment to a new intermediate",
		Long: `Re-issues the leaf files of an environment (or one, --name) with new keys.

--intermediate creates the next intermediate first: ca.pem, with the old one
kept as ca-prev.pem and bundle.pem holding both. Without an online CA every
leaf file is re-issued by it at once. When logsys ca serves the environment
(it has DIR/<env>/ledger.jsonl), only the next intermediate is prepared: the CA
publishes it, activates it once every member reports it holds it, and retires
the previous one once no leaf it signed is left ("logsys ca status" shows the
phase). The leaf files then keep their certificates until "logsys pki rotate
--env ENV" re-issues them, which is refused until the next intermediate signs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir = pkiDir(cmd)
			served, err := ca.Served(o.Dir, o.Env)
			if err != nil {
				return err
			}
			r, err := ca.Rotate(cmd.Context(), o)
			out := cmd.OutOrStdout()
			printReport(out, r)
			if err == nil && served && o.Intermediate {
				fmt.Fprintf(out, "next intermediate of %s prepared: logsys ca activates it once every member reports it (logsys ca status --env %s).\n"+
					"The leaf files keep their certificates: re-issue them with \"logsys pki rotate --env %s\" once it is active; the previous intermediate is retired after the last of them expires.\n",
					o.Env, o.Env, o.Env)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "environment")
	f.StringVar(&o.Name, "name", "", "only this leaf (default: every leaf of the environment)")
	f.BoolVar(&o.Intermediate, "intermediate", false, "create the next intermediate first (old one kept as ca-prev.pem, bundle.pem holds both)")
	f.StringVar(&o.RootKeyPath, "root-key", "", "root key location for --intermediate (default DIR/root/ca-key.pem)")
	_ = cmd.MarkFlagRequired("env")
	cmd.MarkFlagsMutuallyExclusive("name", "intermediate")
	return cmd
}
