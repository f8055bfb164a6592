package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"logsys/kafkaprops"
)

// newPKISnippetsCmd builds "logsys pki snippets": Java Kafka client or
// broker properties for one leaf's stores.
func newPKISnippetsCmd() *cobra.Command {
	var req kafkaprops.Request
	var format, role string
	cmd := &cobra.Command{
		Use:   "snippets",
		Short: "Print Java Kafka client or broker SSL properties for a leaf's keystore and truststore",
		Long: `Print Java Kafka properties that use DIR/ENV/NAME over mutual TLS.

Clients get a <store.pass> placeholder unless --include-password prints the
literal password. Brokers read the password through Kafka's FileConfigProvider
from store.properties. --write creates the files the properties name that
"pki init" does not: keystore.pem (PEM format) and store.properties (broker),
mode 0600. Trust anchors are the environment's intermediate(s) only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Dir, req.Format, req.Role = pkiDir(cmd), kafkaprops.Format(format), kafkaprops.Role(role)
			res, err := kafkaprops.Snippet(req)
			errOut := cmd.ErrOrStderr()
			for _, p := range res.Wrote {
				fmt.Fprintf(errOut, "wrote %s\n", p)
			}
			if err != nil {
				return err
			}
			for _, p := range res.Missing {
				fmt.Fprintf(errOut, "warning: %s does not exist yet (run with --write, or pki init)\n", p)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), res.Properties)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Env, "env", "", "environment")
	f.StringVar(&req.Name, "name", "", "leaf name")
	f.StringVar(&format, "format", "p12", "store format: pem, jks or p12")
	f.StringVar(&role, "role", "client", "client or broker")
	f.StringVar(&req.Bootstrap, "bootstrap", "localhost:9093", "client: bootstrap.servers; broker: advertised host:port")
	f.BoolVar(&req.IncludePassword, "include-password", false, "client: print the literal store password (keep the output 0600)")
	f.BoolVar(&req.Write, "write", false, "write keystore.pem (PEM) or store.properties (broker) atomically, mode 0600")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
