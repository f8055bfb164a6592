package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStrictLoad: every kind of bad input is refused by Load with the key
// (or variable) and where it was set.
func TestStrictLoad(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       []string
	}{
		{"unknown key", "gateway:\n  adr: \":1\"\n", nil, []string{"gateway.adr: unknown key; did you mean gateway.addr?", "(in "}},
		{"unknown section", "gatway:\n  addr: \":1\"\n", nil, []string{"gatway: unknown section; did you mean gateway?"}},
		{"value for a section", "gateway: 5\n", nil, []string{"gateway: is a section"}},
		{"number for a string", "gateway:\n  addr: 8080\n", nil, []string{"gateway.addr: number 8080 is not a string"}},
		{"duration without unit", "gateway:\n  shutdown_grace: 15\n", nil, []string{"gateway.shutdown_grace: number 15 is not a duration", "15s"}},
		{"bad duration string", "producer:\n  linger: soon\n", nil, []string{`producer.linger: "soon" is not a duration`}},
		{"list of numbers", "gateway:\n  clients: [1]\n", nil, []string{"gateway.clients: element 0: number 1 is not a string"}},
		{"string for a number", "consumer:\n  batch_size: many\n", nil, []string{`consumer.batch_size: "many" is not a whole number`}},
		{"out of range", "all:\n  broker:\n    partitions: 9999999999\n", nil, []string{"all.broker.partitions: 9999999999 is out of range"}},
		{"not a boolean", "all:\n  use_ca: 1\n", nil, []string{"all.use_ca: number 1 is not true or false"}},
		{"env duration without unit", "", map[string]string{"LOGSYS_GATEWAY_SHUTDOWN_GRACE": "15"}, []string{"gateway.shutdown_grace: \"15\" is not a duration", "(from LOGSYS_GATEWAY_SHUTDOWN_GRACE)"}},
		{"env not a number", "", map[string]string{"LOGSYS_GATEWAY_MAX_BATCH_EVENTS": "lots"}, []string{"gateway.max_batch_events: \"lots\" is not a whole number"}},
		{"unknown variable", "", map[string]string{"LOGSYS_GATEWAY_ADR": ":1"}, []string{"LOGSYS_GATEWAY_ADR: environment variable names no key of the gateway section; did you mean LOGSYS_GATEWAY_ADDR?"}},
		{"secret of the wrong type", "gateway:\n  tls:\n    ca_token: [a]\n", nil, []string{"gateway.tls.ca_token: has a value of the wrong type (not shown"}},
		{"everything at once", "gatway: {addr: x}\ngateway:\n  adr: x\n  shutdown_grace: 15\n", map[string]string{"LOGSYS_CA_ADR": "x"},
			[]string{"4 errors", "gatway", "gateway.adr", "gateway.shutdown_grace", "LOGSYS_CA_ADR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o := Options{}
			if tt.file != "" {
				o.File = writeFile(t, "bad.yaml", tt.file)
			}
			_, err := Load(o)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.file != "" && !strings.Contains(err.Error(), o.File) && tt.env == nil {
				t.Errorf("error %q does not name the file", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Key == "" {
				t.Errorf("error %v carries no *Error with a key", err)
			}
			if strings.Contains(err.Error(), "[a]") {
				t.Errorf("a secret's value is shown: %q", err)
			}
		})
	}
}

// TestScriptVariablesIgnored: LOGSYS_ variables of other sections than the
// tree's belong to scripts and tests and are not configuration.
func TestScriptVariablesIgnored(t *testing.T) {
	for _, k := range []string{"LOGSYS_BIND", "LOGSYS_TEST_PG_DSN", "LOGSYS_KAFKA_NODES", "LOGSYS_ENV", "LOGSYS_CACHE"} {
		t.Setenv(k, "x")
	}
	if _, err := Load(Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestFormats: JSON files load too, with their numbers; TOML likewise; a
// file without a known extension (a mounted secret, /dev/stdin) is YAML.
func TestFormats(t *testing.T) {
	for name, text := range map[string]string{
		"config":      "gateway:\n  max_batch_events: 7\n  shutdown_grace: 3s\n  clients: [a, b]\n",
		"logsys.conf": "gateway:\n  max_batch_events: 7\n  shutdown_grace: 3s\n  clients: [a, b]\n",
		"c.json":      `{"gateway": {"max_batch_events": 7, "shutdown_grace": "3s", "clients": ["a", "b"]}}`,
		"c.toml":      "[gateway]\nmax_batch_events = 7\nshutdown_grace = \"3s\"\nclients = [\"a\", \"b\"]\n",
	} {
		l := mustLoad(t, Options{File: writeFile(t, name, text)})
		if g := l.Gateway; g.MaxBatchEvents != 7 || g.ShutdownGrace.String() != "3s" || strings.Join(g.Clients, ",") != "a,b" {
			t.Errorf("%s: %d %v %v", name, g.MaxBatchEvents, g.ShutdownGrace, g.Clients)
		}
	}
	if _, err := Load(Options{File: writeFile(t, "c.json", `{"gateway": {"max_batch_events": 7.5}}`)}); err == nil ||
		!strings.Contains(err.Error(), "gateway.max_batch_events: 7.5 is not a whole number") {
		t.Errorf("fractional JSON number: %v", err)
	}
	if _, err := Load(Options{File: filepath.Join(t.TempDir(), "missing.yaml")}); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

// TestValidateNamesKeyAndOrigin: a value its section refuses is reported
// with the full key and where it was set, only for the command that reads
// the section.
func TestValidateNamesKeyAndOrigin(t *testing.T) {
	path := writeFile(t, "c.yaml", "log:\n  level: verbose\ngateway:\n  producer:\n    url: https://producer:8081/v1\n  tls:\n    min_tls: \"1.1\"\n")
	t.Setenv("LOGSYS_PRODUCER_KAFKA_BROKERS", "kafka")
	for _, tt := range []struct {
		command string
		want    []string
		notWant []string
	}{
		{"gateway", []string{
			`log.level: "verbose" must be one of debug, info, warn, error (in ` + path + ")",
			`gateway.producer.url: "https://producer:8081/v1" has the path "/v1": give the producer's base URL (https://producer:8081)`,
			`gateway.tls.min_tls: "1.1" must be 1.3 or 1.2 (in `}, []string{"producer.kafka"}},
		{"producer", []string{`producer.kafka.brokers: "kafka" is not host:port (from LOGSYS_PRODUCER_KAFKA_BROKERS)`}, []string{"gateway."}},
		{"health", nil, nil},
	} {
		l := mustLoad(t, Options{File: path, Command: tt.command})
		err := l.Validate()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: %v", tt.command, err)
			}
			continue
		}
		if err == nil {
			t.Fatalf("%s: accepted", tt.command)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tt.command, err, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q is about another command's section (%q)", tt.command, err, w)
			}
		}
	}
}

// TestAllOwnsItsWiring: under `logsys all` the role settings it owns are
// refused with their key when set; the same file is fine for the roles.
func TestAllOwnsItsWiring(t *testing.T) {
	path := writeFile(t, "c.yaml", "gateway:\n  producer:\n    url: https://producer:8081\n  tls:\n    pki_dir: /pki\nconsumer:\n  store:\n    dsn: postgres://db/logsys\n  tls:\n    env: prod\n")
	t.Setenv("LOGSYS_PRODUCER_KAFKA_BROKERS", "kafka:9093")
	err := mustLoad(t, Options{File: path, Command: "all"}).Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{
		"gateway.producer.url: is set by logsys all (its own producer)",
		"gateway.tls.pki_dir: is set by logsys all",
		"producer.kafka.brokers: is set by logsys all (the embedded broker); remove it, or run the roles one by one (from LOGSYS_PRODUCER_KAFKA_BROKERS)",
		"consumer.store.dsn: is set by logsys all (all.store_dsn)",
		`consumer.tls.env: "prod" differs from gateway.tls.env "dev"`,
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	for _, cmd := range []string{"gateway", "producer"} {
		if err := mustLoad(t, Options{File: path, Command: cmd}).Validate(); err != nil {
			t.Errorf("%s refuses what only all owns: %v", cmd, err)
		}
	}
}

// TestEmptyUnknownSection: an unknown section or sub-section with nothing
// in it is still an unknown key, in every format; an empty section of the
// tree is fine.
func TestEmptyUnknownSection(t *testing.T) {
	for _, tt := range []struct{ name, text, want string }{
		{"c.yaml", "gatway: {}\n", "gatway: unknown section; did you mean gateway?"},
		{"c.yaml", "gatway:\n", "gatway: unknown section; did you mean gateway?"},
		{"c.yaml", "gateway:\n  tlss: {}\n", "gateway.tlss: unknown key; did you mean gateway.tls?"},
		{"c.yaml", "gateway:\n  tls:\n    reload: {}\n", "gateway.tls.reload: unknown key"},
		{"c.json", `{"gatway": {}}`, "gatway: unknown section"},
		{"c.toml", "[gatway]\n", "gatway: unknown section"},
		{"c.toml", "[gateway.tlss]\n", "gateway.tlss: unknown key"},
	} {
		path := writeFile(t, tt.name, tt.text)
		_, err := Load(Options{File: path})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s %q: %v, want %q naming the file", tt.name, tt.text, err, tt.want)
		}
	}
	for _, tt := range []struct{ name, text string }{
		{"c.yaml", "gateway: {}\n"},
		{"c.yaml", "gateway:\n"},
		{"c.yaml", "gateway:\n  tls: {}\n  producer:\n"},
		{"c.json", `{"gateway": {"tls": {}}}`},
		{"c.toml", "[gateway.tls]\n"},
	} {
		if _, err := Load(Options{File: writeFile(t, tt.name, tt.text)}); err != nil {
			t.Errorf("%s %q: %v", tt.name, tt.text, err)
		}
	}
}
