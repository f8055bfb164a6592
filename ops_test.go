package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"logsys/pki"
	"logsys/roles"
	"logsys/tlsx"
)

// The deployment files are checked against the binary and the PKI they
// drive: every `logsys ...` line compose runs must parse with the real
// command tree, every /pki file it names must be one `pki init` makes, and
// ports must agree with the documented defaults.

// composeFile is the part of compose.yaml the tests read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

const logsysImage = "logsys:local"

// roleServices are the compose services that run one logsys role each, with
// the ports the README and config.yaml document.
var roleServices = []struct{ name, port, liveness string }{
	{"gateway", "8080", "9080"}, {"producer", "8081", "9081"}, {"consumer", "8082", "9082"},
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate does what docker compose does with an unset environment:
// ${VAR:-default} becomes default, ${VAR} empty, and $$ a literal $.
func interpolate(s string) string {
	const dollar = "\x00"
	s = strings.ReplaceAll(s, "$$", dollar)
	s = interpolation.ReplaceAllString(s, "$2")
	return strings.ReplaceAll(s, dollar, "$")
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for name, s := range c.Services {
		for i := range s.Command {
			s.Command[i] = interpolate(s.Command[i])
		}
		for k, v := range s.Environment {
			s.Environment[k] = interpolate(v)
		}
		for i := range s.Volumes {
			s.Volumes[i] = interpolate(s.Volumes[i])
		}
		for i := range s.Ports {
			s.Ports[i] = interpolate(s.Ports[i])
		}
		if s.Healthcheck != nil {
			for i := range s.Healthcheck.Test {
				s.Healthcheck.Test[i] = interpolate(s.Healthcheck.Test[i])
			}
		}
		c.Services[name] = s
	}
	for _, r := range roleServices {
		if _, ok := c.Services[r.name]; !ok {
			t.Fatalf("compose.yaml has no %s service", r.name)
		}
	}
	return c
}

// resolveCommand finds the subcommand args name in the real command tree
// and parses its flags and arguments without running it.
func resolveCommand(args []string) (*cobra.Command, error) {
	root := newRootCmd()
	cmd, rest, err := root.Find(args)
	if err != nil {
		return nil, err
	}
	if cmd == root || !cmd.Runnable() {
		return nil, fmt.Errorf("%q does not name a runnable subcommand", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	if err := cmd.ValidateFlagGroups(); err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.CommandPath(), err)
	}
	return cmd, nil
}

func TestResolveCommand(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // command path, or "" for an error
		wantErr string
	}{
		{[]string{"gateway"}, "logsys gateway", ""},
		{[]string{"pki", "init", "--dir", "/pki", "--hosts", "localhost"}, "logsys pki init", ""},
		{[]string{"--config", "c.yaml", "producer", "--addr", ":1"}, "logsys producer", ""},
		{[]string{"health", "--liveness", "http://127.0.0.1:9080/healthz"}, "logsys health", ""},
		{[]string{"pki", "snippets", "--env", "dev", "--name", "client", "--format", "jks"}, "logsys pki snippets", ""},
		{[]string{"gatewy"}, "", "unknown command"},
		{[]string{"pki"}, "", "runnable"},
		{[]string{"pki", "init", "--host", "x"}, "", "unknown flag"},
		{[]string{"consumer", "extra"}, "", "unknown command"},
		{[]string{"pki", "issue", "--env", "dev"}, "", "name"},
		{[]string{"health"}, "", "liveness"},
		{[]string{"pki", "revoke", "--env", "dev", "--serial", "01", "--name", "x"}, "", "none of the others"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd, err := resolveCommand(tt.args)
			switch {
			case tt.want != "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.want != "" && cmd.CommandPath() != tt.want:
				t.Errorf("resolved %q, want %q", cmd.CommandPath(), tt.want)
			case tt.want == "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// logsysCommands returns every logsys command line in compose.yaml by
// service: the commands of services running the logsys image and the
// health checks that call the binary.
func logsysCommands(t *testing.T, c composeFile) map[string][][]string {
	t.Helper()
	out := map[string][][]string{}
	for name, s := range c.Services {
		if s.Image == logsysImage {
			if len(s.Entrypoint) > 0 {
				t.Errorf("%s: overrides the image entrypoint; commands below assume `logsys`", name)
			}
			out[name] = append(out[name], s.Command)
		}
		if hc := s.Healthcheck; hc != nil && len(hc.Test) > 1 && hc.Test[0] == "CMD" && filepath.Base(hc.Test[1]) == "logsys" {
			if s.Image != logsysImage {
				t.Errorf("%s: health check runs logsys in image %q", name, s.Image)
			}
			if hc.Test[1] != dockerEntrypoint(t) {
				t.Errorf("%s: health check runs %s, the image has %s", name, hc.Test[1], dockerEntrypoint(t))
			}
			out[name] = append(out[name], hc.Test[2:])
		}
	}
	return out
}

// dockerEntrypoint returns the binary path of the Dockerfile's ENTRYPOINT.
func dockerEntrypoint(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(data)
	if m == nil {
		t.Fatal("Dockerfile: no exec-form ENTRYPOINT")
	}
	return string(m[1])
}

func TestComposeCommandsAreRealSubcommands(t *testing.T) {
	c := loadCompose(t)
	cmds := logsysCommands(t, c)
	for _, r := range roleServices {
		if len(cmds[r.name]) < 2 {
			t.Errorf("%s: want its command and a `logsys health` check, found %q", r.name, cmds[r.name])
		}
	}
	if len(cmds["pki"]) == 0 {
		t.Error("no pki service running `logsys pki init`")
	}
	for svc, lines := range cmds {
		for _, args := range lines {
			if _, err := resolveCommand(args); err != nil {
				t.Errorf("%s runs `logsys %s`: %v", svc, strings.Join(args, " "), err)
			}
		}
	}
}

// TestComposeHealthChecks: each role's check probes the liveness address
// compose gives it, and the gateway waits for a healthy producer.
func TestComposeHealthChecks(t *testing.T) {
	c := loadCompose(t)
	for _, r := range roleServices {
		s := c.Services[r.name]
		key := "LOGSYS_" + strings.ToUpper(r.name) + "_LIVENESS_ADDR"
		addr := s.Environment[key]
		if addr != "127.0.0.1:"+r.liveness {
			t.Errorf("%s: %s = %q, want 127.0.0.1:%s (config.yaml)", r.name, key, addr, r.liveness)
		}
		if s.Healthcheck == nil {
			t.Errorf("%s: no health check", r.name)
			continue
		}
		test := s.Healthcheck.Test
		i := slices.Index(test, "--liveness")
		if i < 0 || i+1 >= len(test) {
			t.Errorf("%s: health check %q does not probe --liveness", r.name, test)
			continue
		}
		if u, err := url.Parse(test[i+1]); err != nil || u.Host != addr || u.Path != "/healthz" {
			t.Errorf("%s: health check probes %s, the liveness listener is http://%s/healthz", r.name, test[i+1], addr)
		}
	}
	if got := c.Services["gateway"].DependsOn["producer"].Condition; got != "service_healthy" {
		t.Errorf("gateway depends on the producer with %q, want service_healthy", got)
	}
}

// TestComposePorts: compose, config.yaml, the roles' defaults, the README
// and prometheus.yml agree on every port.
func TestComposePorts(t *testing.T) {
	c := loadCompose(t)
	cfg := readConfigYAML(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	prom, err := os.ReadFile("deploy/prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string][2]string{
		"gateway":  {roles.DefaultGatewayConfig().Addr, roles.DefaultGatewayConfig().LivenessAddr},
		"producer": {roles.DefaultProducerConfig().Addr, roles.DefaultProducerConfig().LivenessAddr},
		"consumer": {roles.DefaultConsumerConfig().Addr, roles.DefaultConsumerConfig().LivenessAddr},
	}
	for _, r := range roleServices {
		s := c.Services[r.name]
		up := strings.ToUpper(r.name)
		for what, got := range map[string]string{
			"roles default addr":             port(t, defaults[r.name][0]),
			"config.yaml addr":               port(t, cfg[r.name].Addr),
			"compose LOGSYS_" + up + "_ADDR": port(t, s.Environment["LOGSYS_"+up+"_ADDR"]),
		} {
			if got != r.port {
				t.Errorf("%s: %s port %s, want %s", r.name, what, got, r.port)
			}
		}
		if got := port(t, defaults[r.name][1]); got != r.liveness {
			t.Errorf("%s: default liveness port %s, want %s", r.name, got, r.liveness)
		}
		if got := port(t, cfg[r.name].LivenessAddr); got != r.liveness {
			t.Errorf("%s: config.yaml liveness port %s, want %s", r.name, got, r.liveness)
		}
		checkPublished(t, r.name, s.Ports, r.port)
		if !regexp.MustCompile(r.name + `[^\n|]{0,3}:` + r.port + `\b`).Match(readme) {
			t.Errorf("README.md does not document %s on :%s", r.name, r.port)
		}
		if !strings.Contains(string(prom), `"`+r.name+`:`+r.port+`"`) {
			t.Errorf("deploy/prometheus/prometheus.yml does not scrape %s:%s", r.name, r.port)
		}
	}
	const kafkaPort = "9093"
	checkPublished(t, "kafka", c.Services["kafka"].Ports, kafkaPort)
	if got := port(t, roles.DefaultKafkaConfig().Brokers[0]); got != kafkaPort {
		t.Errorf("roles default broker port %s, want %s", got, kafkaPort)
	}
	if got := fmt.Sprint(roles.DefaultBrokerConfig().Port); got != kafkaPort {
		t.Errorf("embedded broker default port %s, want %s", got, kafkaPort)
	}
	if !regexp.MustCompile(`broker[^\n|]{0,3}:` + kafkaPort + `\b`).Match(readme) {
		t.Errorf("README.md does not document the broker on :%s", kafkaPort)
	}
	for _, svc := range []string{"producer", "consumer"} {
		key := "LOGSYS_" + strings.ToUpper(svc) + "_KAFKA_BROKERS"
		if got := c.Services[svc].Environment[key]; got != "kafka:"+kafkaPort {
			t.Errorf("%s: %s = %q, want kafka:%s", svc, key, got, kafkaPort)
		}
	}
	u, err := url.Parse(c.Services["gateway"].Environment["LOGSYS_GATEWAY_PRODUCER_URL"])
	if err != nil || u.Scheme != "https" || u.Host != "producer:8081" {
		t.Errorf("gateway: LOGSYS_GATEWAY_PRODUCER_URL %q must be https://producer:8081", u)
	}
}

// checkPublished wants exactly one mapping "HOST_IP:P:P" for the port.
func checkPublished(t *testing.T, svc string, ports []string, want string) {
	t.Helper()
	for _, p := range ports {
		parts := strings.Split(p, ":")
		if len(parts) == 3 && parts[2] == want {
			if parts[1] != want {
				t.Errorf("%s: publishes container port %s on host port %s", svc, want, parts[1])
			}
			if ip := net.ParseIP(parts[0]); ip == nil || !ip.IsLoopback() {
				t.Errorf("%s: publishes %s on %s by default, want loopback", svc, want, parts[0])
			}
			return
		}
	}
	t.Errorf("%s: does not publish port %s (ports %q)", svc, want, ports)
}

func port(t *testing.T, hostport string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Errorf("address %q: %v", hostport, err)
	}
	return p
}

type roleAddrs struct {
	Addr         string `yaml:"addr"`
	LivenessAddr string `yaml:"liveness_addr"`
}

func readConfigYAML(t *testing.T) map[string]roleAddrs {
	t.Helper()
	data, err := os.ReadFile("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]roleAddrs
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.yaml: %v", err)
	}
	return cfg
}

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

// runHealth runs `logsys health args...` and returns its exit code.
func runHealth(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs(append([]string{"health", "--timeout", "5s"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0, out.String()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, err.Error()
	}
	return -1, err.Error()
}

func TestHealthLiveness(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"UP"}`)
	}))
	defer up.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name, url string
		code      int
		reason    string
	}{
		{"up", up.URL + "/healthz", 0, "UP"},
		{"not 200", up.URL + "/nothing", 1, "404"},
		{"connection refused", closedURL + "/healthz", 1, "refused"},
		{"not loopback", "http://192.0.2.1:9080/healthz", 1, "loopback"},
		{"https is for --url", "https://127.0.0.1:9080/healthz", 1, "http URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := runHealth(t, "--liveness", tt.url)
			if code != tt.code || !strings.Contains(msg, tt.reason) {
				t.Errorf("exit %d %q, want %d with %q", code, msg, tt.code, tt.reason)
			}
			if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Errorf("reason is not one line: %q", msg)
			}
		})
	}
}

// TestHealthReadinessOverMTLS probes a real mutual-TLS listener that, like
// the roles, admits only named identities of its own environment.
func TestHealthReadinessOverMTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: []string{"dev", "staging"},
		Names: []string{"gateway", "prometheus", "client"}}); err != nil {
		t.Fatal(err)
	}
	sc := tlsx.LayoutSource(dir, "dev", "gateway")
	sc.Logger = slog.New(slog.DiscardHandler)
	src, err := tlsx.NewSource(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsx.ServerConfig(src, tlsx.AuthorizeNames("logsys.local", "dev", "prometheus"), tlsx.Options{NextProtos: tlsx.ProtosHTTP})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			fmt.Fprint(w, `{"status":"healthy"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	defer srv.Close()
	base := "https://" + ln.Addr().String()
	tests := []struct {
		name   string
		args   []string
		code   int
		reason string
	}{
		{"ready", []string{"--url", base + "/readyz", "--env", "dev", "--name", "prometheus"}, 0, "UP"},
		{"not ready", []string{"--url", base + "/other", "--env", "dev", "--name", "prometheus"}, 1, "503"},
		{"identity not admitted", []string{"--url", base + "/readyz", "--env", "dev", "--name", "client"}, 1, "DOWN"},
		{"other environment", []string{"--url", base + "/readyz", "--env", "staging", "--name", "prometheus"}, 1, "DOWN"},
		{"plain http", []string{"--url", "http://" + ln.Addr().String() + "/readyz"}, 1, "https URL"},
		{"both modes", []string{"--url", base, "--liveness", "http://127.0.0.1:1/healthz"}, -1, "none of the others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := runHealth(t, append([]string{"--pki-dir", dir}, tt.args...)...)
			if code != tt.code || !strings.Contains(msg, tt.reason) {
				t.Errorf("exit %d %q, want %d with %q", code, msg, tt.code, tt.reason)
			}
		})
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
