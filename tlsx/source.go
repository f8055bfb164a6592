package tlsx

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"logsys/pki"
	"logsys/spiffeid"
)

// Default timings of a Source's watcher.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultDebounce     = 200 * time.Millisecond
)

// SourceConfig names the files of a Source and how it reloads them.
type SourceConfig struct {
	// Name identifies the source in logs and metrics (`source` label);
	// it must be unique per metrics registry.
	Name string
	// CertFile holds the leaf then its intermediate; KeyFile its PKCS#8 key.
	CertFile, KeyFile string
	// CAFile holds the environment's current intermediate (ca.pem). Only
	// intermediates become trust anchors; self-signed roots are ignored.
	CAFile string
	// BundleFile (optional) holds the intermediates during a rollover
	// (bundle.pem). It is read when present; its absence is normal.
	BundleFile string
	// CRLFile holds the environment's CRL(s): it must exist, every CRL in
	// it must be signed by an anchor, the current intermediate (CAFile)
	// must have signed one, and none may be stale (see CRLGrace).
	CRLFile string
	// PollInterval between content-hash checks besides file events;
	// DefaultPollInterval when zero.
	PollInterval time.Duration
	// Debounce coalesces bursts of file events; DefaultDebounce when zero.
	Debounce time.Duration
	// Logger for reload results; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics (optional) receives reload counts and exports expiry.
	Metrics *Metrics
	// CRLGrace is how long past its nextUpdate a CRL still counts
	// (DefaultCRLGrace when zero). Material with a CRL staler than that is
	// refused; once the loaded CRL gets that stale, every handshake is
	// refused and every tracked connection closed.
	CRLGrace time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// LayoutSource returns the SourceConfig of workload name in env of a
// directory in the `logsys pki` layout (pki.Layout): a PKI directory or a
// role's state directory.
func LayoutSource(dir, env, name string) SourceConfig {
	l := pki.Layout{Dir: dir}
	return SourceConfig{
		Name:       name,
		CertFile:   l.CertFile(env, name),
		KeyFile:    l.KeyFile(env, name),
		CAFile:     l.CACert(env),
		BundleFile: l.BundleFile(env),
		CRLFile:    l.CRLFile(env),
	}
}

// Source serves our certificate, the environment's trust anchors and its
// revoked serials, swapping them atomically when the files change (or new
// material is pushed with Update) and the new set validates as a whole.
type Source struct {
	cfg SourceConfig
	log *slog.Logger
	cur atomic.Pointer[material]
	// pushed is set for sources fed by Update instead of files.
	pushed bool

	mu          sync.Mutex // serializes reloads
	lastFailure [sha256.Size]byte
	// crlHigh holds, per CRL issuer, the CRL with the highest number
	// loaded so far: CRL numbers never go backwards.
	crlHigh map[string]crlList

	subMu      sync.Mutex
	subs       map[*tracker]struct{} // trackers re-checking live connections
	staleTimer *time.Timer           // notifies subs when the CRL gets stale
}

// NewSource loads and validates the files once; it fails when they are
// not a consistent, currently valid set.
func NewSource(cfg SourceConfig) (*Source, error) {
	if cfg.CertFile == "" || cfg.KeyFile == "" || cfg.CAFile == "" || cfg.CRLFile == "" {
		return nil, errors.New("tls source: cert, key, ca and crl files are required")
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(filepath.Dir(cfg.CertFile))
	}
	s := newSource(cfg, false)
	f, err := s.readFiles()
	if err == nil {
		err = s.init(f)
	}
	if err != nil {
		return nil, fmt.Errorf("tls source %s: %w", cfg.Name, err)
	}
	return s, nil
}

// newSource fills cfg's defaults.
func newSource(cfg SourceConfig, pushed bool) *Source {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = DefaultDebounce
	}
	if cfg.CRLGrace <= 0 {
		cfg.CRLGrace = DefaultCRLGrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	return &Source{cfg: cfg, pushed: pushed, log: lg.With("source", cfg.Name),
		crlHigh: map[string]crlList{}, subs: map[*tracker]struct{}{}}
}

// init validates the first material and registers the source's metrics.
func (s *Source) init(f PEM) error {
	m, err := s.build(f, s.now())
	if err != nil {
		return err
	}
	s.cur.Store(m)
	s.raiseCRLHigh(m)
	s.cfg.Metrics.addSource(s)
	s.armStaleTimer(m)
	return nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.cfg.Name }

func (s *Source) now() time.Time { return s.cfg.Now() }

// ID returns the identity in our current certificate.
func (s *Source) ID() spiffeid.ID { return s.cur.Load().id }

// Certificate returns our current certificate chain and key (Leaf set).
func (s *Source) Certificate() *tls.Certificate { return s.cur.Load().cert }

// Anchors returns the current trust anchors (the environment's
// intermediates). The pool must not be modified.
func (s *Source) Anchors() *x509.CertPool { return s.cur.Load().anchors }

// Revoked reports whether the current CRL lists c's serial.
func (s *Source) Revoked(c *x509.Certificate) bool {
	_, ok := s.cur.Load().revoked[serialKey(c.SerialNumber)]
	return ok
}

// Certificates describes the loaded leaf and anchors.
func (s *Source) Certificates() []CertInfo { return slices.Clone(s.cur.Load().infos) }

// ExpiresWithin reports whether a loaded certificate expires within d of
// the source's clock, and returns the one that expires first.
func (s *Source) ExpiresWithin(d time.Duration) (bool, CertInfo) {
	first, ok := soonest(s.cur.Load().infos)
	return ok && first.NotAfter.Sub(s.now()) < d, first
}

// Reload reads and validates the files now. On failure the current
// material stays in use, the reason is logged and returned, and the
// failure is counted. A source built with NewSourceFromPEM has no files:
// Reload returns an error and changes nothing.
func (s *Source) Reload() error {
	if s.pushed {
		return fmt.Errorf("tls source %s: no files to reload (material is pushed with Update)", s.cfg.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reloadLocked(true)
}

// reloadLocked swaps in the files' content if it validates. Unless force
// is set, content equal to the current material or to the last rejected
// content is skipped, so a rejected state is logged and counted once.
func (s *Source) reloadLocked(force bool) error {
	f, err := s.readFiles()
	key := f.hash()
	if err != nil {
		key = sha256.Sum256([]byte(err.Error()))
	}
	if !force && (key == s.cur.Load().hash || key == s.lastFailure) {
		return nil
	}
	if err == nil {
		err = s.swapLocked(f)
	} else {
		s.rejected(err)
	}
	if err != nil {
		s.lastFailure = key
		return fmt.Errorf("tls source %s: %w", s.cfg.Name, err)
	}
	s.lastFailure = [sha256.Size]byte{}
	return nil
}

// swapLocked validates f and makes it current; on failure the current
// material stays. Either way the outcome is counted, and a failure logged.
func (s *Source) swapLocked(f PEM) error {
	m, err := s.build(f, s.now())
	if err != nil {
		s.rejected(err)
		return err
	}
	s.cfg.Metrics.reloaded(s.cfg.Name, nil)
	old := s.cur.Swap(m)
	s.raiseCRLHigh(m)
	if old.hash != m.hash {
		leaf := m.cert.Leaf
		s.log.Info("tls material reloaded", "id", m.id.String(), "pushed", s.pushed,
			"serial", serialString(leaf.SerialNumber), "not_after", leaf.NotAfter,
			"anchors", len(m.anchorCerts), "revoked", len(m.revoked), "crl_stale_at", m.staleAt)
		s.armStaleTimer(m)
		// Live connections are re-checked against the new material before
		// the reload returns: a revoked peer is cut off within the reload.
		s.notify()
	}
	return nil
}

func (s *Source) rejected(err error) {
	s.cfg.Metrics.rejected(s.cfg.Name, rejectReason(err))
	s.log.Warn("tls reload rejected; keeping the previous certificate and trust bundle", "reason", string(rejectReason(err)), "err", err)
}

// raiseCRLHigh records m's CRLs as the highest numbers loaded.
func (s *Source) raiseCRLHigh(m *material) {
	for _, l := range m.crls {
		if h, ok := s.crlHigh[l.issuer]; !ok || l.number.Cmp(h.number) > 0 {
			s.crlHigh[l.issuer] = l
		}
	}
}
