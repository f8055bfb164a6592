package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// layerValues returns three values of f's type that differ from its
// default and, where the type allows, from one another: for the file, the
// environment and a flag. Booleans alternate (not default, default, not
// default), so every layer still changes the outcome.
func layerValues(t *testing.T, f field, def reflect.Value) [3]reflect.Value {
	t.Helper()
	var out [3]reflect.Value
	for i := range out {
		v := reflect.New(f.typ).Elem()
		switch {
		case f.typ == durationType:
			v.SetInt(def.Int() + int64(i+1)*int64(time.Second))
		case f.typ.Kind() == reflect.String:
			v.SetString(fmt.Sprintf("%s-layer%d", def.String(), i+1))
		case f.typ.Kind() == reflect.Bool:
			v.SetBool(def.Bool() != (i != 1))
		case f.typ.Kind() == reflect.Float64:
			v.SetFloat(def.Float() + float64(i+1) + 0.5)
		case f.typ.Kind() == reflect.Slice:
			v.Set(reflect.ValueOf([]string{fmt.Sprintf("layer%d", i+1), "x"}[:1+i%2]))
		default:
			v.SetInt(def.Int() + int64(i+1))
		}
		out[i] = v
	}
	return out
}

// nested builds the YAML document that sets key to v.
func nested(key string, v any) map[string]any {
	parts := strings.Split(key, ".")
	m := map[string]any{parts[len(parts)-1]: v}
	for i := len(parts) - 2; i >= 0; i-- {
		m = map[string]any{parts[i]: m}
	}
	return m
}

// yamlScalar is how a person writes v in config.yaml.
func yamlScalar(v reflect.Value) any {
	switch {
	case v.Type() == durationType:
		return format(v)
	case v.Kind() == reflect.Slice:
		return v.Interface()
	}
	return v.Interface()
}

func writeYAML(t *testing.T, doc map[string]any) string {
	t.Helper()
	data, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, o Options) *Loaded {
	t.Helper()
	l, err := Load(o)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return l
}

// TestEveryKeyRoundTrips walks the tree: every key set in a file, by its
// LOGSYS_ variable and by each flag that names it changes what Load
// returns, and the later layer wins: file < environment < flag.
func TestEveryKeyRoundTrips(t *testing.T) {
	def := Default()
	flagged := 0
	for _, f := range tree {
		t.Run(f.key, func(t *testing.T) {
			vals := layerValues(t, f, f.value(&def))
			check := func(l *Loaded, want reflect.Value, src Source, layer string) {
				t.Helper()
				if got := f.value(&l.File); format(got) != format(want) {
					t.Errorf("%s: got %q, want %q", layer, format(got), format(want))
				}
				if o := l.Origin(f.key); o.Source != src {
					t.Errorf("%s: origin %s, want %s", layer, o, src)
				}
			}
			path := writeYAML(t, nested(f.key, yamlScalar(vals[0])))
			check(mustLoad(t, Options{File: path}), vals[0], SourceFile, "file")

			t.Setenv(f.env, format(vals[1]))
			check(mustLoad(t, Options{File: path}), vals[1], SourceEnv, "file+env")

			for _, fl := range FlagsOf(f.key) {
				fs := pflag.NewFlagSet(fl.Command, pflag.ContinueOnError)
				fs.SetOutput(&strings.Builder{}) // deprecation notices
				AddFlags(fs, fl.Command)
				if err := fs.Parse([]string{"--" + fl.Name + "=" + format(vals[2])}); err != nil {
					t.Fatalf("--%s: %v", fl.Name, err)
				}
				l := mustLoad(t, Options{File: path, Command: fl.Command, Flags: fs})
				check(l, vals[2], SourceFlag, "file+env+flag --"+fl.Name+" ("+fl.Command+")")
				flagged++
			}
		})
	}
	if flagged < 30 {
		t.Errorf("only %d flags exercised: the flag table is not walked", flagged)
	}
}

// TestFlagsOnlyBindTheirCommand: a flag of one command never sets another
// command's key, and a flag that is not given leaves the key alone.
func TestFlagsOnlyBindTheirCommand(t *testing.T) {
	fs := pflag.NewFlagSet("gateway", pflag.ContinueOnError)
	AddFlags(fs, "gateway")
	if err := fs.Parse([]string{"--addr", "127.0.0.1:1"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("LOGSYS_GATEWAY_TLS_ENV", "staging")
	l := mustLoad(t, Options{Command: "gateway", Flags: fs})
	if l.Gateway.Addr != "127.0.0.1:1" || l.Producer.Addr != Default().Producer.Addr {
		t.Errorf("gateway.addr %q producer.addr %q", l.Gateway.Addr, l.Producer.Addr)
	}
	if l.Gateway.Identity.Env != "staging" || l.Origin("gateway.tls.env").Source != SourceEnv {
		t.Errorf("the unset --env flag overrode LOGSYS_GATEWAY_TLS_ENV: %q from %s", l.Gateway.Identity.Env, l.Origin("gateway.tls.env"))
	}
}

// TestDeprecatedDirFlag: --dir still sets the PKI directory; given with
// --pki-dir it must agree.
func TestDeprecatedDirFlag(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		want    string
		wantErr string
	}{
		{[]string{"--dir", "old"}, "old", ""},
		{[]string{"--pki-dir", "new"}, "new", ""},
		{[]string{"--dir", "same", "--pki-dir", "same"}, "same", ""},
		{[]string{"--dir", "a", "--pki-dir", "b"}, "", "--pki-dir and --dir disagree"},
	} {
		fs := pflag.NewFlagSet("ca", pflag.ContinueOnError)
		var warn strings.Builder
		fs.SetOutput(&warn)
		AddFlags(fs, "ca")
		if err := fs.Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		l, err := Load(Options{Command: "ca", Flags: fs})
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.args, err)
		case l.CA.Dir != tt.want:
			t.Errorf("%q: ca.pki_dir %q, want %q", tt.args, l.CA.Dir, tt.want)
		}
		if strings.Contains(strings.Join(tt.args, " "), "--dir") && !strings.Contains(warn.String(), "deprecated") {
			t.Errorf("%q: no deprecation warning", tt.args)
		}
	}
}

// TestPresets: bench.quick and bench.gateway change the defaults of other
// bench keys, never values that were set.
func TestPresets(t *testing.T) {
	t.Setenv("LOGSYS_BENCH_QUICK", "true")
	t.Setenv("LOGSYS_BENCH_CONNS", "7")
	l := mustLoad(t, Options{})
	if l.Bench.Arm != 500*time.Millisecond || l.Bench.Conns != 7 || !l.Bench.Quick {
		t.Errorf("quick: arm %v conns %d", l.Bench.Arm, l.Bench.Conns)
	}
	t.Setenv("LOGSYS_BENCH_GATEWAY", "https://127.0.0.1:8080")
	if l := mustLoad(t, Options{}); l.Bench.Batch != 1 {
		t.Errorf("with gateway: batch %d, want 1", l.Bench.Batch)
	}
	t.Setenv("LOGSYS_BENCH_BATCH", "50")
	if l := mustLoad(t, Options{}); l.Bench.Batch != 50 {
		t.Errorf("with gateway and batch: batch %d, want 50", l.Bench.Batch)
	}
}
