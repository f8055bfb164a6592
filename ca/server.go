package ca

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/spiffeid"
	"logsys/tlsx"
)

// Server defaults.
const (
	DefaultAddr         = ":8443"
	DefaultPublishDelay = 15 * time.Minute
	DefaultPollInterval = 5 * time.Second
)

// DefaultAdmins are the names that may read the rollover status: the
// operator's client certificate of `logsys pki init`.
var DefaultAdmins = []string{"operator"}

// Leaf lifetimes of certificates signed by the Server.
const (
	DefaultLeafTTL = time.Hour
	// MinLeafTTL is lower than pki.MinLeafTTL on purpose: an online CA
	// renews automatically, so minutes (seconds in tests) are workable.
	MinLeafTTL = 5 * time.Second
)

// CAName is the reserved workload name of the CA's own serving
// certificate; no token or renewal can obtain it, and pki.SignLeaf
// refuses it (only pki.Issuer.SignCAServer issues it).
const CAName = spiffeid.CAName

// Config configures a Server: one environment of one PKI directory.
type Config struct {
	// Dir is the `logsys pki init` directory; Env the environment whose
	// intermediate key signs.
	Dir string `mapstructure:"pki_dir"`
	Env string `mapstructure:"env"`
	// Addr is the HTTPS listen address used by Run.
	Addr string `mapstructure:"addr"`
	// LeafTTL is the lifetime of issued certificates (MinLeafTTL at least).
	LeafTTL time.Duration `mapstructure:"leaf_ttl"`
	// PublishDelay is the least time a new intermediate (ca.pem replaced
	// by `logsys pki rotate --intermediate`) is published in the trust
	// bundle before it may sign, counted from when this CA first served
	// it: the time trust consumers the CA does not see (roles that read
	// the pki files, copies of ca-chain.pem) have to pick it up. The
	// activation also waits until every member reports it (see
	// PlanRollover). DefaultConfig sets DefaultPublishDelay.
	PublishDelay time.Duration `mapstructure:"publish_delay"`
	// RolloverMaxWait, when positive, activates the next intermediate
	// that long after it was published even if some member has not
	// reported it: the CA logs the members that had not and counts it in
	// logsys_ca_rollover_forced_total. Zero (the default) waits for
	// every member: activating without one splits the environment, the
	// member refusing every peer with a new certificate. A member that is
	// gone stops counting when its certificate expires.
	RolloverMaxWait time.Duration `mapstructure:"rollover_max_wait"`
	// Admins are the workload names of the environment whose client
	// certificates may read the rollover status (GET /v1/status, `logsys
	// ca status`).
	Admins []string `mapstructure:"admins"`
	// Hosts are extra SANs (DNS names or IPs) of the CA's own certificate,
	// so roles can reach it by those names.
	Hosts []string `mapstructure:"hosts"`
	// PollInterval between re-reads of the PKI directory; each also
	// re-signs the environment's CRLs that are at half their life.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// CRLGrace is how long past its nextUpdate a CRL still counts
	// (tlsx.DefaultCRLGrace when zero): a staler one is never loaded, and
	// renewals are refused while no valid CRL is.
	CRLGrace time.Duration `mapstructure:"crl_grace"`
	// MetricsAddr, when set, makes Serve also answer GET /metrics over
	// plain HTTP on this address.
	MetricsAddr string       `mapstructure:"metrics_addr"`
	Logger      *slog.Logger `mapstructure:"-"`
	// Registerer receives logsys_ca_* metrics (optional).
	Registerer prometheus.Registerer `mapstructure:"-"`
	// TLSMetrics receives handshake metrics of the listener (optional).
	TLSMetrics *tlsx.Metrics    `mapstructure:"-"`
	Now        func() time.Time `mapstructure:"-"`
}

// DefaultConfig returns the defaults of every field but Dir and Env.
func DefaultConfig() Config {
	return Config{Addr: DefaultAddr, LeafTTL: DefaultLeafTTL, PublishDelay: DefaultPublishDelay, PollInterval: DefaultPollInterval,
		Admins: slices.Clone(DefaultAdmins)}
}

// Validate fills zero durations and the address with defaults (except
// PublishDelay, where zero means no delay) and checks the rest.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("pki_dir: is required")
	}
	if c.Env == "" {
		return errors.New("env: is required")
	}
	if err := spiffeid.ValidateEnv(c.Env); err != nil {
		return fmt.Errorf("env: %w", err)
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.LeafTTL == 0 {
		c.LeafTTL = DefaultLeafTTL
	}
	if c.LeafTTL < MinLeafTTL {
		return fmt.Errorf("leaf_ttl: %v is below the minimum %v", c.LeafTTL, MinLeafTTL)
	}
	if c.PublishDelay < 0 {
		return fmt.Errorf("publish_delay: negative %v", c.PublishDelay)
	}
	switch {
	case c.RolloverMaxWait < 0:
		return fmt.Errorf("rollover_max_wait: negative %v", c.RolloverMaxWait)
	case c.RolloverMaxWait > 0 && c.RolloverMaxWait < c.PublishDelay:
		return fmt.Errorf("rollover_max_wait: %v is shorter than publish_delay %v, the least propagation time", c.RolloverMaxWait, c.PublishDelay)
	}
	for _, name := range c.Admins {
		if err := spiffeid.ValidateWorkloadName(name); err != nil {
			return fmt.Errorf("admins: %w", err)
		}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.CRLGrace < 0 {
		return fmt.Errorf("crl_grace: negative %v", c.CRLGrace)
	}
	if c.CRLGrace == 0 {
		c.CRLGrace = tlsx.DefaultCRLGrace
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Server is `logsys ca`: it signs certificate requests of one
// environment, authorized by a bootstrap token or by the client's current
// certificate, and publishes the environment's trust bundle.
type Server struct {
	cfg Config
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex // serializes reloads and serving certificate renewals
	lastErr string     // last reload error logged, to log each once
	crlHigh map[string]crlMark
	// crlErr is set while the last reading failed on a CRL: renewals are
	// refused until a valid one is read.
	crlErr  atomic.Pointer[error]
	st      atomic.Pointer[envState]
	serving atomic.Pointer[serving]

	ledger  *Ledger
	reports *reportStore
	// rollMu serializes the rollover steps (advance); plan is the last
	// rollover plan, for the status and the metrics.
	rollMu  sync.Mutex
	rollErr string // last error of the rollover view logged, to log each once
	plan    atomic.Pointer[Rollover]
	// issueMu orders the recording of a certificate (record) against the
	// adoption of a new state (adopt): a certificate renewed from a
	// revoked lineage is either refused or found by the next adoption.
	issueMu sync.Mutex
}

// New loads the environment from the PKI directory and prepares the CA's
// serving certificate.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ca config: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ca metrics: %w", err)
	}
	s := &Server{cfg: cfg, log: cfg.Logger.With("component", "ca", "env", cfg.Env), m: m, crlHigh: map[string]crlMark{}}
	m.initRejects(cfg.Env)
	lg, rep, err := OpenLedger(cfg.Dir, cfg.Env)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	s.ledger = lg
	if rep.Torn > 0 {
		s.m.tornLedger(cfg.Env)
		s.log.Warn("ledger: removed a torn last record (a crash interrupted its write; its certificate was never returned)",
			"path", rep.Path, "bytes", rep.Torn)
	}
	if rep.Skipped > 0 {
		s.log.Warn("ledger: skipped records of kinds this version does not know", "path", rep.Path, "records", rep.Skipped)
	}
	s.log.Info("ledger loaded", "path", rep.Path, "records", rep.Records)
	rs, err := openReports(cfg.Dir, cfg.Env)
	if err != nil {
		s.log.Warn("trust reports unreadable; starting without them (members report again at their next trust fetch)", "err", err)
	}
	s.reports = rs
	if _, err := s.reload(cfg.Now()); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	s.advance(cfg.Now())
	if err := s.m.registerRollover(cfg.Registerer, s); err != nil {
		return nil, fmt.Errorf("ca metrics: %w", err)
	}
	if _, err := s.currentServing(cfg.Now()); err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	return s, nil
}

// Reload re-reads the PKI directory now. On failure the previous state
// stays in use.
func (s *Server) Reload() error {
	_, err := s.reload(s.cfg.Now())
	return err
}

// reload loads the environment; on failure it returns the previous state
// (if any) with the error.
func (s *Server) reload(now time.Time) (*envState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.load(now)
	if err == nil {
		err = checkNumbers(st, s.crlHigh)
	}
	if err != nil {
		reason := rejectReason(err)
		if reason != RejectOther {
			s.crlErr.Store(&err)
		}
		if msg := err.Error(); msg != s.lastErr {
			s.lastErr = msg
			s.m.reject(s.cfg.Env, reason)
			s.log.Warn("pki directory refused; keeping the previous state", "reason", reason, "err", err)
		}
		return s.st.Load(), err
	}
	s.lastErr = ""
	s.crlErr.Store(nil)
	raiseNumbers(st, s.crlHigh)
	if old := s.st.Load(); old != nil && old.same(st) {
		return old, nil // unchanged: keep the derived TLS configuration (and its ticket keys)
	}
	st, old := s.adopt(st, now)
	switch {
	case old == nil:
		s.log.Info("ca loaded", "intermediate", st.cur.Cert().Subject.CommonName, "signing_with", serialOf(st.signer.Cert()),
			"overlap", st.prev != nil)
	case !old.cur.Cert().Equal(st.cur.Cert()):
		s.log.Info("new intermediate published in the trust bundle; it signs once every member reports it",
			"serial", serialOf(st.cur.Cert()), "min_propagation", s.cfg.PublishDelay, "max_wait", s.cfg.RolloverMaxWait)
	}
	if old != nil && !old.signer.Cert().Equal(st.signer.Cert()) {
		s.log.Info("leaves are now signed by another intermediate", "serial", serialOf(st.signer.Cert()))
	}
	return st, nil
}

// load reads the PKI directory; during a rollover the next intermediate
// signs leaves once the ledger says it was activated.
func (s *Server) load(now time.Time) (*envState, error) {
	st, err := loadState(s.cfg.Dir, s.cfg.Env, now, s.cfg.CRLGrace)
	if err != nil || st.prev == nil {
		return st, err
	}
	cur := fingerprint(st.cur.Cert())
	s.ledger.View(func(ix *Index) {
		if activatedIn(ix.Steps(), ix.firstIssued, cur) {
			st.signer = st.cur
		}
	})
	return st, nil
}

// Run listens on cfg.Addr and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ca: listen: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTPS on ln (closing it when done) and re-reads the PKI
// directory every PollInterval, until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	tl := tlsx.NewListener(ln, s.TLSConfig(), s.cfg.TLSMetrics, "ca", tlsx.WithLogger(s.log))
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	tl.Attach(srv) // connections close at the client's NotAfter and gently at the maximum age
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.cfg.PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = srv.Shutdown(sctx)
				cancel()
				return
			case <-t.C:
				now := s.cfg.Now()
				if _, err := s.reload(now); err == nil { // logged inside
					s.resignCRLs(now)
				}
				s.advance(now)
			}
		}
	}()
	s.log.Info("ca listening", "addr", ln.Addr().String(), "leaf_ttl", s.cfg.LeafTTL, "publish_delay", s.cfg.PublishDelay,
		"rollover_max_wait", s.cfg.RolloverMaxWait)
	err := srv.Serve(tl)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("ca: serve: %w", err)
}

// Handler returns the API (see the package documentation).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathBootstrap, s.handleIssue(MethodBootstrap))
	mux.HandleFunc("POST "+PathRenew, s.handleIssue(MethodRenew))
	mux.HandleFunc("GET "+PathTrust, s.trust)
	mux.HandleFunc("POST "+PathTrust, s.handleTrustReport)
	mux.HandleFunc("GET "+PathStatus, s.handleStatus)
	return mux
}
