package roles

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/internal/aclmatrix"
	"logsys/internal/testutil"
	"logsys/kafkaacl"
)

// startBroker runs an embedded broker on a free port over dataDir.
func startBroker(t *testing.T, pkiDir, dataDir string, log *slog.Logger) *Broker {
	t.Helper()
	bc := DefaultBrokerConfig()
	bc.Identity, bc.Port, bc.DataDir, bc.Logger = fastIdentity(pkiDir, "kafka"), 0, dataDir, log
	b, err := NewBroker(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// brokerTarget is the embedded broker as the matrix sees it: each
// identity dials with the product's mutual-TLS dialer and its real
// certificate.
func brokerTarget(pkiDir string, b *Broker) aclmatrix.Target {
	return aclmatrix.Target{
		Name: "embedded broker (kfake, logsys all)", Seeds: b.Addrs(),
		Dial: func(id string) (aclmatrix.DialFunc, error) {
			ts, err := newTLS(context.Background(), fastIdentity(pkiDir, id), nil, quietLogger())
			if err != nil {
				return nil, err
			}
			d, err := ts.dialer(id+"->kafka", "kafka")
			if err != nil {
				return nil, err
			}
			return d, nil
		},
	}
}

// superClient is the operator: the broker's in-process super user, the
// only one who may, say, read the dead letters.
func superClient(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(b.Addrs()...),
		kgo.Dialer(func(ctx context.Context, _, _ string) (net.Conn, error) { return b.ln.dialInternal(ctx) }),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// brokerACLs lists the broker's ACLs as grants, sorted.
func brokerACLs(t *testing.T, b *Broker) []string {
	t.Helper()
	req := kmsg.NewPtrDescribeACLsRequest()
	req.ResourceType, req.ResourcePatternType = kmsg.ACLResourceTypeAny, kmsg.ACLResourcePatternTypeAny
	req.Operation, req.PermissionType = kmsg.ACLOperationAny, kmsg.ACLPermissionTypeAny
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, superClient(t, b))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("describe acls: %v (code %d)", err, resp.ErrorCode)
	}
	var got []string
	for _, r := range resp.Resources {
		for _, a := range r.ACLs {
			g := kafkaacl.Grant{Principal: a.Principal, Resource: r.ResourceType, Name: r.ResourceName, Op: a.Operation}
			got = append(got, g.String()+" "+a.PermissionType.String()+" host="+a.Host+" "+r.ResourcePatternType.String())
		}
	}
	slices.Sort(got)
	return got
}

func wantACLs() []string {
	var want []string
	for _, g := range kafkaacl.Grants() {
		want = append(want, g.String()+" ALLOW host=* LITERAL")
	}
	slices.Sort(want)
	return want
}

// TestBrokerACLMatrix: the embedded broker allows and refuses exactly what
// the matrix says (the same matrix it/ holds the real Kafka to), and every
// refusal of a connected identity is logged and counted.
func TestBrokerACLMatrix(t *testing.T) {
	t.Parallel()
	pkiDir := testPKI(t)
	logs := &lockedBuffer{}
	b := startBroker(t, pkiDir, filepath.Join(t.TempDir(), "kafka"), slog.New(slog.NewTextHandler(logs, nil)))
	defer b.Close()
	rs := aclmatrix.Check(t, brokerTarget(pkiDir, b))

	reg := prometheus.NewRegistry()
	reg.MustRegister(b.Collector())
	for _, id := range aclmatrix.Identities {
		var refused int
		for _, r := range rs {
			if r.Identity == id && r.Got == aclmatrix.Denied && !strings.Contains(r.Detail, "left out") {
				refused++
			}
		}
		got := testutil.MetricValue(t, reg, "logsys_broker_authorization_denied_total", map[string]string{"principal": "User:" + id})
		t.Logf("%s: %d refused cells, logsys_broker_authorization_denied_total = %v", id, refused, got)
		if got < float64(refused) {
			t.Errorf("%s: %d refused cells but only %v counted refusals", id, refused, got)
		}
	}
	for _, want := range []string{
		// A group is looked up before it is joined: the lookup is refused.
		`msg="broker refused a request for authorization" role=broker principal=User:producer request=FindCoordinator resource_type=group resource=log-consumer-group error=GROUP_AUTHORIZATION_FAILED`,
		`principal=User:producer request=Fetch resource_type=topic resource=log-events error=TOPIC_AUTHORIZATION_FAILED`,
		`principal=User:consumer request=Produce resource_type=topic resource=log-events error=TOPIC_AUTHORIZATION_FAILED`,
		`principal=User:consumer request=DeleteTopics resource_type=topic resource=log-events error=TOPIC_AUTHORIZATION_FAILED`,
		`principal=User:consumer request=CreateACLs resource_type=cluster resource=kafka-cluster error=CLUSTER_AUTHORIZATION_FAILED`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no warning containing %q in the broker's log:\n%s", want, logs.String())
		}
	}
}

// TestBrokerACLsReconciled: whatever ACLs a data directory holds (none,
// from a broker without authorization, or an extra grant planted there),
// the broker starts with exactly kafkaacl.Grants, and its SASL users
// (with the per-process secret) are never left on disk.
func TestBrokerACLsReconciled(t *testing.T) {
	t.Parallel()
	pkiDir := testPKI(t)
	dataDir := filepath.Join(t.TempDir(), "kafka")

	// A data directory written by a broker without ACLs.
	old, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dataDir), kfake.SeedTopics(3, kafkaacl.TopicEvents, kafkaacl.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	old.Close()

	b := startBroker(t, pkiDir, dataDir, quietLogger())
	if got, want := brokerACLs(t, b), wantACLs(); !slices.Equal(got, want) {
		t.Fatalf("acls over an old data dir:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Plant a grant that lets the producer read the events.
	c := kmsg.NewCreateACLsRequestCreation()
	c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, kafkaacl.TopicEvents, kmsg.ACLResourcePatternTypeLiteral
	c.Principal, c.Host, c.Operation, c.PermissionType = "User:producer", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = append(req.Creations, c)
	if resp, err := req.RequestWith(context.Background(), superClient(t, b)); err != nil || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("plant acl: %v %+v", err, resp)
	}
	if got := brokerACLs(t, b); len(got) != len(wantACLs())+1 {
		t.Fatalf("planted acl missing: %v", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "sasl.json")); !os.IsNotExist(err) {
		t.Fatalf("sasl.json left in the data dir after close: %v", err)
	}

	b = startBroker(t, pkiDir, dataDir, quietLogger())
	defer b.Close()
	if _, err := os.Stat(filepath.Join(dataDir, "sasl.json")); !os.IsNotExist(err) {
		t.Fatalf("sasl.json in the data dir while running: %v", err)
	}
	if got, want := brokerACLs(t, b), wantACLs(); !slices.Equal(got, want) {
		t.Fatalf("acls after restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	aclmatrix.Check(t, brokerTarget(pkiDir, b))
}
