package it

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestComposeMapping runs without services: the path rewrite, the image
// read from the Dockerfile and the classification of compose's services.
func TestComposeMapping(t *testing.T) {
	var m mapping
	m.add("/pki", "/h/pki")
	m.add("/prometheus", "/h/data")
	m.add("/etc/prometheus/tls", "/h/tls")
	m.add("/etc/prometheus/prometheus.yml", "/h/etc/prometheus.yml")
	for in, want := range map[string]string{
		"/pki":                          "/h/pki",
		"/pki/dev/ca-chain.pem":         "/h/pki/dev/ca-chain.pem",
		"--pki-dir=/pki":                "--pki-dir=/h/pki",
		"a=/pki/x&b=/pki/y":             "a=/h/pki/x&b=/h/pki/y",
		`install "/pki/$f" /pki`:        `install "/h/pki/$f" /h/pki`,
		"/pkix /pki.bak $src/pki x/pki": "/pkix /pki.bak $src/pki x/pki",
		"--config.file=/etc/prometheus/prometheus.yml": "--config.file=/h/etc/prometheus.yml",
		"--storage.tsdb.path=/prometheus":              "--storage.tsdb.path=/h/data",
		"ca_file: /etc/prometheus/tls/ca.pem":          "ca_file: /h/tls/ca.pem",
		"/etc/prometheus/alerts.yml":                   "/etc/prometheus/alerts.yml",
		"https://producer:8081":                        "https://producer:8081",
	} {
		if got := m.rewrite(in); got != want {
			t.Errorf("rewrite(%q) = %q, want %q", in, got, want)
		}
	}

	img, err := readDockerfile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if img.User != "65532:65532" || img.Workdir != "/data" || !slices.Equal(img.Entrypoint, []string{"/usr/local/bin/logsys"}) ||
		!slices.Contains(img.Owned, "/pki") {
		t.Errorf("Dockerfile's image: %+v", img)
	}
	c, err := readCompose("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := readHosts(composeHostsFile)
	if err != nil {
		t.Fatal(err)
	}
	addrs := map[string]bool{}
	for name, addr := range hosts {
		if addrs[addr] {
			t.Errorf("%s: %s shares its address", composeHostsFile, name)
		}
		addrs[addr] = true
	}
	for name, s := range c.Services {
		_, provided := composeProvided[name]
		_, skipped := composeNotRun[name]
		switch {
		case provided || skipped:
		case s.Image == logsysImageName, len(s.Entrypoint) > 0, strings.HasPrefix(s.Image, "prom/prometheus:"):
		default:
			t.Errorf("compose service %s (%s): say how it runs here or what provides it", name, s.Image)
		}
		if _, ok := hosts[name]; !ok && s.Hostname != "" && !skipped {
			t.Errorf("compose service %s has no address in %s", name, filepath.Join("it", composeHostsFile))
		}
	}
	for name := range composeProvided {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("%s is no longer a compose service", name)
		}
	}
}
