package config

import (
	"bytes"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// node is a section or key of the tree, for rendering it.
type node struct {
	name, key string
	leaf      *field
	children  []*node
}

func buildNodes() *node {
	top := &node{}
	for i := range tree {
		f := &tree[i]
		cur := top
		parts := strings.Split(f.key, ".")
		for j, p := range parts {
			var next *node
			for _, c := range cur.children {
				if c.name == p {
					next = c
				}
			}
			if next == nil {
				next = &node{name: p, key: strings.Join(parts[:j+1], ".")}
				cur.children = append(cur.children, next)
			}
			cur = next
		}
		cur.leaf = f
	}
	return top
}

// YAML renders config.yaml: Default() with each key's description. The
// first section that uses a shared description ("*.tls...") carries it.
func YAML() []byte {
	var b bytes.Buffer
	b.WriteString(`# logsys configuration: every key with its default.
#
# Generated from the configuration tree (internal/config) by
#   go generate ./internal/config
# do not edit by hand; docs/configuration.md is the reference.
#
# Precedence: default < this file (--config FILE, else ./config.yaml) <
# environment < flags. Every key is also an environment variable: LOGSYS_
# and the key path upper-cased, dots as underscores, for example
#   LOGSYS_GATEWAY_ADDR=:9443  LOGSYS_CONSUMER_STORE_DSN=postgres://...
# Unknown keys, wrong types and durations without a unit are errors.
# Durations use Go syntax (30s, 15m, 168h); lists in the environment are
# comma-separated.
`)
	def := Default()
	seen := map[string]bool{}
	doc := func(key string) string {
		by := describedBy(key)
		if by == "" || (strings.HasPrefix(by, "*.") && seen[by]) {
			return ""
		}
		seen[by] = true
		return docs[by]
	}
	var emit func(n *node, depth int)
	emit = func(n *node, depth int) {
		indent := strings.Repeat("  ", depth)
		var leaves, subs []*node
		for _, c := range n.children {
			if c.leaf != nil {
				leaves = append(leaves, c)
			} else {
				subs = append(subs, c)
			}
		}
		width := 0
		for _, c := range leaves {
			width = max(width, len(c.name)+2+len(yamlValue(c.leaf.value(&def))))
		}
		for _, c := range leaves {
			line := indent + c.name + ": " + yamlValue(c.leaf.value(&def))
			if d := doc(c.key); d != "" {
				line += strings.Repeat(" ", width-len(line)+len(indent)+2) + "# " + d
			}
			b.WriteString(line + "\n")
		}
		for _, c := range subs {
			b.WriteString("\n")
			if d := doc(c.key); d != "" {
				for _, l := range wrap(d, 76-len(indent)) {
					b.WriteString(indent + "# " + l + "\n")
				}
			}
			b.WriteString(indent + c.name + ":\n")
			emit(c, depth+1)
		}
	}
	emit(buildNodes(), 0)
	return b.Bytes()
}

var plainYAML = regexp.MustCompile(`^[A-Za-z_./][A-Za-z0-9_./-]*$`)

// yamlValue renders a default as YAML that decodes back to it.
func yamlValue(v reflect.Value) string {
	switch {
	case v.Type() == durationType:
		return format(v)
	case v.Kind() == reflect.String:
		return yamlString(v.String())
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = yamlString(v.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return format(v)
}

func yamlString(s string) string {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~":
		return strconv.Quote(s)
	}
	if plainYAML.MatchString(s) {
		return s
	}
	return strconv.Quote(s)
}

// wrap breaks text into lines of at most width runes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// Reference renders docs/configuration.md from the tree: precedence, the
// rules, every command's flags and every key with its default, variable,
// flags and description.
func Reference() []byte {
	var b bytes.Buffer
	b.WriteString(referenceIntro)
	b.WriteString("\n## Flags\n\n`--config FILE` (every command) names the file. Each flag below sets one key; the other flags " +
		"(`health --liveness`/`--url`, `bench --json`/`--progress`/`--cpuprofile`, the pki subcommands' `--env`, `--name`, ...) " +
		"are arguments of one run, not configuration.\n\n| command | flag | key |\n|---|---|---|\n")
	for _, f := range flagTable {
		name := "`--" + f.Name + "`"
		if f.Deprecated != "" {
			name += " (deprecated: `--" + f.Deprecated + "`)"
		}
		cmd := "logsys " + f.Command
		if f.Command == "pki" {
			cmd = "logsys pki *"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` |\n", cmd, name, f.Key)
	}
	b.WriteString("\n## Keys\n")
	def := Default()
	top := buildNodes()
	for _, s := range top.children {
		fmt.Fprintf(&b, "\n### %s\n\n%s\n\n", s.name, docs[s.name])
		b.WriteString("| key | default | environment | flags | description |\n|---|---|---|---|---|\n")
		var rows func(n *node)
		rows = func(n *node) {
			if n.leaf != nil {
				var flags []string
				for _, f := range FlagsOf(n.key) {
					if f.Deprecated == "" {
						flags = append(flags, "`--"+f.Name+"` ("+f.Command+")")
					}
				}
				shown := format(n.leaf.value(&def))
				if shown == "" {
					shown = `""`
				}
				fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", n.key, shown, n.leaf.env,
					strings.Join(flags, ", "), mdCell(Describe(n.key)))
				return
			}
			for _, c := range n.children {
				rows(c)
			}
		}
		var subs []*node
		for _, c := range s.children {
			if c.leaf != nil {
				rows(c)
			} else {
				subs = append(subs, c)
			}
		}
		for _, c := range subs {
			rows(c)
		}
		for _, c := range subs {
			if d := Describe(c.key); d != "" {
				fmt.Fprintf(&b, "\n`%s`: %s\n", c.key, mdCell(d))
			}
		}
	}
	return b.Bytes()
}

// mdCell escapes what Markdown would read as table syntax or HTML.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "<", `\<`, ">", `\>`).Replace(s)
}

const referenceIntro = "# Configuration reference\n\n" +
	"<!-- Generated from the configuration tree (internal/config) by `go generate ./internal/config`; do not edit. -->\n\n" +
	"Every command reads one configuration tree: the sections below, one per command. " +
	"`config.yaml` at the repository root lists every key with its default.\n\n" +
	"## Precedence\n\n" +
	"| layer | where | example |\n|---|---|---|\n" +
	"| 1. default | the tree's defaults (`config.yaml` shows them) | `gateway.addr: \":8080\"` |\n" +
	"| 2. file | `--config FILE`, else `./config.yaml` when it exists (YAML; JSON and TOML by extension) | `gateway:` / `  addr: \":9443\"` |\n" +
	"| 3. environment | `LOGSYS_` and the key path upper-cased, dots as underscores; lists comma-separated | `LOGSYS_GATEWAY_ADDR=:9443` |\n" +
	"| 4. flag | the command's flags (below) | `logsys gateway --addr :9443` |\n\n" +
	"A later layer wins over an earlier one, key by key. `bench.quick: true` swaps in the quick run's defaults for the " +
	"other bench keys, and with `bench.gateway` set `bench.batch` defaults to 1; values set by file, environment or flag keep theirs.\n\n" +
	"## Strictness\n\n" +
	"Nothing starts, and no port is opened, when the configuration is refused. The command exits non-zero and names " +
	"every refused key with where it was set (the file, the variable or the flag):\n\n" +
	"- a key the tree does not have (`adr:`, `gatway:`, even an empty `gatway: {}`), or a value where the tree has a " +
	"section (an empty section of the tree, `gateway: {}`, is fine);\n" +
	"- a value of the wrong type (`addr: 8080` is a number, write `\":8080\"`; `clients: [1]`);\n" +
	"- a duration without a unit (`shutdown_grace: 15`: write `15s`);\n" +
	"- an environment variable `LOGSYS_<SECTION>_...` whose section is one of the tree's (`LOG`, `GATEWAY`, `PRODUCER`, " +
	"`CONSUMER`, `ALL`, `CA`, `PKI`, `HEALTH`, `BENCH`) but that names no key (`LOGSYS_GATEWAY_ADR`). Other `LOGSYS_` " +
	"variables (`LOGSYS_BIND`, `LOGSYS_TEST_...`, `LOGSYS_KAFKA_...` of the scripts) are not configuration and are ignored;\n" +
	"- a value its section refuses (`log.level: verbose`, a producer URL with a path, `min_tls: \"1.1\"`): each command " +
	"checks the sections it reads; `logsys config check FILE` checks them all.\n\n" +
	"`logsys config print [--role R]` shows the effective value of every key and its source (default, file, env or " +
	"flag); with `--role` it shows that command's sections and takes its flags. Tokens and passwords are printed as " +
	"`<redacted>`, the password of a DSN likewise.\n\n" +
	"## `logsys all`\n\n" +
	"`logsys all` runs the roles with their own sections but owns their wiring: the gateway's `producer.url`, the " +
	"producer's and consumer's `kafka.brokers`, every `tls.pki_dir` (`all.data_dir`/pki), the `store` sections " +
	"(`all.store_dsn`, else `all.data_dir`/store) and, with `all.use_ca`, each identity's `ca_url`, `ca_token`, " +
	"`ca_token_file`, `ca_bundle`, `state_dir` and certificate files. Setting one of those to anything but its default " +
	"is an error naming the key, as is giving the roles different `tls.env` or `tls.trust_domain`. A role's `addr` " +
	"left at its default (`:8080`, `:8081`, `:8082`) is bound on `all.listen_host` (127.0.0.1); an `addr` set " +
	"explicitly is used as given.\n"
