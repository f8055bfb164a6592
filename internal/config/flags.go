package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Flag is a command-line flag that sets one key.
type Flag struct {
	Command string // "gateway", "pki" (persistent: every pki subcommand), "pki init", ...
	Name    string // without dashes
	Key     string
	// Deprecated, when set, is the flag to use instead; the old one still
	// works and warns.
	Deprecated string
}

// PrintCommand is `logsys config print`: it takes the flags of the command
// named by --role.
const PrintCommand = "config print"

// flagTable is every flag that sets a key. Commands not listed take their
// settings from file and environment only.
var flagTable = func() []Flag {
	var t []Flag
	for _, role := range []string{"gateway", "producer", "consumer"} {
		t = append(t,
			Flag{Command: role, Name: "addr", Key: role + ".addr"},
			Flag{Command: role, Name: "pki-dir", Key: role + ".tls.pki_dir"},
			Flag{Command: role, Name: "env", Key: role + ".tls.env"})
	}
	t = append(t,
		Flag{Command: "all", Name: "data-dir", Key: "all.data_dir"},
		Flag{Command: "ca", Name: "pki-dir", Key: "ca.pki_dir"},
		Flag{Command: "ca", Name: "dir", Key: "ca.pki_dir", Deprecated: "pki-dir"},
		Flag{Command: "ca", Name: "env", Key: "ca.env"},
		Flag{Command: "ca", Name: "addr", Key: "ca.addr"},
		Flag{Command: "ca", Name: "leaf-ttl", Key: "ca.leaf_ttl"},
		Flag{Command: "ca", Name: "publish-delay", Key: "ca.publish_delay"},
		Flag{Command: "ca", Name: "rollover-max-wait", Key: "ca.rollover_max_wait"},
		Flag{Command: "ca", Name: "hosts", Key: "ca.hosts"},
		Flag{Command: "ca", Name: "poll", Key: "ca.poll_interval"},
		Flag{Command: "ca", Name: "metrics-addr", Key: "ca.metrics_addr"},
		Flag{Command: "ca", Name: "log-level", Key: "log.level"},
		Flag{Command: "pki", Name: "pki-dir", Key: "pki.dir"},
		Flag{Command: "pki", Name: "dir", Key: "pki.dir", Deprecated: "pki-dir"},
		Flag{Command: "pki init", Name: "hosts", Key: "pki.hosts"},
		Flag{Command: "health", Name: "pki-dir", Key: "health.pki_dir"},
		Flag{Command: "health", Name: "env", Key: "health.env"},
		Flag{Command: "health", Name: "name", Key: "health.name"},
		Flag{Command: "health", Name: "timeout", Key: "health.timeout"},
		Flag{Command: "dlq", Name: "pki-dir", Key: "dlq.pki_dir"},
		Flag{Command: "dlq", Name: "env", Key: "dlq.env"},
		Flag{Command: "dlq", Name: "brokers", Key: "dlq.brokers"},
	)
	for _, b := range []struct{ name, key string }{
		{"quick", "quick"}, {"duration", "duration"}, {"arm", "arm"}, {"conns", "conns"}, {"rate", "rate"},
		{"requests", "requests"}, {"batch", "batch"}, {"handshakes", "handshakes"}, {"storm", "storm"},
		{"key-types", "key_types"}, {"data-dir", "data_dir"}, {"gateway", "gateway"}, {"cert", "cert_file"},
		{"key", "key_file"}, {"ca", "ca_file"}, {"http2", "http2"}, {"brokers", "brokers"}, {"pki-dir", "pki_dir"},
	} {
		t = append(t, Flag{Command: "bench", Name: b.name, Key: "bench." + b.key})
	}
	return t
}()

// Flags returns the flags of command, including those it inherits (the
// "pki" flags for "pki init").
func Flags(command string) []Flag {
	var out []Flag
	for _, f := range flagTable {
		if f.Command == command || strings.HasPrefix(command, f.Command+" ") {
			out = append(out, f)
		}
	}
	return out
}

// FlagsOf returns every flag that sets key, in any command.
func FlagsOf(key string) []Flag {
	var out []Flag
	for _, f := range flagTable {
		if f.Key == key {
			out = append(out, f)
		}
	}
	return out
}

// commandSections are the sections each command reads (and Validate
// checks); "config print --role R" shows R's.
var commandSections = map[string][]string{
	"gateway":  {"log", "gateway"},
	"producer": {"log", "producer"},
	"consumer": {"log", "consumer"},
	"all":      {"log", "gateway", "producer", "consumer", "all"},
	"ca":       {"log", "ca"},
	"pki":      {"pki"},
	"health":   {"health"},
	"bench":    {"bench"},
	"dlq":      {"dlq"},
}

// SectionsOf returns the sections a command reads ("pki init" reads pki's),
// and false for a command that reads no configuration.
func SectionsOf(command string) ([]string, bool) {
	s, ok := commandSections[root(command)]
	return slices.Clone(s), ok
}

// root is the first word of a command ("pki" of "pki init").
func root(command string) string {
	r, _, _ := strings.Cut(command, " ")
	return r
}

// commandFlags returns the flags Load binds for a command.
func commandFlags(command string) ([]Flag, error) {
	if command == "" || command == PrintCommand {
		return nil, nil
	}
	if _, ok := commandSections[root(command)]; !ok {
		return nil, fmt.Errorf("config: unknown command %q", command)
	}
	return Flags(command), nil
}

// AddFlags declares command's flags on fs, typed after their keys, with
// the defaults of the tree and the keys' descriptions. Only flags that are
// given change anything: the others leave the key to file and environment.
// For PrintCommand it declares the flags of every command, untyped
// defaults, so that `config print --role R` takes R's flags.
func AddFlags(fs *pflag.FlagSet, command string) {
	def := Default()
	flags := Flags(command)
	if command == PrintCommand {
		flags = nil
		for _, f := range flagTable {
			if f.Deprecated == "" && !slices.ContainsFunc(flags, func(g Flag) bool { return g.Name == f.Name }) {
				flags = append(flags, f)
			}
		}
	}
	for _, f := range flags {
		if fs.Lookup(f.Name) != nil {
			continue
		}
		fl := byKey[f.Key]
		usage := Describe(f.Key)
		v := fl.value(&def)
		if command == PrintCommand {
			usage = "with --role: as for that command (sets " + strings.Replace(f.Key, root(f.Command), "<role>", 1) + ")"
			v = reflect.Zero(fl.typ)
		}
		switch {
		case fl.typ == durationType:
			fs.Duration(f.Name, time.Duration(v.Int()), usage)
		case fl.typ.Kind() == reflect.String:
			fs.String(f.Name, v.String(), usage)
		case fl.typ.Kind() == reflect.Bool:
			fs.Bool(f.Name, v.Bool(), usage)
		case fl.typ.Kind() == reflect.Int:
			fs.Int(f.Name, int(v.Int()), usage)
		case fl.typ.Kind() == reflect.Int32:
			fs.Int32(f.Name, int32(v.Int()), usage)
		case fl.typ.Kind() == reflect.Int64:
			fs.Int64(f.Name, v.Int(), usage)
		case fl.typ.Kind() == reflect.Float64:
			fs.Float64(f.Name, v.Float(), usage)
		case fl.typ.Kind() == reflect.Slice:
			fs.StringSlice(f.Name, v.Interface().([]string), usage)
		}
		if f.Deprecated != "" {
			_ = fs.MarkDeprecated(f.Name, "use --"+f.Deprecated+" instead")
		}
	}
}

// bindFlags binds each given flag to its key and returns which flag set
// which key. Two given flags for one key (--dir and --pki-dir) must agree.
func bindFlags(v *viper.Viper, fs *pflag.FlagSet, binds []Flag) (map[string]string, Errors) {
	set := map[string]string{}
	if fs == nil {
		return set, nil
	}
	var errs Errors
	for _, b := range binds {
		pf := fs.Lookup(b.Name)
		if pf == nil || !pf.Changed {
			continue
		}
		if prev, ok := set[b.Key]; ok {
			if fs.Lookup(prev).Value.String() != pf.Value.String() {
				errs = append(errs, &Error{Key: b.Key, Origin: Origin{Source: SourceFlag, Name: "--" + b.Name},
					Msg: fmt.Sprintf("--%s and --%s disagree", prev, b.Name)})
			}
			continue
		}
		if err := v.BindPFlag(b.Key, pf); err != nil {
			errs = append(errs, &Error{Key: b.Key, Msg: err.Error(), Err: err})
			continue
		}
		set[b.Key] = b.Name
	}
	return set, errs
}
