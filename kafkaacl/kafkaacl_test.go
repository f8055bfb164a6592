package kafkaacl

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/spiffeid"
)

func TestPrincipal(t *testing.T) {
	id, err := spiffeid.Parse("spiffe://logsys.local/dev/producer")
	if err != nil {
		t.Fatal(err)
	}
	if got := Principal(id); got != "User:producer" {
		t.Fatalf("Principal(%s) = %q, want User:producer", id, got)
	}
}

// TestGrantsAreLiteralAndMinimal: no wildcard, no prefix, no admin
// operation for anyone, and only the pipeline principals.
func TestGrantsAreLiteralAndMinimal(t *testing.T) {
	admin := map[kmsg.ACLOperation]bool{
		kmsg.ACLOperationAll: true, kmsg.ACLOperationCreate: true, kmsg.ACLOperationDelete: true,
		kmsg.ACLOperationAlter: true, kmsg.ACLOperationAlterConfigs: true, kmsg.ACLOperationDescribeConfigs: true,
		kmsg.ACLOperationClusterAction: true,
	}
	for _, g := range Grants() {
		if g.Principal != PrincipalOf(Producer) && g.Principal != PrincipalOf(Consumer) && g.Principal != PrincipalOf(Operator) {
			t.Errorf("%s: principal outside the pipeline", g)
		}
		if g.Name == "" || g.Name == "*" || admin[g.Op] {
			t.Errorf("%s: wildcard or administrative grant", g)
		}
	}
	if n := len(For(PrincipalOf(Producer))) + len(For(PrincipalOf(Consumer))) + len(For(PrincipalOf(Operator))); n != len(Grants()) {
		t.Errorf("For splits %d grants into %d", len(Grants()), n)
	}
}
