package ca

import (
	"testing"

	"logsys/ca/wire"
)

// The name the server reserves and serves under is the one clients demand.
func TestCANameIsTheWireName(t *testing.T) {
	if CAName != wire.CAName {
		t.Fatalf("ca.CAName %q differs from wire.CAName %q", CAName, wire.CAName)
	}
}
