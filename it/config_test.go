package it

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/kafkaacl"
)

// TestClusterFromEnv runs without Kafka: it reads what it/kafka.sh prints.
func TestClusterFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantOK  bool
		wantErr bool
		want    Cluster
	}{
		{"unset", map[string]string{}, false, false, Cluster{}},
		{"brokers without pki", map[string]string{EnvBrokers: "127.0.0.1:19093"}, true, true, Cluster{}},
		{"defaults", map[string]string{EnvBrokers: "127.0.0.1:19093", EnvPKI: "/p"}, true, false,
			Cluster{Brokers: []string{"127.0.0.1:19093"}, PKI: "/p", Env: "dev", Nodes: 1}},
		{"three nodes", map[string]string{EnvBrokers: "a:1,b:2,c:3", EnvPKI: "/p", EnvEnv: "staging", EnvNodes: "3", EnvCtl: "/k.sh"}, true, false,
			Cluster{Brokers: []string{"a:1", "b:2", "c:3"}, PKI: "/p", Env: "staging", Nodes: 3, Ctl: "/k.sh"}},
		{"bad node count", map[string]string{EnvBrokers: "a:1", EnvPKI: "/p", EnvNodes: "three"}, true, true, Cluster{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{EnvBrokers, EnvPKI, EnvEnv, EnvNodes, EnvCtl} {
				t.Setenv(k, tt.env[k])
			}
			c, ok, err := ClusterFromEnv()
			if ok != tt.wantOK || (err != nil) != tt.wantErr {
				t.Fatalf("ok=%v err=%v, want ok=%v err=%v", ok, err, tt.wantOK, tt.wantErr)
			}
			if err != nil || !ok {
				return
			}
			if strings.Join(c.Brokers, ",") != strings.Join(tt.want.Brokers, ",") || c.PKI != tt.want.PKI ||
				c.Env != tt.want.Env || c.Nodes != tt.want.Nodes || c.Ctl != tt.want.Ctl {
				t.Fatalf("got %+v, want %+v", c, tt.want)
			}
		})
	}
}

// TestBrokerConfigSecurity pins the security settings of the broker's one
// configuration file (used by compose.yaml and it/kafka.sh alike).
func TestBrokerConfigSecurity(t *testing.T) {
	f, err := os.Open("../deploy/kafka/server.properties")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	props := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("not a property: %q", line)
		}
		if _, dup := props[k]; dup {
			t.Fatalf("%s set twice", k)
		}
		props[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"listener.security.protocol.map":        "CLIENT:SSL,INTERNAL:SSL,CONTROLLER:SSL",
		"ssl.client.auth":                       "required",
		"listener.name.client.ssl.client.auth":  "required",
		"ssl.endpoint.identification.algorithm": "https",
		"ssl.enabled.protocols":                 "TLSv1.3",
		"ssl.truststore.type":                   "PEM",
		"ssl.truststore.location":               "/etc/kafka/secrets/ca.pem", // the intermediate alone: env isolation
		"authorizer.class.name":                 "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"allow.everyone.if.no.acl.found":        "false",
		"super.users":                           "User:" + Broker,
		"auto.create.topics.enable":             "false",
	}
	for k, v := range want {
		if props[k] != v {
			t.Errorf("%s = %q, want %q", k, props[k], v)
		}
	}
	if rules := props["ssl.principal.mapping.rules"]; strings.Contains(rules, "DEFAULT") || !strings.Contains(rules, "O=logsys$") {
		t.Errorf("ssl.principal.mapping.rules = %q: want an anchored rule for O=logsys and no DEFAULT fallback", rules)
	}
}

// TestComposeGrants: compose.yaml's kafka-init job creates exactly
// kafkaacl.Grants (the grants it/ creates and the embedded broker
// enforces), so the three brokers of the project share one rule set.
func TestComposeGrants(t *testing.T) {
	b, err := os.ReadFile("../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "acl" || !strings.HasPrefix(f[1], "User:") {
			continue
		}
		principal, args := f[1], f[2:]
		var ops []kmsg.ACLOperation
		var rt kmsg.ACLResourceType
		var name string
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "--operation":
				i++
				op, err := kmsg.ParseACLOperation(args[i])
				if err != nil {
					t.Fatalf("compose.yaml: %q: %v", line, err)
				}
				ops = append(ops, op)
			case "--topic", "--group":
				rt, name = kmsg.ACLResourceTypeTopic, args[i+1]
				if args[i] == "--group" {
					rt = kmsg.ACLResourceTypeGroup
				}
				i++
			case "--cluster":
				rt, name = kmsg.ACLResourceTypeCluster, kafkaacl.ClusterName
			default:
				t.Fatalf("compose.yaml: %q: unknown argument %q", line, args[i])
			}
		}
		for _, op := range ops {
			got = append(got, kafkaacl.Grant{Principal: principal, Resource: rt, Name: name, Op: op}.String())
		}
	}
	var want []string
	for _, g := range kafkaacl.Grants() {
		want = append(want, g.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("compose.yaml kafka-init grants:\n  %s\nkafkaacl.Grants:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
