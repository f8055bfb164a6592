package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"logsys/bench"
)

// DefaultFile is read when Options.File is empty and it exists.
const DefaultFile = "config.yaml"

// Options say what Load reads besides the defaults and the environment.
type Options struct {
	// File is the configuration file (--config); empty reads DefaultFile
	// from the working directory when it exists.
	File string
	// Command names the command being run ("gateway", "pki init", ...):
	// its flags are bound and Loaded.Validate checks its sections. Empty
	// binds no flags and validates every section.
	Command string
	// Flags are the command's parsed flags, declared with AddFlags.
	Flags *pflag.FlagSet
}

// Loaded is the effective configuration of one command, with where each
// value came from.
type Loaded struct {
	File
	command string
	path    string
	origins map[string]Origin
}

// Load applies defaults < file < environment < flags and decodes the whole
// tree at once. Unknown keys in the file, LOGSYS_<SECTION>_... variables
// that name no key, wrong types and durations without a unit are errors
// naming the key and where it was set; nothing is validated beyond that
// until Validate.
func Load(o Options) (*Loaded, error) {
	binds, err := commandFlags(o.Command)
	if err != nil {
		return nil, err
	}
	v := viper.New()
	v.AllowEmptyEnv(true)
	def := Default()
	for _, f := range tree {
		v.SetDefault(f.key, f.value(&def).Interface())
		if err := v.BindEnv(f.key, f.env); err != nil {
			return nil, fmt.Errorf("config: bind %s: %w", f.env, err)
		}
	}
	l := &Loaded{command: o.Command, path: o.File, origins: map[string]Origin{}}
	if l.path == "" {
		if _, err := os.Stat(DefaultFile); err == nil {
			l.path = DefaultFile
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("read config %s: %w", DefaultFile, err)
		}
	}
	var errs Errors
	if l.path != "" {
		// Read once: the file may be a pipe (/dev/stdin).
		b, err := os.ReadFile(l.path)
		if err != nil {
			return nil, fmt.Errorf("read config %s: %w", l.path, err)
		}
		v.SetConfigType(fileType(l.path))
		if err := v.ReadConfig(bytes.NewReader(b)); err != nil {
			return nil, fmt.Errorf("read config %s: %w", l.path, err)
		}
		keyErrs, err := unknownKeys(l.path, b)
		if err != nil {
			return nil, err
		}
		errs = append(errs, keyErrs...)
	}
	errs = append(errs, unknownEnv(os.Environ())...)
	flagged, ferrs := bindFlags(v, o.Flags, binds)
	errs = append(errs, ferrs...)
	for _, f := range tree {
		l.origins[f.key] = l.origin(v, f, flagged)
	}
	l.File = def
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result: &l.File, DecodeHook: strictHook, ZeroFields: true, TagName: "mapstructure",
		ErrorUnused: len(errs) == 0, // unknown keys are reported above, with their file
	})
	if err != nil {
		return nil, fmt.Errorf("config: decoder: %w", err)
	}
	if err := dec.Decode(v.AllSettings()); err != nil {
		for _, e := range l.decodeErrors(err) {
			if !slices.ContainsFunc(errs, func(r *Error) bool { return r.Key == e.Key }) {
				errs = append(errs, e) // not one already reported above
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	applyPresets(&l.File, l.Origin)
	return l, nil
}

// Path is the configuration file that was read, or "" when none was.
func (l *Loaded) Path() string { return l.path }

// Origin says where the value of key came from.
func (l *Loaded) Origin(key string) Origin { return l.origins[key] }

func (l *Loaded) origin(v *viper.Viper, f field, flagged map[string]string) Origin {
	if name, ok := flagged[f.key]; ok {
		return Origin{Source: SourceFlag, Name: "--" + name}
	}
	if _, ok := os.LookupEnv(f.env); ok {
		return Origin{Source: SourceEnv, Name: f.env}
	}
	if l.path != "" && v.InConfig(f.key) {
		return Origin{Source: SourceFile, Name: l.path}
	}
	return Origin{Source: SourceDefault}
}

// unknownEnv reports LOGSYS_<SECTION>_... variables that name no key.
// Other LOGSYS_ variables (LOGSYS_BIND, LOGSYS_TEST_..., ...) belong to
// scripts and are left alone.
func unknownEnv(environ []string) Errors {
	var errs Errors
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		rest, ok := strings.CutPrefix(name, EnvPrefix)
		if !ok {
			continue
		}
		if _, ok := byEnv[name]; ok {
			continue
		}
		section, _, _ := strings.Cut(rest, "_")
		if !slices.Contains(sections, strings.ToLower(section)) {
			continue
		}
		envs := make([]string, 0, len(tree))
		for _, f := range tree {
			envs = append(envs, f.env)
		}
		errs = append(errs, &Error{Key: name, Msg: "environment variable names no key of the " +
			strings.ToLower(section) + " section" + suggest(name, envs)})
	}
	slices.SortFunc(errs, func(a, b *Error) int { return strings.Compare(a.Key, b.Key) })
	return errs
}

// decodeErrors turns the decoder's errors into Errors naming key and origin.
func (l *Loaded) decodeErrors(err error) Errors {
	var errs Errors
	for _, e := range splitDecode(err) {
		var de *mapstructure.DecodeError
		if !errors.As(e, &de) {
			errs = append(errs, &Error{Msg: e.Error(), Err: e})
			continue
		}
		key := de.Name()
		if i := strings.IndexByte(key, '['); i >= 0 {
			key = key[:i]
		}
		msg := de.Unwrap().Error()
		if secret(key) {
			msg = "has a value of the wrong type (not shown: it is a secret)"
		}
		errs = append(errs, &Error{Key: key, Origin: l.origins[key], Msg: msg, Err: de.Unwrap()})
	}
	return errs
}

// splitDecode returns the decoder's DecodeErrors: it wraps their join in
// one summary error.
func splitDecode(err error) []error {
	switch e := err.(type) {
	case *mapstructure.DecodeError:
		return []error{e}
	case interface{ Unwrap() []error }:
		var out []error
		for _, x := range e.Unwrap() {
			out = append(out, splitDecode(x)...)
		}
		return out
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return splitDecode(inner)
		}
	}
	return []error{err}
}

// applyPresets fills defaults that depend on other settings; keys set by
// file, environment or flag keep their value. bench.quick swaps in the
// defaults of bench.QuickConfig; with bench.gateway set, bench.batch
// defaults to 1 (single events).
func applyPresets(f *File, origin func(string) Origin) {
	if f.Bench.Quick {
		q := Default()
		q.Bench = bench.QuickConfig()
		for _, fl := range tree {
			if strings.HasPrefix(fl.key, "bench.") && origin(fl.key).Source == SourceDefault {
				fl.value(f).Set(fl.value(&q))
			}
		}
	}
	if f.Bench.Gateway != "" && origin("bench.batch").Source == SourceDefault {
		f.Bench.Batch = 1
	}
}
