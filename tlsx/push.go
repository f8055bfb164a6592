package tlsx

import (
	"errors"
	"fmt"
)

// NewSourceFromPEM returns a Source whose material lives in memory and is
// replaced only through Update: nothing is read from disk and nothing is
// watched, so a process that obtains its certificates itself (from
// `logsys ca`) hands them over without a file round trip. cfg names the
// source and gives its logger, metrics and clock; its file fields must be
// empty. p must validate as a whole, as files would, and must hold a CRL.
func NewSourceFromPEM(cfg SourceConfig, p PEM) (*Source, error) {
	if cfg.Name == "" {
		return nil, errors.New("tls source: a name is required for pushed material")
	}
	if cfg.CertFile != "" || cfg.KeyFile != "" || cfg.CAFile != "" || cfg.BundleFile != "" || cfg.CRLFile != "" {
		return nil, fmt.Errorf("tls source %s: files are set; pushed material comes from Update only", cfg.Name)
	}
	s := newSource(cfg, true)
	if err := s.init(p); err != nil {
		return nil, fmt.Errorf("tls source %s: %w", cfg.Name, err)
	}
	return s, nil
}

// Update validates p as a whole, with the same checks as a file reload
// (key matches the leaf, SPIFFE ID, validity, chain to the intermediates
// of p, CRLs signed by them), and swaps it in atomically; the next
// handshake uses it. On failure the current material stays in use, the
// reason is logged, counted (logsys_tls_reloads_total{result="failure"})
// and returned. Material equal to the current one is accepted without a
// swap. On a file-backed source the next change of its files replaces
// pushed material again.
func (s *Source) Update(p PEM) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p.hash() == s.cur.Load().hash {
		return nil
	}
	if err := s.swapLocked(p); err != nil {
		return fmt.Errorf("tls source %s: %w", s.cfg.Name, err)
	}
	return nil
}
