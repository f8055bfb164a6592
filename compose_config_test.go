package main

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"logsys/internal/config"
)

// TestComposeEnvironmentLoads: every logsys service of compose.yaml runs
// its command with exactly its environment through config.Load: every
// LOGSYS_ variable is a key of the tree and arrives (its origin is the
// environment), and every value is valid for the command, with /pki mapped
// to a PKI made by compose's own pki command (so that the DSNs' certificate
// files exist).
func TestComposeEnvironmentLoads(t *testing.T) {
	c := loadCompose(t)
	dir := filepath.Join(t.TempDir(), "pki")
	args := slices.Clone(c.Services["pki"].Command)
	args[slices.Index(args, "--pki-dir")+1] = dir
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(io.Discard)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("logsys %s: %v", strings.Join(args, " "), err)
	}
	checked := 0
	for name, s := range c.Services {
		if s.Image != logsysImage || len(s.Command) == 0 || name == "pki" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			command := s.Command[0]
			if _, ok := config.SectionsOf(command); !ok {
				t.Fatalf("runs %q, which reads no configuration section", command)
			}
			var vars []string
			for k, v := range s.Environment {
				if !strings.HasPrefix(k, config.EnvPrefix) {
					continue
				}
				t.Setenv(k, strings.ReplaceAll(v, "/pki", dir))
				vars = append(vars, k)
			}
			if len(vars) == 0 {
				t.Fatal("sets no LOGSYS_ variable")
			}
			l, err := config.Load(config.Options{Command: command})
			if err != nil {
				t.Fatalf("compose's environment: %v", err)
			}
			if err := l.Validate(); err != nil {
				t.Fatalf("compose's environment: %v", err)
			}
			for _, k := range vars {
				key := ""
				for _, kk := range config.Keys() {
					if config.EnvName(kk) == k {
						key = kk
					}
				}
				if o := l.Origin(key); o.Source != config.SourceEnv || o.Name != k {
					t.Errorf("%s: %s comes from %s", k, key, o)
				}
				checked++
			}
		})
	}
	if checked < 15 {
		t.Errorf("checked only %d variables", checked)
	}
}

// TestConfigCommands: config check and config print through the command
// tree.
func TestConfigCommands(t *testing.T) {
	exec := func(args ...string) (string, error) {
		root := newRootCmd()
		var out strings.Builder
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.ExecuteContext(context.Background())
		return out.String(), err
	}
	if out, err := exec("config", "check", "config.yaml"); err != nil || out != "config.yaml: ok\n" {
		t.Errorf("check config.yaml: %q %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeText(t, bad, "gateway:\n  producer:\n    url: https://producer:8081/internal/v1/other\n")
	if _, err := exec("config", "check", bad); err == nil || !strings.Contains(err.Error(), "gateway.producer.url") {
		t.Errorf("check with a bad producer path: %v", err)
	}
	// A file for separate gateway and producer processes sets what logsys
	// all owns: refused without --role, accepted for each role it is for.
	split := filepath.Join(t.TempDir(), "split.yaml")
	writeText(t, split, "gateway:\n  producer:\n    url: https://producer:8081\nproducer:\n  kafka:\n    brokers: [kafka:9093]\n")
	if _, err := exec("config", "check", split); err == nil || !strings.Contains(err.Error(), "is set by logsys all") {
		t.Errorf("check of a split-roles file without --role: %v, want the all conflict", err)
	}
	for _, role := range []string{"gateway", "producer"} {
		if out, err := exec("config", "check", "--role", role, split); err != nil || !strings.HasSuffix(out, ": ok\n") {
			t.Errorf("check --role %s: %q %v", role, out, err)
		}
	}
	if _, err := exec("config", "check", "--role", "gatway", split); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("check --role gatway: %v", err)
	}
	t.Setenv("LOGSYS_GATEWAY_TLS_CA_TOKEN", "lst.dev.secret-token-value")
	out, err := exec("config", "print", "--role", "gateway", "--addr", "127.0.0.1:9443")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"gateway.addr", "127.0.0.1:9443", "flag --addr", "env LOGSYS_GATEWAY_TLS_CA_TOKEN", "file config.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("print lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "secret-token-value") {
		t.Errorf("print shows the token:\n%s", out)
	}
	if _, err := exec("config", "print", "--role", "gateway", "--leaf-ttl", "1h"); err == nil || !strings.Contains(err.Error(), "--leaf-ttl: not a flag of logsys gateway") {
		t.Errorf("a ca flag with --role gateway: %v", err)
	}
	if _, err := exec("config", "print", "--role", "nope"); err == nil {
		t.Error("unknown role accepted")
	}
}
