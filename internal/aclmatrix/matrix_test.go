package aclmatrix

import "testing"

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
