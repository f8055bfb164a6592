package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"logsys/pki"
)

// newPKISnippetsCmd builds "logsys pki snippets": Java Kafka client or
// broker properties for one leaf's stores.
func newPKISnippetsCmd() *cobra.Command {
	var o pki.KafkaOptions
	var format, role string
	var includePassword, write bool
	cmd := &cobra.Command{
		Use:   "snippets",
		Short: "Print Java Kafka client or broker SSL properties for a leaf's keystore and truststore",
		Long: `Print Java Kafka properties that use DIR/ENV/NAME over mutual TLS.

Clients get a <store.pass> placeholder unless --include-password prints the
literal password. Brokers read the password through Kafka's FileConfigProvider
from store.properties. --write creates the files the properties name that
"pki init" does not: keystore.pem (PEM format) and store.properties (broker),
mode 0600.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Dir, o.Format, o.Role = pkiDir(cmd), pki.KafkaFormat(format), pki.KafkaRole(role)
			if includePassword {
				if o.Role == pki.KafkaBroker {
					return fmt.Errorf("--include-password is for clients; brokers read store.properties")
				}
				if o.Format == pki.KafkaPEM {
					return fmt.Errorf("--include-password: PEM stores have no password")
				}
				p, err := pki.ReadStorePassword(o.Dir, o.Env, o.Name)
				if err != nil {
					return err
				}
				o.Password = p
			}
			props, err := pki.KafkaProperties(o)
			if err != nil {
				return err
			}
			errOut := cmd.ErrOrStderr()
			if write {
				paths, err := pki.WriteKafkaFiles(o)
				if err != nil {
					return err
				}
				for _, p := range paths {
					fmt.Fprintf(errOut, "wrote %s\n", p)
				}
			}
			missing, err := pki.MissingKafkaFiles(o)
			if err != nil {
				return err
			}
			for _, p := range missing {
				fmt.Fprintf(errOut, "warning: %s does not exist yet (run with --write, or pki init)\n", p)
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), props)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "environment")
	f.StringVar(&o.Name, "name", "", "leaf name")
	f.StringVar(&format, "format", "p12", "store format: pem, jks or p12")
	f.StringVar(&role, "role", "client", "client or broker")
	f.StringVar(&o.Bootstrap, "bootstrap", "localhost:9093", "client: bootstrap.servers; broker: advertised host:port")
	f.BoolVar(&includePassword, "include-password", false, "client: print the literal store password (keep the output 0600)")
	f.BoolVar(&write, "write", false, "write keystore.pem (PEM) or store.properties (broker) atomically, mode 0600")
	_ = cmd.MarkFlagRequired("env")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}
