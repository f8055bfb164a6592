package main

import "github.com/spf13/cobra"

// newPKICmd is replaced by the pki command tree.
func newPKICmd() *cobra.Command { return &cobra.Command{Use: "pki", Short: "Manage the CA hierarchy"} }
