package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"logsys/pki"
	"logsys/tlsx"
)

// TestComposePKIFiles runs the pki service's own command line into a
// temporary directory and checks that every file under /pki that compose
// names exists there (or, where the script tests for it first, is one of
// the files `pki rotate` adds), and that each role finds its certificate,
// key, CA and CRL where its environment points it.
func TestComposePKIFiles(t *testing.T) {
	c := loadCompose(t)
	dir := filepath.Join(t.TempDir(), "pki")
	pkiSvc := c.Services["pki"]
	if !slices.Contains(pkiSvc.Volumes, "pki:/pki") {
		t.Fatalf("pki service volumes %q do not mount pki:/pki read-write", pkiSvc.Volumes)
	}
	args := slices.Clone(pkiSvc.Command)
	i := slices.Index(args, "--pki-dir")
	if i < 0 || args[i+1] != "/pki" {
		t.Fatalf("pki service command %q does not write --pki-dir /pki", args)
	}
	args[i+1] = dir
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(io.Discard)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("logsys %s: %v", strings.Join(args, " "), err)
	}
	l := pki.Layout{Dir: dir}
	optionalOK := func(env, p string) bool {
		for _, known := range []string{l.PrevCACert(env), l.PrevCRLFile(env), l.BundleFile(env)} {
			if p == known {
				return true
			}
		}
		return false
	}

	refs := 0
	for name, s := range c.Services {
		mountsPKI := slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasPrefix(v, "pki:/pki") })
		var texts []string
		texts = append(texts, s.Command...)
		for _, v := range s.Environment {
			texts = append(texts, v)
		}
		for _, text := range texts {
			paths, optional := pkiPaths(text, s.Environment)
			for _, p := range paths {
				refs++
				if !mountsPKI {
					t.Errorf("%s: names %s but does not mount the pki volume", name, p)
				}
				local := filepath.Join(dir, strings.TrimPrefix(p, "/pki/"))
				_, err := os.Stat(local)
				switch {
				case err == nil:
				case optional[p] && optionalOK(strings.Split(strings.TrimPrefix(p, "/pki/"), "/")[0], local):
				default:
					t.Errorf("%s: names %s, which `logsys %s` does not create", name, p, strings.Join(pkiSvc.Command, " "))
				}
			}
		}
	}
	if refs < 10 {
		t.Errorf("found only %d /pki references in compose.yaml; the scanner is broken", refs)
	}

	for _, r := range roleServices {
		env := c.Services[r.name].Environment
		up := "LOGSYS_" + strings.ToUpper(r.name) + "_TLS_"
		if env[up+"PKI_DIR"] != "/pki" || env[up+"ENV"] == "" {
			t.Errorf("%s: %sPKI_DIR=%q %sENV=%q, want /pki and an environment", r.name, up, env[up+"PKI_DIR"], up, env[up+"ENV"])
			continue
		}
		src := tlsx.LayoutSource(dir, env[up+"ENV"], r.name)
		for _, f := range []string{src.CertFile, src.KeyFile, src.CAFile, src.CRLFile} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("%s: its TLS identity needs %s: %v", r.name, f, err)
			}
		}
	}
}

var (
	pkiPath   = regexp.MustCompile(`/pki/[A-Za-z0-9_.\-/]+`)
	shellVar  = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	assign    = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=([^\s;$()]*(?:\$\{?[A-Za-z_][A-Za-z0-9_]*\}?[^\s;$()]*)*)$`)
	forLoop   = regexp.MustCompile(`^for ([A-Za-z_][A-Za-z0-9_]*) in ([^;]+); do$`)
	fileTests = regexp.MustCompile(`\[ -[fs] "?([^ "\]]+)"? \]`)
)

// pkiPaths returns the /pki/... paths a compose value names. Shell scripts
// are expanded just enough for the compose ones: environment variables,
// simple assignments and `for X in LIST; do ... done` loops. Paths tested
// with [ -f ... ] first are also returned in optional.
func pkiPaths(text string, env map[string]string) (paths []string, optional map[string]bool) {
	optional = map[string]bool{}
	for _, line := range expandScript(text, env) {
		for _, m := range fileTests.FindAllStringSubmatch(line, -1) {
			optional[m[1]] = true
		}
		for _, p := range pkiPath.FindAllString(line, -1) {
			if !slices.Contains(paths, p) {
				paths = append(paths, p)
			}
		}
	}
	return paths, optional
}

// expandScript returns the lines of a compose shell script with loops
// unrolled and variables from env and simple assignments substituted.
func expandScript(text string, env map[string]string) []string {
	vars := map[string]string{}
	for k, v := range env {
		vars[k] = v
	}
	expand := func(s string) string {
		return shellVar.ReplaceAllStringFunc(s, func(m string) string {
			name := shellVar.FindStringSubmatch(m)[1]
			if v, ok := vars[name]; ok {
				return v
			}
			return m
		})
	}
	var lines []string
	var loopVar string
	var loopItems, body []string
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch m := forLoop.FindStringSubmatch(line); {
		case m != nil:
			loopVar, loopItems, body = m[1], strings.Fields(expand(m[2])), nil
		case loopVar != "" && line == "done":
			for _, item := range loopItems {
				for _, b := range body {
					lines = append(lines, expand(strings.NewReplacer("$"+loopVar, item, "${"+loopVar+"}", item).Replace(b)))
				}
			}
			loopVar = ""
		case loopVar != "":
			body = append(body, line)
		default:
			if a := assign.FindStringSubmatch(line); a != nil {
				vars[a[1]] = expand(a[2])
			}
			lines = append(lines, expand(line))
		}
	}
	return lines
}

func TestPKIPaths(t *testing.T) {
	env := map[string]string{"LOGSYS_ENV": "dev"}
	tests := []struct {
		name, text string
		want       []string
		optional   []string
	}{
		{"dsn", "postgres://u@h/db?sslrootcert=/pki/dev/ca-chain.pem&sslkey=/pki/dev/c/key.pem", []string{"/pki/dev/ca-chain.pem", "/pki/dev/c/key.pem"}, nil},
		{"assignment and env", "src=/pki/$LOGSYS_ENV\ncp \"$src/crl.pem\" /out", []string{"/pki/dev", "/pki/dev/crl.pem"}, nil},
		{"for loop", "src=/pki/dev\nfor f in a.pem b.pem; do\n  cp \"$src/k/$f\" /o/$f\ndone", []string{"/pki/dev", "/pki/dev/k/a.pem", "/pki/dev/k/b.pem"}, nil},
		{"file test", "if [ -f \"$src/ca-prev.pem\" ]; then cat x; fi", nil, nil},
		{"file test with var", "src=/pki/dev\nif [ -f \"$src/ca-prev.pem\" ]; then cat \"$src/ca-prev.pem\"; fi", []string{"/pki/dev", "/pki/dev/ca-prev.pem"}, []string{"/pki/dev/ca-prev.pem"}},
		{"nothing", "echo hello", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, opt := pkiPaths(tt.text, env)
			if !slices.Equal(got, tt.want) {
				t.Errorf("paths = %q, want %q", got, tt.want)
			}
			for _, o := range tt.optional {
				if !opt[o] {
					t.Errorf("%s not optional (%v)", o, opt)
				}
			}
		})
	}
}

// TestComposeBindMounts: every ./path compose mounts exists in the tree.
func TestComposeBindMounts(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(src, "./") {
				continue
			}
			if _, err := os.Stat(src); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
			}
		}
	}
}

// TestComposeKafkaSecrets: every file deploy/kafka/server.properties reads
// from its secrets directory is one tls-init writes into that volume, and
// every environment variable it reads is set on the kafka service.
func TestComposeKafkaSecrets(t *testing.T) {
	c := loadCompose(t)
	props, err := os.ReadFile("deploy/kafka/server.properties")
	if err != nil {
		t.Fatal(err)
	}
	const secrets = "/etc/kafka/secrets"
	kafka, initSvc := c.Services["kafka"], c.Services["tls-init"]
	if !slices.Contains(kafka.Volumes, "kafka-secrets:"+secrets+":ro") || !slices.Contains(initSvc.Volumes, "kafka-secrets:/out/kafka") {
		t.Fatalf("kafka-secrets must be written by tls-init at /out/kafka and read by kafka at %s", secrets)
	}
	script := strings.Join(expandScript(strings.Join(initSvc.Command, "\n"), initSvc.Environment), "\n")
	var names []string
	for _, m := range regexp.MustCompile(`\$\{dir:`+secrets+`:([A-Za-z0-9_.-]+)\}|`+secrets+`/([A-Za-z0-9_.-]+)`).FindAllStringSubmatch(string(props), -1) {
		names = append(names, m[1]+m[2])
	}
	if len(names) == 0 {
		t.Fatal("server.properties names no file under " + secrets)
	}
	for _, n := range names {
		if !regexp.MustCompile(`/out/kafka/` + regexp.QuoteMeta(n) + `\b`).MatchString(script) {
			t.Errorf("server.properties reads %s/%s, which tls-init does not write", secrets, n)
		}
	}
	for _, m := range regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`).FindAllStringSubmatch(string(props), -1) {
		if kafka.Environment[m[1]] == "" {
			t.Errorf("server.properties reads ${env:%s}, which the kafka service does not set", m[1])
		}
	}
}
