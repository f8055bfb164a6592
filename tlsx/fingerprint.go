package tlsx

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
)

// AnchorFingerprints returns the SHA-256 of the DER of each trust anchor
// in use (the environment's intermediates), in lowercase hex and sorted:
// what a role enrolled with `logsys ca` reports it trusts.
func (s *Source) AnchorFingerprints() []string {
	m := s.cur.Load()
	out := make([]string, 0, len(m.anchorCerts))
	for _, a := range m.anchorCerts {
		sum := sha256.Sum256(a.Raw)
		out = append(out, hex.EncodeToString(sum[:]))
	}
	slices.Sort(out)
	return slices.Compact(out)
}
