// Package kafkaacl owns the pipeline's authorization on Kafka: the names
// of its topics and group, how a verified peer becomes a Kafka principal,
// and the grants (principal x resource x operation) that say who may do
// what. Everything not granted is denied.
//
// Both brokers enforce exactly these grants: the embedded broker of
// `logsys all` (roles) seeds and reconciles them at start, and the real
// Apache Kafka gets them from it/ (and from compose.yaml's kafka-init job,
// which a test compares with Grants). internal/aclmatrix states the
// resulting allow/deny matrix and tests both brokers against it.
package kafkaacl

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/spiffeid"
)

// The pipeline's resources and identities.
const (
	TopicEvents = "log-events"
	TopicDLQ    = "log-events.dlq"
	Group       = "log-consumer-group"

	Producer = "producer"
	Consumer = "consumer"
	// Operator reads the dead letters and replays them (`logsys dlq`).
	Operator = "operator"
	// SuperUser is the brokers' own identity. Real Kafka lists it in
	// super.users; the embedded broker never admits it over the network
	// and uses it only for its in-process ACL reconciliation.
	SuperUser = "kafka"

	// ClusterName is the resource name of cluster-level ACLs.
	ClusterName = "kafka-cluster"
)

// Principal is the Kafka principal of a logsys identity: "User:<name>".
// Real Kafka derives it from the certificate subject
// (CN=<name>,OU=<env>,O=logsys, see deploy/kafka/server.properties); the
// embedded broker from the verified URI SAN. Both give the same name
// because every logsys leaf carries it in both places.
func Principal(id spiffeid.ID) string { return PrincipalOf(id.Name) }

// PrincipalOf is Principal for a bare workload name.
func PrincipalOf(name string) string { return "User:" + name }

// Grant allows one principal one operation on one literal resource, from
// any host.
type Grant struct {
	Principal string
	Resource  kmsg.ACLResourceType
	Name      string
	Op        kmsg.ACLOperation
}

func (g Grant) String() string {
	return fmt.Sprintf("%s %s %s:%s", g.Principal, g.Op, g.Resource, g.Name)
}

// Grants returns every allowed (principal, resource, operation): the
// producer writes events; the consumer reads them in its group and writes
// dead letters; the operator reads the dead letters (without a group) and
// replays them to the events topic. Nothing grants Create, Delete, Alter, AlterConfigs,
// DescribeConfigs or ClusterAction to anyone: topics exist because the
// operator (or the embedded broker at start) created them.
func Grants() []Grant {
	var gs []Grant
	add := func(name string, rt kmsg.ACLResourceType, res string, ops ...kmsg.ACLOperation) {
		for _, op := range ops {
			gs = append(gs, Grant{Principal: PrincipalOf(name), Resource: rt, Name: res, Op: op})
		}
	}
	const (
		topic   = kmsg.ACLResourceTypeTopic
		group   = kmsg.ACLResourceTypeGroup
		cluster = kmsg.ACLResourceTypeCluster
	)
	add(Producer, topic, TopicEvents, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	add(Producer, cluster, ClusterName, kmsg.ACLOperationIdempotentWrite)
	add(Consumer, topic, TopicEvents, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)
	add(Consumer, group, Group, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)
	add(Consumer, topic, TopicDLQ, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	add(Consumer, cluster, ClusterName, kmsg.ACLOperationIdempotentWrite)
	add(Operator, topic, TopicDLQ, kmsg.ACLOperationRead, kmsg.ACLOperationDescribe)
	add(Operator, topic, TopicEvents, kmsg.ACLOperationWrite, kmsg.ACLOperationDescribe)
	add(Operator, cluster, ClusterName, kmsg.ACLOperationIdempotentWrite)
	return gs
}

// For returns the grants of one principal.
func For(principal string) []Grant {
	return slices.DeleteFunc(Grants(), func(g Grant) bool { return g.Principal != principal })
}
