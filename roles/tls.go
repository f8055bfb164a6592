package roles

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"logsys/enroll"
	"logsys/spiffeid"
	"logsys/tlsx"
)

// tlsSetup is a role's TLS material and policy: one reloading source, its
// metrics, and the options every listener and dialer of the role shares.
type tlsSetup struct {
	id      tlsx.Identity
	renewer *enroll.Renewer // nil when certificates come from files
	src     *tlsx.Source
	m       *tlsx.Metrics
	opts    tlsx.Options
	log     *slog.Logger
}

// newTLS loads the role's certificate from files, or obtains it from
// `logsys ca` when id.CAURL is set; the bootstrap ends with ctx.
func newTLS(ctx context.Context, id tlsx.Identity, reg prometheus.Registerer, log *slog.Logger) (*tlsSetup, error) {
	id = id.Resolved()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := tlsx.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("%s: tls metrics: %w", id.Name, err)
	}
	var (
		renewer *enroll.Renewer
		src     *tlsx.Source
	)
	if id.CAURL != "" {
		renewer, src, err = obtainFromCA(ctx, id, reg, m, log)
	} else {
		src, err = tlsx.NewSource(tlsx.SourceConfig{
			Name: id.Name, CertFile: id.CertFile, KeyFile: id.KeyFile, CAFile: id.CAFile,
			BundleFile: id.BundleFile, CRLFile: id.CRLFile, CRLGrace: id.CRLGrace,
			PollInterval: id.ReloadInterval, Logger: log, Metrics: m,
		})
		if err != nil {
			err = fmt.Errorf("%s: load certificate: %w", id.Name, err)
		}
	}
	if err != nil {
		return nil, err
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

// obtainFromCA makes sure the role holds a valid certificate from
// `logsys ca` before it starts, within caBootstrapTimeout or until ctx
// ends, and returns the source the renewer keeps current.
func obtainFromCA(ctx context.Context, id tlsx.Identity, reg prometheus.Registerer, m *tlsx.Metrics, log *slog.Logger) (*enroll.Renewer, *tlsx.Source, error) {
	r, err := enroll.New(enroll.Config{
		CAURL: id.CAURL, TrustDomain: id.TrustDomain, Env: id.Env, Name: id.Name,
		Token: id.CAToken, TokenFile: id.CATokenFile, CABundle: id.CABundle, StateDir: id.StateDir,
		TrustRefresh: id.ReloadInterval, Logger: log, Registerer: reg,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: certificate from %s: %w", id.Name, id.CAURL, err)
	}
	bctx, cancel := context.WithTimeout(ctx, caBootstrapTimeout)
	defer cancel()
	if err := r.Ensure(bctx); err != nil {
		return nil, nil, fmt.Errorf("%s: certificate from %s: %w", id.Name, id.CAURL, err)
	}
	src, err := r.NewSource(tlsx.SourceConfig{Name: id.Name, Logger: log, Metrics: m, CRLGrace: id.CRLGrace})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: certificate from %s: %w", id.Name, id.CAURL, err)
	}
	return r, src, nil
}

// run keeps the certificate current until ctx is done: the renewer
// renews it from the CA and pushes it into the source, or the source
// watches its files.
func (t *tlsSetup) run(ctx context.Context) {
	if t.renewer != nil {
		if err := t.renewer.Run(ctx); err != nil && ctx.Err() == nil {
			t.log.Error("certificate renewer stopped", "err", err)
		}
		return
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
func (t *tlsSetup) listen(addr, name string, names ...string) (*tlsx.Listener, error) {
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
	return t.newListener(ln, cfg, name, names), nil
}

// newListener tracks the listener's connections: closed when a reload no
// longer admits their peer, at its NotAfter and at max_conn_age.
func (t *tlsSetup) newListener(ln net.Listener, cfg *tls.Config, name string, names []string) *tlsx.Listener {
	return tlsx.NewListener(ln, cfg, t.m, name, tlsx.WithLogger(t.log),
		tlsx.WithPeerChecks(t.src, t.authorize(names...)), tlsx.WithMaxConnAge(t.id.MaxConnAge))
}

// wrapListener puts mutual TLS in front of an already bound listener.
func (t *tlsSetup) wrapListener(ln net.Listener, name string, names ...string) (*tlsx.Listener, error) {
	cfg, err := tlsx.ServerConfig(t.src, t.authorize(names...), t.opts)
	if err != nil {
		return nil, fmt.Errorf("%s: server tls: %w", name, err)
	}
	return t.newListener(ln, cfg, name, names), nil
}

// dialer returns a dial function that verifies the server's host name and
// that it is the named identity of our environment.
func (t *tlsSetup) dialer(name, peer string) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	d, err := t.newDialer(name, peer, nil)
	if err != nil {
		return nil, err
	}
	return d.DialContext, nil
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
		ForceAttemptHTTP2:   http2,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
	}
	if !http2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: d.Transport(tr)}, nil
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
	_, crl := t.src.CRLStatus()
	reasons = append(reasons, crl...)
	if t.renewer != nil {
		if err := t.renewer.Healthy(); err != nil {
			reasons = append(reasons, "certificate renewal: "+err.Error())
		}
	}
	return views, reasons
}

// peerID returns the verified client certificate's identity.
func peerID(r *http.Request) (spiffeid.ID, bool) {
	p := peerOf(r)
	return p.id, p.ok
}

// peerIdentity returns the verified client identity as a URI string.
func peerIdentity(r *http.Request) string { return peerOf(r).uri }

// connPeer is the identity of a client certificate, read once per
// connection (withPeer) rather than twice per request.
type connPeer struct {
	cert *x509.Certificate
	id   spiffeid.ID
	uri  string // id.String()
	ok   bool   // the certificate carries a valid identity
}

type peerKey struct{}

// noPeer is the identity of a request without a client certificate.
var noPeer connPeer

// newConnPeer reads the identity of cert.
func newConnPeer(cert *x509.Certificate) *connPeer {
	p := &connPeer{cert: cert}
	if id, err := spiffeid.FromCert(cert); err == nil {
		p.id, p.uri, p.ok = id, id.String(), true
	}
	return p
}

// withPeer is a server's ConnContext: it keeps the identity of the
// connection's client certificate (the handshake is complete when
// tlsx.Listener hands the connection over) for every request on it.
func withPeer(ctx context.Context, c net.Conn) context.Context {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return ctx
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return ctx
	}
	return context.WithValue(ctx, peerKey{}, newConnPeer(st.PeerCertificates[0]))
}

// peerOf returns the identity of r's client certificate: the
// connection's, when withPeer read it from this very certificate, else
// read now.
func peerOf(r *http.Request) *connPeer {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return &noPeer
	}
	cert := r.TLS.PeerCertificates[0]
	if p, _ := r.Context().Value(peerKey{}).(*connPeer); p != nil && p.cert == cert {
		return p
	}
	return newConnPeer(cert)
}
