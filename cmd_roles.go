package main

import "github.com/spf13/cobra"

// roleCommands returns gateway, producer, consumer and all.
func roleCommands() []*cobra.Command { return nil }
