package it

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Running compose.yaml without Docker: every service that concerns logsys
// runs here as a local process with exactly its compose command, entrypoint
// and environment. This file is the one place that says how the container
// world maps onto this host:
//
//	compose, image                     here
//	-------------------------------    ----------------------------------------------
//	service names (gateway, kafka..)   it/compose.hosts: one 127.0.0.x address each,
//	                                   in /etc/hosts (.ci/services.sh adds them)
//	logsys image (../Dockerfile):      the binary built from this tree; run as the
//	  ENTRYPOINT, USER, WORKDIR        image's USER (65532) in an empty WORKDIR (so,
//	                                   as in the image, no config.yaml is read)
//	prom/prometheus: /bin/prometheus,  the Prometheus server of Debian's package, run
//	  user nobody, workdir /prometheus as nobody (65534)
//	tls-init (user "0:0")              /bin/bash of this host, as root
//	named volume V                     <base>/volumes/V, shared by the services that
//	                                   mount it; where an image owns the mount point
//	                                   (/pki, /data: 65532 0700; /prometheus: nobody)
//	                                   a new volume takes that owner, as Docker does
//	bind mount of a file ./P           a copy of the repository's P, rewritten
//	bind mount of a directory ./P      the repository's P
//	a path under a mount target, an    the host path it maps to, rewritten in command,
//	  image path above, or /tmp        entrypoint, environment, healthcheck and in
//	                                   copied files (rewrite)
//	kafka:9093, postgres:5432          TCP forwards on the kafka and postgres addresses
//	                                   to the CI services (first node of it/kafka.sh,
//	                                   .ci/postgres.sh): the only port mapping
//	the pki volume's first start       a copy of the CI PKI, the one Kafka and
//	                                   PostgreSQL already present; compose's pki job
//	                                   then runs on it and must change nothing
//
// ${VAR:-default} takes its default (docker compose with no .env and the
// variable unset), $$ is a literal $.

// composeHostsFile lists the service names' addresses.
const composeHostsFile = "compose.hosts"

// imagePath is the PATH docker gives a container whose image sets none.
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// image is what running a service needs of its image.
type image struct {
	Entrypoint []string
	User       string   // uid:gid
	Workdir    string   // container path
	Owned      []string // mount points the image creates owned by User, mode 0700
}

// prometheusImage is prom/prometheus as its Dockerfile builds it.
var prometheusImage = image{Entrypoint: []string{"/bin/prometheus"}, User: "65534:65534", Workdir: "/prometheus", Owned: []string{"/prometheus"}}

// composeFile is the part of compose.yaml that running its services reads.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	User        string            `yaml:"user"`
	Hostname    string            `yaml:"hostname"`
	Command     []string          `yaml:"command"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

// containerPort is the container side of the service's first published
// port ("127.0.0.1:9093:9093" -> "9093").
func (s composeService) containerPort() string {
	if len(s.Ports) == 0 {
		return ""
	}
	p := s.Ports[0]
	return p[strings.LastIndexByte(p, ':')+1:]
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}`)

// interpolate does what docker compose does with the variable unset:
// ${VAR:-default} becomes default, ${VAR} empty, and $$ a literal $.
func interpolate(s string) string {
	const dollar = "\x00"
	s = strings.ReplaceAll(s, "$$", dollar)
	s = interpolation.ReplaceAllString(s, "$2")
	return strings.ReplaceAll(s, dollar, "$")
}

func readCompose(path string) (composeFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return composeFile{}, err
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		return composeFile{}, fmt.Errorf("%s: %w", path, err)
	}
	for name, s := range c.Services {
		for _, list := range [][]string{s.Command, s.Entrypoint, s.Volumes, s.Ports} {
			for i := range list {
				list[i] = interpolate(list[i])
			}
		}
		for k, v := range s.Environment {
			s.Environment[k] = interpolate(v)
		}
		if s.Healthcheck != nil {
			for i := range s.Healthcheck.Test {
				s.Healthcheck.Test[i] = interpolate(s.Healthcheck.Test[i])
			}
		}
		c.Services[name] = s
	}
	return c, nil
}

// readDockerfile returns the final stage's ENTRYPOINT, USER, WORKDIR and
// the directories it copies in with --chown (mount points it owns).
func readDockerfile(path string) (image, error) {
	f, err := os.Open(path)
	if err != nil {
		return image{}, err
	}
	defer f.Close()
	var img image
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		instr, rest, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			img = image{}
		case "USER":
			img.User = rest
		case "WORKDIR":
			img.Workdir = rest
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(rest), &img.Entrypoint); err != nil {
				return image{}, fmt.Errorf("%s: ENTRYPOINT %s: want the exec (JSON) form: %w", path, rest, err)
			}
		case "COPY":
			if f := strings.Fields(rest); slices.ContainsFunc(f, func(s string) bool { return strings.HasPrefix(s, "--chown=") }) {
				img.Owned = append(img.Owned, f[len(f)-1])
			}
		}
	}
	if err := sc.Err(); err != nil {
		return image{}, err
	}
	if len(img.Entrypoint) == 0 || img.User == "" || img.Workdir == "" {
		return image{}, fmt.Errorf("%s: final stage lacks ENTRYPOINT, USER or WORKDIR: %+v", path, img)
	}
	return img, nil
}

// readHosts reads compose.hosts: service name -> address.
func readHosts(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	hosts := map[string]string{}
	for line := range strings.SplitSeq(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("%s: want \"ADDRESS NAME\", got %q", path, line)
		}
		hosts[f[1]] = f[0]
	}
	return hosts, nil
}

// ids parses "uid:gid".
func ids(user string) (uid, gid uint32, err error) {
	u, g, ok := strings.Cut(user, ":")
	if !ok {
		g = u
	}
	uu, err1 := strconv.ParseUint(u, 10, 32)
	gg, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("user %q: want numeric uid:gid", user)
	}
	return uint32(uu), uint32(gg), nil
}

// mount maps a container path to a host path.
type mount struct{ target, host string }

// mapping rewrites a service's container paths to host paths.
type mapping []mount

// add registers a mount; longer targets are matched first.
func (m *mapping) add(target, host string) {
	*m = append(*m, mount{filepath.Clean(target), host})
	slices.SortStableFunc(*m, func(a, b mount) int { return len(b.target) - len(a.target) })
}

// rewrite replaces every container path in text that starts with a mount
// target as a whole path (not /prometheus inside /etc/prometheus/x, not
// /pkix) by its host path.
func (m mapping) rewrite(text string) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		if i == 0 || !pathByte(text[i-1]) {
			if mt, ok := m.at(text, i); ok {
				b.WriteString(mt.host)
				i += len(mt.target)
				continue
			}
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

func (m mapping) at(text string, i int) (mount, bool) {
	for _, mt := range m {
		end := i + len(mt.target)
		if strings.HasPrefix(text[i:], mt.target) && (end == len(text) || text[end] == '/' || !pathByte(text[end])) {
			return mt, true
		}
	}
	return mount{}, false
}

// pathByte reports whether c can be part of a path name.
func pathByte(c byte) bool {
	return c == '/' || c == '.' || c == '_' || c == '-' || c == '$' ||
		'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// copyTree copies src to dst (modes kept), owned by user (uid:gid).
func copyTree(src, dst, user string) error {
	uid, gid, err := ids(user)
	if err != nil {
		return err
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(p, to, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: not a file or directory", p)
		}
		return os.Chown(to, int(uid), int(gid))
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, mode); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
