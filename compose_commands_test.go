package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
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
