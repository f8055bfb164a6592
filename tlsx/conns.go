package tlsx

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// CloseReason says why a tracked connection was closed (the `reason`
// label of logsys_tls_connections_closed_total).
type CloseReason string

// Reasons for closing a live connection.
const (
	// CloseRevoked: the peer's serial is on a CRL loaded since the
	// handshake. Closed at once, within the reload.
	CloseRevoked CloseReason = "revoked"
	// CloseUntrusted: the peer's chain no longer verifies against the
	// current anchors (an intermediate removed), or the peer is no longer
	// authorized. Closed at once.
	CloseUntrusted CloseReason = "untrusted"
	// CloseExpired: the peer's certificate reached its NotAfter. Closed at
	// that moment.
	CloseExpired CloseReason = "expired"
	// CloseCRLStale: our CRL got past its nextUpdate by more than
	// crl_grace: no peer can be checked any more. Closed at once.
	CloseCRLStale CloseReason = "crl_stale"
	// CloseMaxAge: the connection reached max_conn_age (server side).
	// Closed gently: see Listener.Attach.
	CloseMaxAge CloseReason = "max_age"
	// CloseRotated: our own certificate was replaced (client side): the
	// connection, made with the previous one, is closed gently so that
	// the next request handshakes with the new one.
	CloseRotated CloseReason = "rotated"
)

var allCloseReasons = []CloseReason{CloseRevoked, CloseUntrusted, CloseExpired, CloseCRLStale, CloseMaxAge, CloseRotated}

// gentle reports whether r lets in-flight requests finish.
func (r CloseReason) gentle() bool { return r == CloseMaxAge || r == CloseRotated }

// Defaults of connection tracking.
const (
	// DefaultMaxConnAge bounds every server connection's life. An hour is
	// the lifetime of the certificates `logsys ca` issues by default, so
	// no connection outlives the horizon of the shortest-lived identity
	// even where nothing else closes it; it costs one resumed handshake
	// (about a millisecond) per connection and hour. Each connection's
	// limit is drawn in [0.9, 1] of it so that connections opened
	// together do not all reconnect at once.
	DefaultMaxConnAge = time.Hour
	// DefaultDrainTimeout is how long a gently closed connection may
	// finish its in-flight requests before it is closed hard.
	DefaultDrainTimeout = 30 * time.Second
)

// tracker knows the live connections of one Listener or Dialer with the
// peer certificates verified at their handshake, re-checks them when the
// Source's material changes, and closes each at its peer's NotAfter and
// (servers) at its maximum age.
type tracker struct {
	side, name string
	src        *Source // nil: only NotAfter and the maximum age apply
	authz      Authorizer
	m          *Metrics
	log        *slog.Logger
	maxAge     time.Duration // 0: none
	drain      time.Duration
	// hooked is set when an HTTP server or transport reports connection
	// use, so that gentle closes can wait for in-flight requests.
	hooked atomic.Bool
	// closeIdle closes the idle connections of an HTTP transport (client side).
	closeIdle atomic.Pointer[func()]
	draining  atomic.Int64 // connections being closed gently

	mu    sync.Mutex
	conns map[*tls.Conn]*tracked
}

// tracked is one live connection.
type tracked struct {
	conn  *tls.Conn
	raw   *rawConn
	peer  []*x509.Certificate
	ours  *x509.Certificate // client side: our leaf at the handshake
	timer *time.Timer       // NotAfter or maximum age
	// Guarded by tracker.mu:
	active bool        // an HTTP request is in flight (as reported by ConnState)
	reason CloseReason // set once closing was decided
	drainT *time.Timer
}

func newTracker(side, name string, m *Metrics, log *slog.Logger) *tracker {
	m.initConns(side, name)
	return &tracker{side: side, name: name, m: m, log: log, drain: DefaultDrainTimeout, conns: map[*tls.Conn]*tracked{}}
}

func (t *tracker) now() time.Time {
	if t.src != nil {
		return t.src.now()
	}
	return time.Now()
}

// rawConn is the transport under a tracked *tls.Conn: closing it, by
// anyone, ends the tracking.
type rawConn struct {
	net.Conn
	once    sync.Once
	onClose atomic.Pointer[func()]
}

func (c *rawConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		if f := c.onClose.Load(); f != nil {
			(*f)()
		}
	})
	return err
}

// add tracks conn, whose handshake just completed; before is the Source's
// material when the handshake started and ours our leaf (client side).
func (t *tracker) add(conn *tls.Conn, raw *rawConn, before *material, ours *x509.Certificate) *tracked {
	tc := &tracked{conn: conn, raw: raw, peer: conn.ConnectionState().PeerCertificates, ours: ours, active: true}
	remove := func() { t.remove(tc) }
	raw.onClose.Store(&remove)

	now := t.now()
	var deadline time.Time
	reason := CloseExpired
	if len(tc.peer) > 0 {
		deadline = tc.peer[0].NotAfter
	}
	if t.maxAge > 0 {
		age := t.maxAge - time.Duration(rand.Float64()*float64(t.maxAge)/10)
		if at := now.Add(age); deadline.IsZero() || at.Before(deadline) {
			deadline, reason = at, CloseMaxAge
		}
	}
	t.mu.Lock()
	if len(t.conns) == 0 && t.src != nil {
		t.src.subscribe(t)
	}
	t.conns[conn] = tc
	if !deadline.IsZero() {
		tc.timer = time.AfterFunc(deadline.Sub(now), func() { t.close(tc, reason) })
	}
	t.mu.Unlock()
	// The material may have changed between the handshake and the
	// subscription above.
	if t.src != nil && t.src.cur.Load() != before {
		t.checkOne(tc)
	}
	return tc
}

// remove forgets tc once its transport closed, counting the close when
// the tracker decided it.
func (t *tracker) remove(tc *tracked) {
	t.mu.Lock()
	if _, ok := t.conns[tc.conn]; !ok {
		t.mu.Unlock()
		return
	}
	delete(t.conns, tc.conn)
	if len(t.conns) == 0 && t.src != nil {
		t.src.unsubscribe(t)
	}
	reason := tc.reason
	if tc.timer != nil {
		tc.timer.Stop()
	}
	if tc.drainT != nil {
		tc.drainT.Stop()
	}
	t.mu.Unlock()
	if reason != "" {
		if reason.gentle() {
			t.draining.Add(-1)
		}
		t.m.connClosed(t.side, t.name, reason)
	}
}

// recheck re-checks every live connection against the Source's current
// material and closes those that fail.
func (t *tracker) recheck() {
	t.mu.Lock()
	all := make([]*tracked, 0, len(t.conns))
	for _, tc := range t.conns {
		all = append(all, tc)
	}
	t.mu.Unlock()
	for _, tc := range all {
		t.checkOne(tc)
	}
}

func (t *tracker) checkOne(tc *tracked) {
	if r := t.verdict(tc); r != "" {
		t.close(tc, r)
	}
}

// verdict says why tc must be closed now, or "" when it may stay.
func (t *tracker) verdict(tc *tracked) CloseReason {
	if t.src == nil {
		return ""
	}
	m := t.src.cur.Load()
	err := t.src.checkPeer(m, tc.peer, nil, t.side, t.authz, true)
	if ve, ok := err.(*VerifyError); ok {
		switch ve.Reason {
		case ReasonRevoked:
			return CloseRevoked
		case ReasonExpired:
			return CloseExpired
		case ReasonCRLStale:
			return CloseCRLStale
		}
		return CloseUntrusted
	}
	if tc.ours != nil && !tc.ours.Equal(m.cert.Leaf) {
		return CloseRotated
	}
	return ""
}

// close ends tc for reason: at once, or gently for the maximum age when an
// HTTP server reports the connection's use and for our rotation on
// clients: the connection then closes once idle (as far as an HTTP server
// or transport tells), at the latest after the drain timeout.
func (t *tracker) close(tc *tracked, reason CloseReason) {
	t.mu.Lock()
	if _, live := t.conns[tc.conn]; !live || (tc.reason != "" && (reason.gentle() || !tc.reason.gentle())) {
		t.mu.Unlock()
		return // gone, or already closing at least as firmly
	}
	if tc.reason.gentle() {
		t.draining.Add(-1) // a firmer reason takes over
	}
	tc.reason = reason
	hard := !reason.gentle() || (t.side == SideServer && (!t.hooked.Load() || !tc.active))
	if !hard {
		t.draining.Add(1)
		tc.drainT = time.AfterFunc(t.drain, func() { t.drained(tc) })
	}
	t.mu.Unlock()
	peer := ""
	if len(tc.peer) > 0 {
		peer = serialString(tc.peer[0].SerialNumber)
	}
	t.log.Info("tls connection closed", "side", t.side, "listener", t.name, "reason", string(reason),
		"remote", tc.raw.RemoteAddr().String(), "peer_serial", peer, "gently", !hard)
	if hard {
		tc.raw.Close()
		return
	}
	if f := t.closeIdle.Load(); f != nil {
		(*f)() // closes tc now if it sits idle in the transport's pool
	}
}

// drained closes a gently closing connection whose drain time is up.
func (t *tracker) drained(tc *tracked) {
	if f := t.closeIdle.Load(); f != nil {
		(*f)()
	}
	tc.raw.Close()
}

// setActive records whether an HTTP request is in flight on conn; a
// gently closing connection closes as soon as it is idle.
func (t *tracker) setActive(conn net.Conn, active bool) {
	tl, ok := conn.(*tls.Conn)
	if !ok {
		return
	}
	t.mu.Lock()
	tc, ok := t.conns[tl]
	if !ok {
		t.mu.Unlock()
		return
	}
	tc.active = active
	closeNow := !active && tc.reason != ""
	t.mu.Unlock()
	if closeNow {
		tc.raw.Close()
	}
}

// closing reports whether conn is being closed gently.
func (t *tracker) closing(conn net.Conn) bool {
	if t.draining.Load() == 0 {
		return false
	}
	tl, ok := conn.(*tls.Conn)
	if !ok {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ok := t.conns[tl]
	return ok && tc.reason != ""
}

// Open returns the number of live tracked connections.
func (t *tracker) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.conns)
}
