package enroll

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestRenewalTime(t *testing.T) {
	const life = 90 * time.Minute
	tests := []struct {
		name             string
		fraction, jitter float64
		u                float64
		want             time.Duration // after NotBefore
	}{
		{"two thirds without jitter", 2.0 / 3, 0, 0.99, time.Hour},
		{"jitter draw 0 renews at two thirds", 2.0 / 3, 0.05, 0, time.Hour},
		{"largest draw renews a jitter earlier", 2.0 / 3, 0.05, 1, time.Hour - time.Duration(0.05*float64(life))},
		{"middle draw", 2.0 / 3, 0.1, 0.5, time.Hour - time.Duration(0.05*float64(life))},
		{"half", 0.5, 0, 0, 45 * time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := renewalTime(t0, t0.Add(life), tc.fraction, tc.jitter, tc.u).Sub(t0)
			if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
				t.Fatalf("renewal %v after NotBefore, want %v", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		name     string
		failures int
		min, max time.Duration
		life     time.Duration
		u        float64
		want     time.Duration
	}{
		{"first failure waits the minimum", 1, time.Second, time.Minute, 0, 0.5, time.Second},
		{"doubles per failure", 3, time.Second, time.Minute, 0, 0.5, 4 * time.Second},
		{"capped by the maximum", 10, time.Second, time.Minute, 0, 0.5, time.Minute},
		{"never overflows", 1 << 30, time.Hour, 24 * time.Hour, 0, 0.5, 24 * time.Hour},
		{"capped by a tenth of the lifetime", 10, time.Second, time.Hour, 5 * time.Minute, 0.5, 30 * time.Second},
		{"a tenth, but not below the floor", 10, time.Second, time.Hour, 100 * time.Millisecond, 0.5, minRetryCap},
		{"the floor also caps the minimum", 1, time.Second, time.Hour, time.Second, 0.5, minRetryCap},
		{"lowest draw is 20% shorter", 1, time.Second, time.Minute, 0, 0, 800 * time.Millisecond},
		{"highest draw is 20% longer", 1, time.Second, time.Minute, 0, 1, 1200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := backoff(tc.failures, tc.min, tc.max, tc.life, tc.u); got != tc.want {
				t.Fatalf("backoff = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	leaf := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(60 * time.Minute)} // a sixth is 10 minutes
	down := errors.New("connection refused")
	tests := []struct {
		name    string
		leaf    *x509.Certificate
		now     time.Time
		lastErr error
		want    string // "" for healthy
	}{
		{"no certificate", nil, t0, nil, "no certificate yet"},
		{"no certificate, ca down", nil, t0, down, "connection refused"},
		{"fresh", leaf, t0.Add(time.Minute), nil, ""},
		{"renewal failing, a sixth left", leaf, t0.Add(50 * time.Minute), down, ""},
		{"renewal failing, just under a sixth left", leaf, t0.Add(50*time.Minute + time.Nanosecond), down, "renewal failing"},
		{"renewal working, close to expiry", leaf, t0.Add(59 * time.Minute), nil, ""},
		{"expired at NotAfter", leaf, t0.Add(60 * time.Minute), nil, "expired"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := health(tc.now, tc.leaf, 3, tc.lastErr)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unhealthy: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("health = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
