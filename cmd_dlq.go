package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"logsys/dlq"
	"logsys/internal/config"
)

// newDLQCmd is `logsys dlq`: the dead letters, for the operator.
func newDLQCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show and replay dead-lettered records (with the operator certificate)",
		Long: `The consumer moves every record it can never store to the dead-letter topic
(log-events.dlq) with the reason: id_conflict (the sender's id is stored with other
content), invalid, not_json, or malformed_pack (a record marked as a pack that is not one).
dlq reads that topic without a consumer group, presenting the operator certificate of
logsys pki init, and replays selected records to log-events once the cause is fixed: byte for byte, so with the id and sender identity they carry.`,
	}
	cmd.AddCommand(newDLQListCmd(), newDLQShowCmd(), newDLQReplayCmd())
	return cmd
}

// dlqFilterFlags adds --reason and --since.
func dlqFilterFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("reason", "", "only this reason: "+strings.Join(dlq.Reasons, ", "))
	f.String("since", "", "only dead letters from this long ago (1h) or this time (RFC 3339) on")
}

// dlqFilter reads --reason and --since; now anchors a relative --since.
func dlqFilter(cmd *cobra.Command, now time.Time) (dlq.Filter, error) {
	var fl dlq.Filter
	fl.Reason, _ = cmd.Flags().GetString("reason")
	if fl.Reason != "" && !slices.Contains(dlq.Reasons, fl.Reason) {
		return fl, fmt.Errorf("--reason %q: want one of %s", fl.Reason, strings.Join(dlq.Reasons, ", "))
	}
	if s, _ := cmd.Flags().GetString("since"); s != "" {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			fl.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, s); err == nil {
			fl.Since = t
		} else {
			return fl, fmt.Errorf("--since %q: want a duration (1h) or an RFC 3339 time", s)
		}
	}
	return fl, nil
}

func dlqConfig(cmd *cobra.Command) (dlq.Config, error) {
	l, err := load(cmd, cmd.CommandPath()[len("logsys "):])
	if err != nil {
		return dlq.Config{}, err
	}
	return l.DLQ, nil
}

func newDLQListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "One line per dead letter: position, time, reason, identity, id, error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := dlqConfig(cmd)
			if err != nil {
				return err
			}
			fl, err := dlqFilter(cmd, time.Now())
			if err != nil {
				return err
			}
			ls, err := dlq.List(cmd.Context(), c, fl)
			if err != nil {
				return err
			}
			if n, _ := cmd.Flags().GetInt("limit"); n > 0 && len(ls) > n {
				ls = ls[len(ls)-n:]
			}
			if j, _ := cmd.Flags().GetBool("json"); j {
				return dlq.WriteJSON(cmd.OutOrStdout(), ls)
			}
			return dlq.WriteTable(cmd.OutOrStdout(), ls)
		},
	}
	dlqFilterFlags(cmd)
	cmd.Flags().Int("limit", 0, "only the most recent N (0: all)")
	cmd.Flags().Bool("json", false, "print JSON (with values and headers)")
	config.AddFlags(cmd.Flags(), "dlq list")
	return cmd
}

func newDLQShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show POSITION",
		Short: "The whole dead letter at PARTITION/OFFSET (or OFFSET of partition 0): headers, key, value",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := dlq.ParsePosition(args[0])
			if err != nil {
				return err
			}
			c, err := dlqConfig(cmd)
			if err != nil {
				return err
			}
			l, err := dlq.Show(cmd.Context(), c, p)
			if err != nil {
				return err
			}
			if j, _ := cmd.Flags().GetBool("json"); j {
				return dlq.WriteJSON(cmd.OutOrStdout(), l)
			}
			return dlq.WriteLetter(cmd.OutOrStdout(), l)
		},
	}
	cmd.Flags().Bool("json", false, "print JSON")
	config.AddFlags(cmd.Flags(), "dlq show")
	return cmd
}

func newDLQReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay [POSITION...]",
		Short: "Write the selected dead letters back to log-events, unchanged (after the cause was fixed)",
		Long: `replay writes each selected dead letter to log-events with its key and value unchanged
(the same id and sender identity) and a logsys-replay-of header naming it. Select by
position, --reason and --since, or --all. Letters the consumer would refuse again (not JSON,
invalid) are skipped. Replaying twice stores nothing twice: the store keeps one event per
(identity, id), and an identical copy is a redelivery.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl, err := dlqFilter(cmd, time.Now())
			if err != nil {
				return err
			}
			for _, a := range args {
				p, err := dlq.ParsePosition(a)
				if err != nil {
					return err
				}
				fl.Positions = append(fl.Positions, p)
			}
			c, err := dlqConfig(cmd)
			if err != nil {
				return err
			}
			all, _ := cmd.Flags().GetBool("all")
			dry, _ := cmd.Flags().GetBool("dry-run")
			res, err := dlq.Replay(cmd.Context(), c, fl, all, dry)
			if j, _ := cmd.Flags().GetBool("json"); j && err == nil {
				return dlq.WriteJSON(cmd.OutOrStdout(), res)
			}
			if werr := dlq.WriteReplay(cmd.OutOrStdout(), res, c.Topic, dry); err == nil {
				err = werr
			}
			return err
		},
	}
	dlqFilterFlags(cmd)
	cmd.Flags().Bool("all", false, "with no position, --reason or --since: replay every dead letter")
	cmd.Flags().Bool("dry-run", false, "show what would be replayed; write nothing")
	cmd.Flags().Bool("json", false, "print JSON")
	config.AddFlags(cmd.Flags(), "dlq replay")
	return cmd
}
