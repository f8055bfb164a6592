package pki

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"logsys/spiffeid"
)

// Meta is the content of DIR/pki.json: what init recorded so later
// commands need no flags for it.
type Meta struct {
	Version     int      `json:"version"`
	TrustDomain string   `json:"trust_domain"`
	KeyType     KeyType  `json:"key_type"`
	LeafTTL     string   `json:"leaf_ttl"`
	Envs        []string `json:"envs"`
	Names       []string `json:"names"`
	Hosts       []string `json:"hosts,omitempty"`
}

// ReadMeta reads DIR/pki.json.
func ReadMeta(dir string) (Meta, error) {
	path := Layout{Dir: dir}.MetaFile()
	data, err := os.ReadFile(path)
	if err != nil {
		return Meta{}, fmt.Errorf("read pki metadata (run pki init first?): %w", err)
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return Meta{}, fileErrf(path, ErrMalformed, "%v", err)
	}
	if err := spiffeid.ValidateTrustDomain(m.TrustDomain); err != nil {
		return Meta{}, fileErr(path, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	if _, err := ParseKeyType(string(m.KeyType)); err != nil {
		return Meta{}, fileErr(path, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return m, nil
}

func (m Meta) leafTTL() time.Duration {
	if d, err := time.ParseDuration(m.LeafTTL); err == nil && d >= MinLeafTTL {
		return d
	}
	return DefaultLeafTTL
}

func metaBytes(m Meta) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode pki metadata: %w", err)
	}
	return append(data, '\n'), nil
}
