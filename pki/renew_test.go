package pki

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestNeedsRenewal(t *testing.T) {
	c := &x509.Certificate{NotBefore: t0, NotAfter: t0.Add(30 * time.Hour)}
	tests := []struct {
		name     string
		now      time.Time
		fraction float64
		want     bool
	}{
		{"before validity", t0.Add(-time.Second), RenewFraction, true},
		{"at start", t0, RenewFraction, false},
		{"just before two thirds", t0.Add(20*time.Hour - time.Nanosecond), RenewFraction, false},
		{"at two thirds", t0.Add(20 * time.Hour), RenewFraction, true},
		{"just before expiry, fraction 1", t0.Add(30*time.Hour - time.Nanosecond), 1, false},
		{"at expiry", t0.Add(30 * time.Hour), 1, true},
		{"after expiry", t0.Add(31 * time.Hour), RenewFraction, true},
		{"fraction zero", t0, 0, true},
		{"half", t0.Add(15 * time.Hour), 0.5, true},
		{"before half", t0.Add(15*time.Hour - time.Second), 0.5, false},
	}
	for _, tt := range tests {
		if got := NeedsRenewal(c, tt.now, tt.fraction); got != tt.want {
			t.Errorf("%s: NeedsRenewal = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCRLNeedsResign(t *testing.T) {
	crl := &x509.RevocationList{ThisUpdate: t0, NextUpdate: t0.Add(CRLLifetime)}
	tests := []struct {
		now  time.Time
		want bool
	}{
		{t0, false},
		{t0.Add(CRLLifetime/2 - time.Second), false},
		{t0.Add(CRLLifetime / 2), true},
		{t0.Add(CRLLifetime), true},
		{t0.Add(-time.Minute), true},
	}
	for _, tt := range tests {
		if got := crlNeedsResign(crl, tt.now); got != tt.want {
			t.Errorf("crlNeedsResign at %v = %v, want %v", tt.now, got, tt.want)
		}
	}
}
