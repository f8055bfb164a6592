package roles

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/ca"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// tlsSetup is a role's TLS material and policy: one reloading source, its
// metrics, and the options every listener and dialer of the role shares.
type tlsSetup struct {
	id      tlsx.Identity
	renewer *ca.Renewer // nil when certificates come from files
	src     *tlsx.Source
	m       *tlsx.Metrics
	opts    tlsx.Options
	log     *slog.Logger
}

func newTLS(id tlsx.Identity, reg prometheus.Registerer, log *slog.Logger) (*tlsSetup, error) {
	id = id.Resolved()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := tlsx.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("%s: tls metrics: %w", id.Name, err)
	}
	sc := tlsx.SourceConfig{
		Name: id.Name, CertFile: id.CertFile, KeyFile: id.KeyFile, CAFile: id.CAFile,
		BundleFile: id.BundleFile, CRLFile: id.CRLFile,
	}
	var renewer *ca.Renewer
	if id.CAURL != "" {
		if renewer, err = obtainFromCA(id, log); err != nil {
			return nil, err
		}
		sc = renewer.SourceConfig()
	}
	sc.PollInterval, sc.Logger, sc.Metrics = id.ReloadInterval, log, m
	src, err := tlsx.NewSource(sc)
	if err != nil {
		return nil, fmt.Errorf("%s: load certificate: %w", id.Name, err)
	}
	opts := tlsx.Options{MinVersion: tls.VersionTLS13}
	if id.MinTLS == "1.2" {
		opts.MinVersion = tls.VersionTLS12
	}
	if id.KeyExchange == "x25519" {
		opts.KeyExchange = tlsx.KeyExchangeX25519
	}
	return &tlsSetup{id: id, renewer: renewer, src: src, m: m, opts: opts, log: log}, nil
}

// caBootstrapTimeout bounds how long a role waits for its first
// certificate from the CA before giving up at start.
const caBootstrapTimeout = 60 * time.Second

// obtainFromCA makes sure a valid certificate from `logsys ca` is in the
// state directory before the role starts.
func obtainFromCA(id tlsx.Identity, log *slog.Logger) (*ca.Renewer, error) {
	r, err := ca.NewRenewer(ca.RenewerConfig{
		CAURL: id.CAURL, Env: id.Env, Name: id.Name, Token: id.CAToken, TokenFile: id.CATokenFile,
		CABundle: id.CABundle, StateDir: id.StateDir, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: certificate from %s: %w", id.Name, id.CAURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), caBootstrapTimeout)
	defer cancel()
	if err := r.Ensure(ctx); err != nil {
		return nil, fmt.Errorf("%s: certificate from %s: %w", id.Name, id.CAURL, err)
	}
	return r, nil
}

// run watches the certificate files (and renews them from the CA when one
// is configured) until ctx is done.
func (t *tlsSetup) run(ctx context.Context) {
	if t.renewer != nil {
		go func() {
			if err := t.renewer.Run(ctx); err != nil && ctx.Err() == nil {
				t.log.Error("certificate renewer stopped", "err", err)
			}
		}()
	}
	if err := t.src.Run(ctx); err != nil && ctx.Err() == nil {
		t.log.Error("certificate watcher stopped", "err", err)
	}
}

// authorize admits the named identities of the role's own environment.
func (t *tlsSetup) authorize(names ...string) tlsx.Authorizer {
	return tlsx.AuthorizeNames(t.id.TrustDomain, t.id.Env, names...)
}

// listen binds addr for HTTPS (h2 and http/1.1) admitting only names.
func (t *tlsSetup) listen(addr, name string, names ...string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s (%s.addr): %w", name, addr, name, err)
	}
	opts := t.opts
	opts.NextProtos = tlsx.ProtosHTTP
	cfg, err := tlsx.ServerConfig(t.src, t.authorize(names...), opts)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("%s: server tls: %w", name, err)
	}
	return tlsx.NewListener(ln, cfg, t.m, name, tlsx.WithLogger(t.log)), nil
}

// wrapListener puts mutual TLS in front of an already bound listener.
func (t *tlsSetup) wrapListener(ln net.Listener, name string, names ...string) net.Listener {
	cfg, err := tlsx.ServerConfig(t.src, t.authorize(names...), t.opts)
	if err != nil {
		// Only invalid options fail here, and they were validated.
		panic(fmt.Sprintf("%s: server tls: %v", name, err))
	}
	return tlsx.NewListener(ln, cfg, t.m, name, tlsx.WithLogger(t.log))
}

// dialer returns a dial function that verifies the server's host name and
// that it is the named identity of our environment.
func (t *tlsSetup) dialer(name, peer string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d, err := t.newDialer(name, peer, nil)
	if err != nil {
		panic(fmt.Sprintf("%s: client tls: %v", name, err))
	}
	return d.DialContext
}

func (t *tlsSetup) newDialer(name, peer string, protos []string) (*tlsx.Dialer, error) {
	opts := t.opts
	opts.NextProtos = protos
	d, err := tlsx.NewDialer(t.src, t.authorize(peer), opts, t.m, name)
	if err != nil {
		return nil, fmt.Errorf("%s: client tls: %w", name, err)
	}
	return d, nil
}

// httpClient returns a pooled mTLS client for one peer identity.
func (t *tlsSetup) httpClient(name string, http2 bool, maxConns int, peer string) (*http.Client, error) {
	protos := []string{"http/1.1"}
	if http2 {
		protos = tlsx.ProtosHTTP
	}
	d, err := t.newDialer(name, peer, protos)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialTLSContext:      d.DialContext,
		ForceAttemptHTTP2:   http2,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
	}
	if !http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr}, nil
}

// certView is one certificate in a health answer.
type certView struct {
	Kind     string    `json:"kind"`
	Identity string    `json:"identity,omitempty"`
	Subject  string    `json:"subject"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"notAfter"`
	DaysLeft float64   `json:"daysLeft"`
}

// status lists the certificates in use and why health is DOWN, if it is.
func (t *tlsSetup) status(now time.Time, threshold time.Duration) ([]certView, []string) {
	infos := t.src.Certificates()
	views := make([]certView, len(infos))
	for i, ci := range infos {
		views[i] = certView{
			Kind: string(ci.Kind), Identity: ci.Identity, Subject: ci.Subject, Serial: ci.Serial,
			NotAfter: ci.NotAfter.UTC(), DaysLeft: float64(int(ci.NotAfter.Sub(now).Hours()/24*10)) / 10,
		}
	}
	checked := infos
	if t.renewer != nil {
		// Short-lived leaves from the CA always expire "soon": their
		// health is whether renewal works, judged by the renewer below.
		checked = nil
		for _, ci := range infos {
			if ci.Kind != tlsx.KindLeaf {
				checked = append(checked, ci)
			}
		}
	}
	_, reasons := tlsx.ExpiryStatus(checked, now, threshold)
	if t.renewer != nil {
		if err := t.renewer.Healthy(); err != nil {
			reasons = append(reasons, "certificate renewal: "+err.Error())
		}
	}
	return views, reasons
}

// peerID returns the verified client certificate's identity.
func peerID(r *http.Request) (spiffeid.ID, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return spiffeid.ID{}, false
	}
	id, err := spiffeid.FromCert(r.TLS.PeerCertificates[0])
	if err != nil {
		return spiffeid.ID{}, false
	}
	return id, true
}

// peerIdentity returns the verified client identity as a URI string.
func peerIdentity(r *http.Request) string {
	id, ok := peerID(r)
	if !ok {
		return ""
	}
	return id.String()
}
