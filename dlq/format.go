package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"
)

// Show returns the dead letter at p.
func Show(ctx context.Context, c Config, p Position) (Letter, error) {
	ls, err := List(ctx, c, Filter{Positions: []Position{p}})
	if err != nil {
		return Letter{}, err
	}
	if len(ls) == 0 {
		return Letter{}, fmt.Errorf("dlq: no dead letter at %s of %s", p, c.DLQTopic)
	}
	return ls[0], nil
}

// WriteTable prints one line per letter: position, time, reason,
// identity, id and the start of the error.
func WriteTable(w io.Writer, ls []Letter) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tTIME\tREASON\tIDENTITY\tID\tERROR")
	for _, l := range ls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", l.Position, l.Time.Format(time.RFC3339), l.Reason,
			orDash(l.Identity), orDash(short(l.ID, 40)), short(l.Error, 72))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d dead letters\n", len(ls))
	return err
}

// WriteJSON prints v as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// WriteLetter prints the whole of one letter: where and why, every
// header, the key and the value (indented when it is JSON).
func WriteLetter(w io.Writer, l Letter) error {
	var b strings.Builder
	fmt.Fprintf(&b, "position  %s\ntime      %s\nreason    %s\nerror     %s\n", l.Position, l.Time.Format(time.RFC3339Nano), l.Reason, l.Error)
	for _, kv := range [][2]string{{"origin", l.Origin}, {"in pack", l.PackIndex}, {"replay of", l.ReplayOf}, {"identity", l.Identity}, {"id", l.ID}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, "%-9s %s\n", kv[0], kv[1])
		}
	}
	b.WriteString("headers\n")
	for _, h := range l.Headers {
		fmt.Fprintf(&b, "  %s: %q\n", h.Key, h.Value)
	}
	fmt.Fprintf(&b, "key       %q\nvalue\n", l.Key)
	var pretty bytes.Buffer
	if json.Indent(&pretty, l.Value, "  ", "  ") == nil {
		b.WriteString("  " + pretty.String() + "\n")
	} else {
		fmt.Fprintf(&b, "  %q\n", l.Value)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteReplay prints what a replay did (or would do, with dryRun).
func WriteReplay(w io.Writer, r ReplayResult, topic string, dryRun bool) error {
	verb := "replayed"
	if dryRun {
		verb = "would replay"
	}
	var b strings.Builder
	for _, x := range r.Replayed {
		fmt.Fprintf(&b, "%s %s (%s, id %s from %s)", verb, x.Letter.Position, x.Letter.Reason, orDash(x.Letter.ID), orDash(x.Letter.Identity))
		if !dryRun {
			fmt.Fprintf(&b, " -> %s/%s", topic, x.To)
		}
		b.WriteString("\n")
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s (%s): %s\n", s.Letter.Position, s.Letter.Reason, s.Why)
	}
	fmt.Fprintf(&b, "%d %s, %d skipped\n", len(r.Replayed), verb, len(r.Skipped))
	_, err := io.WriteString(w, b.String())
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// short cuts s to n runes on one line.
func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
