package aclmatrix

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// TestDocumentedMatrix: the matrix in docs/security.md is this package's
// table, row for row.
func TestDocumentedMatrix(t *testing.T) {
	doc, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	header := "| operation | " + strings.Join(Identities, " | ") + " |"
	_, table, ok := strings.Cut(string(doc), header+"\n|---|")
	if !ok {
		t.Fatalf("docs/security.md has no matrix with the header %q", header)
	}
	var got []string
	for _, line := range strings.Split(table, "\n")[1:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		got = append(got, line)
	}
	var want []string
	for _, op := range Ops {
		cells := []string{op.Name}
		for _, id := range Identities {
			cell := "deny"
			if slices.Contains(op.Allowed, id) {
				cell = "allow"
			}
			cells = append(cells, cell)
		}
		want = append(want, "| "+strings.Join(cells, " | ")+" |")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("docs/security.md's matrix:\n%s\nwant (from Ops):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestOutcomeOK(t *testing.T) {
	tests := []struct {
		want bool
		got  Outcome
		ok   bool
	}{
		{true, Allowed, true}, {true, Denied, false}, {true, DeniedTLS, false}, {true, Failed, false},
		{false, Allowed, false}, {false, Denied, true}, {false, DeniedTLS, true}, {false, Failed, false},
	}
	for _, tt := range tests {
		if ok := (Result{Want: tt.want, Got: tt.got}).OK(); ok != tt.ok {
			t.Errorf("want allowed %v, got %s: OK() = %v", tt.want, tt.got, ok)
		}
	}
}
