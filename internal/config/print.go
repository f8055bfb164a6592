package config

import (
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes the effective value of every key the command reads (all
// keys when role is empty) and where it came from, one per line. Secrets
// are redacted: tokens and passwords entirely, DSNs' passwords.
func (l *Loaded) Print(w io.Writer, role string) error {
	names := sections
	if role != "" {
		var ok bool
		if names, ok = commandSections[role]; !ok {
			return fmt.Errorf("unknown role %q: want one of %s", role, strings.Join(Roles(), ", "))
		}
	}
	if l.path != "" {
		fmt.Fprintf(w, "# file: %s\n", l.path)
	} else {
		fmt.Fprintf(w, "# file: none (no --config, no ./%s)\n", DefaultFile)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, f := range tree {
		s, _, _ := strings.Cut(f.key, ".")
		if !slices.Contains(names, s) {
			continue
		}
		v := f.value(&l.File)
		shown := format(v)
		if v.Kind() == reflect.String {
			shown = redact(f.key, shown)
			if v.String() == "" {
				shown = `""`
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.key, shown, l.origins[f.key])
	}
	return tw.Flush()
}

// Roles are the commands `config print --role` knows.
func Roles() []string {
	return []string{"gateway", "producer", "consumer", "all", "ca", "pki", "health", "bench", "dlq"}
}

// format renders a leaf the way the configuration file and environment
// spell it: durations with units, lists comma-separated, "" for empty.
func format(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return shortDuration(time.Duration(v.Int()))
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = v.Index(i).String()
		}
		return strings.Join(parts, ",")
	case v.Kind() == reflect.String:
		return v.String()
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case v.Kind() == reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	}
	return strconv.FormatInt(v.Int(), 10)
}

// shortDuration drops zero units: 168h, not 168h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
