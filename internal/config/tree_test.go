package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestTree: every key is documented, every description describes
// something, variables are unique, and the flag table names real keys with
// one type per flag name.
func TestTree(t *testing.T) {
	if _, err := walk(reflect.TypeOf(File{}), "", nil); err != nil {
		t.Fatal(err)
	}
	if len(tree) < 100 {
		t.Fatalf("only %d keys: the walk is broken", len(tree))
	}
	envs := map[string]string{}
	used := map[string]bool{}
	for _, f := range tree {
		if prev, dup := envs[f.env]; dup {
			t.Errorf("%s and %s share the variable %s", prev, f.key, f.env)
		}
		envs[f.env] = f.key
		by := describedBy(f.key)
		if by == "" {
			t.Errorf("%s has no description in docs", f.key)
		}
		used[by] = true
		parts := strings.Split(f.key, ".")
		for i := 1; i < len(parts); i++ {
			used[describedBy(strings.Join(parts[:i], "."))] = true
		}
	}
	for k := range docs {
		if !used[k] {
			t.Errorf("docs[%q] describes no key or section", k)
		}
	}
	for _, s := range sections {
		if docs[s] == "" {
			t.Errorf("section %s has no description", s)
		}
		if _, ok := validators[s]; !ok {
			t.Errorf("section %s has no validator", s)
		}
	}
	types := map[string]reflect.Type{}
	for _, f := range flagTable {
		fl, ok := byKey[f.Key]
		if !ok {
			t.Errorf("--%s of %s sets %s, which is not a key", f.Name, f.Command, f.Key)
			continue
		}
		if prev, ok := types[f.Name]; ok && prev != fl.typ {
			t.Errorf("--%s is %s in one command and %s in another", f.Name, prev, fl.typ)
		}
		types[f.Name] = fl.typ
		if _, ok := commandSections[root(f.Command)]; !ok {
			t.Errorf("--%s belongs to %q, which has no sections", f.Name, f.Command)
		}
	}
	for _, cmd := range []string{"gateway", "producer", "consumer", "all", "ca", "pki", "pki init", "health", "bench", PrintCommand} {
		fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
		AddFlags(fs, cmd) // panics on a flag declared twice
	}
}

// TestGeneratedFiles: config.yaml and docs/configuration.md are what the
// tree generates (run `go generate ./internal/config` after changing it),
// and config.yaml loads back to exactly Default().
func TestGeneratedFiles(t *testing.T) {
	for path, want := range map[string][]byte{"config.yaml": YAML(), "docs/configuration.md": Reference()} {
		got, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the configuration tree generates: run go generate ./internal/config", path)
		}
	}
	l, err := Load(Options{File: filepath.Join("..", "..", "config.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	for _, f := range tree {
		if got, want := format(f.value(&l.File)), format(f.value(&def)); got != want {
			t.Errorf("config.yaml sets %s to %q, the default is %q", f.key, got, want)
		}
		if o := l.Origin(f.key); o.Source != SourceFile {
			t.Errorf("%s comes from %s, want config.yaml: the file lacks it", f.key, o)
		}
	}
	if err := l.Validate(); err != nil {
		t.Errorf("the defaults do not validate: %v", err)
	}
}
