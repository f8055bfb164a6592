package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"logsys/internal/cfgerr"
)

// validators check one section each; their errors name full key paths.
var validators = map[string]func(File) error{
	"log":      func(f File) error { return cfgerr.Under("log", f.Log.Validate()) },
	"gateway":  func(f File) error { return cfgerr.Under("gateway", f.Gateway.Validate()) },
	"producer": func(f File) error { return cfgerr.Under("producer", f.Producer.Validate()) },
	"consumer": func(f File) error { return cfgerr.Under("consumer", f.Consumer.Validate()) },
	"all": func(f File) error {
		a := f.AllConfig()
		return errors.Join(cfgerr.Under("all", a.Validate()), a.Conflicts())
	},
	"ca": func(f File) error {
		c := f.CA // Validate fills defaults in its receiver
		return cfgerr.Under("ca", c.Validate())
	},
	"pki":    func(f File) error { return cfgerr.Under("pki", f.PKI.Validate()) },
	"health": func(f File) error { return cfgerr.Under("health", f.Health.Validate()) },
	"bench":  func(f File) error { return benchKeys(cfgerr.Under("bench", f.Bench.Validate())) },
	"dlq":    func(f File) error { return cfgerr.Under("dlq", f.DLQ.Validate()) },
}

// Validate checks every section of the tree, as `logsys config check`
// does. Each error starts with the full key path it is about.
func (f File) Validate() error { return f.validate(sections) }

func (f File) validate(names []string) error {
	var errs []error
	for _, s := range names {
		if v, ok := validators[s]; ok {
			errs = append(errs, v(f))
		}
	}
	return errors.Join(errs...)
}

// Validate checks the sections the command reads (every section when it
// was loaded without a command) and names, for each refused value, the
// key and where it was set.
func (l *Loaded) Validate() error {
	names := sections
	if l.command != "" {
		names = commandSections[root(l.command)]
	}
	var errs Errors
	for _, e := range cfgerr.Split(l.File.validate(names)) {
		key, rest, ok := cfgerr.Key(e)
		if !ok {
			errs = append(errs, &Error{Msg: e.Error(), Err: e})
			continue
		}
		errs = append(errs, &Error{Key: key, Origin: l.origins[key], Msg: rest, Err: e})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// benchKeys names the key of bench errors, which name the flag
// ("bench: --arm must be positive" becomes "bench.arm: --arm must be
// positive").
func benchKeys(err error) error {
	var out []error
	for _, e := range cfgerr.Split(err) {
		_, rest, _ := cfgerr.Key(e)
		name, _, _ := strings.Cut(strings.TrimPrefix(rest, "--"), " ")
		name = strings.TrimRight(name, ":")
		i := slices.IndexFunc(flagTable, func(f Flag) bool { return f.Command == "bench" && f.Name == name })
		if !strings.HasPrefix(rest, "--") || i < 0 {
			out = append(out, e)
			continue
		}
		out = append(out, fmt.Errorf("%s: %s", flagTable[i].Key, rest))
	}
	return errors.Join(out...)
}
