package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"logsys/roles"
)

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
