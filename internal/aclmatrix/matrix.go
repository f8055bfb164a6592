// Package aclmatrix is the broker authorization matrix of the pipeline as
// data: one row per operation a pipeline identity might try on a broker,
// one column per identity, each cell allowed or refused. Run tries every
// cell against a broker with franz-go clients (kgo, kadm) presenting the
// identity's real certificate, and Check fails a test on any cell the
// broker gets wrong. roles' test runs it against the embedded broker of
// `logsys all`, it/'s against the real Apache Kafka: both brokers are held
// to the same table, and both tests print it.
//
// The matrix is the specification; kafkaacl.Grants is what the brokers
// are configured with. A grant too many or too few fails a cell.
package aclmatrix

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"logsys/kafkaacl"
)

// Identities are the columns: the pipeline identities with grants (the
// operator's are those of `logsys dlq`), and a legitimate certificate of
// the environment with none.
var Identities = []string{kafkaacl.Producer, kafkaacl.Consumer, kafkaacl.Operator, "client"}

// Op is one row: what is tried, and who may.
type Op struct {
	Name    string
	Allowed []string // identities allowed; every other one must be refused
	try     func(ctx context.Context, p *probe) error
}

// Ops are the rows.
var Ops = []Op{
	{"produce to " + kafkaacl.TopicEvents, []string{kafkaacl.Producer, kafkaacl.Operator}, produceTo(kafkaacl.TopicEvents)},
	{"produce to " + kafkaacl.TopicDLQ, []string{kafkaacl.Consumer}, produceTo(kafkaacl.TopicDLQ)},
	{"init idempotent producer id", []string{kafkaacl.Producer, kafkaacl.Consumer, kafkaacl.Operator}, initProducerID(false)},
	{"init transactional producer id", nil, initProducerID(true)},
	{"describe topic " + kafkaacl.TopicEvents, []string{kafkaacl.Producer, kafkaacl.Consumer, kafkaacl.Operator}, describeTopic(kafkaacl.TopicEvents)},
	{"describe topic " + kafkaacl.TopicDLQ, []string{kafkaacl.Consumer, kafkaacl.Operator}, describeTopic(kafkaacl.TopicDLQ)},
	{"fetch " + kafkaacl.TopicEvents, []string{kafkaacl.Consumer}, fetchFrom(kafkaacl.TopicEvents)},
	{"fetch " + kafkaacl.TopicDLQ, []string{kafkaacl.Operator}, fetchFrom(kafkaacl.TopicDLQ)},
	{"join group " + kafkaacl.Group, []string{kafkaacl.Consumer}, joinGroup(func(*probe) string { return kafkaacl.Group })},
	{"commit offsets in " + kafkaacl.Group, []string{kafkaacl.Consumer}, commitOffsets},
	{"fetch offsets of " + kafkaacl.Group, []string{kafkaacl.Consumer}, fetchOffsets},
	{"describe group " + kafkaacl.Group, []string{kafkaacl.Consumer}, describeGroup},
	{"see " + kafkaacl.Group + " in list groups", []string{kafkaacl.Consumer}, listGroups},
	{"join another group", nil, joinGroup(func(p *probe) string { return p.scratch })},
	{"delete group " + kafkaacl.Group, nil, deleteGroup},
	{"create topic", nil, createTopic},
	{"delete topic " + kafkaacl.TopicEvents, nil, deleteTopic},
	{"add partitions to " + kafkaacl.TopicEvents + " (validate only)", nil, addPartitions},
	{"delete records of " + kafkaacl.TopicEvents + " (before offset 0)", nil, deleteRecords},
	{"describe configs of " + kafkaacl.TopicEvents, nil, describeConfigs},
	{"alter configs of " + kafkaacl.TopicEvents + " (validate only)", nil, alterTopicConfigs},
	{"alter broker configs (validate only)", nil, alterBrokerConfigs},
	{"describe acls", nil, describeACLs},
	{"create acl (grant itself all on " + kafkaacl.TopicEvents + ")", nil, createACL},
}

// DialFunc dials a broker with mutual TLS as one identity.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Target is the broker under test.
type Target struct {
	Name  string   // printed above the matrix
	Seeds []string // bootstrap addresses
	// Dial returns the product's mutual-TLS dialer of an identity.
	Dial func(identity string) (DialFunc, error)
}

// Outcome is what a broker did with one cell.
type Outcome string

// The outcomes.
const (
	Allowed   Outcome = "allow"
	Denied    Outcome = "deny"      // an authorization error
	DeniedTLS Outcome = "deny(tls)" // the connection itself was refused
	Failed    Outcome = "error"     // inconclusive: neither allowed nor refused
)

// Result is one cell.
type Result struct {
	Op, Identity string
	Want         bool // allowed by the matrix
	Got          Outcome
	Detail       string // the broker's error, if any
}

// OK reports whether the broker did what the matrix says.
func (r Result) OK() bool {
	if r.Want {
		return r.Got == Allowed
	}
	return r.Got == Denied || r.Got == DeniedTLS
}

// Format prints results as the matrix: rows are operations, columns
// identities; a cell the broker got wrong is marked with "!".
func Format(target string, rs []Result) string {
	width := len("operation")
	for _, op := range Ops {
		width = max(width, len(op.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "broker authorization matrix: %s\n", target)
	fmt.Fprintf(&b, "%-*s", width, "operation")
	for _, id := range Identities {
		fmt.Fprintf(&b, "  %-11s", id)
	}
	b.WriteString("\n")
	var notes []string
	for _, op := range Ops {
		fmt.Fprintf(&b, "%-*s", width, op.Name)
		for _, id := range Identities {
			i := slices.IndexFunc(rs, func(r Result) bool { return r.Op == op.Name && r.Identity == id })
			cell := "-"
			if i >= 0 {
				cell = string(rs[i].Got)
				if !rs[i].OK() {
					cell += "!"
				}
				if rs[i].Detail != "" && (!rs[i].OK() || rs[i].Got == Allowed) {
					notes = append(notes, fmt.Sprintf("  %s / %s: %s", op.Name, id, rs[i].Detail))
				}
			}
			fmt.Fprintf(&b, "  %-11s", cell)
		}
		b.WriteString("\n")
	}
	if len(notes) > 0 {
		b.WriteString("notes (allowed with a non-authorization answer, or wrong):\n")
		b.WriteString(strings.Join(notes, "\n"))
		b.WriteString("\n")
	}
	return b.String()
}
