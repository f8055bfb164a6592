package roles

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"logsys/spiffeid"
)

// The embedded broker (kfake) knows a connection's principal only from
// SASL: a TLS connection that did not authenticate is User:ANONYMOUS to
// its ACLs. So principalListener authenticates every accepted connection
// on the peer's behalf, before the peer's first byte reaches kfake: it
// feeds kfake a SASL PLAIN handshake for User:<name>, where name comes
// from the verified URI SAN of the peer certificate (kafkaacl.Principal),
// with a random secret that never leaves the process, and swallows
// kfake's two answers. The peer cannot pick or change its principal: it
// never sees the exchange, and kfake refuses a second SASL handshake on
// an authenticated connection (re-authentication would need
// connections.max.reauth.ms, an AlterConfigs on the cluster that nobody
// is granted).

// Correlation ids of the injected requests; kfake echoes them.
const (
	saslHandshakeCorr    int32 = -2
	saslAuthenticateCorr int32 = -1
)

// maxRequestBytes bounds one request frame, like Kafka's
// socket.request.max.bytes (100 MiB): kfake itself would allocate
// whatever size a peer announces.
const maxRequestBytes = 100 << 20

// maxPending bounds the requests remembered while waiting for their
// responses (a peer sending only acks=0 produce requests gets none).
const maxPending = 1024

// maxCapturedRequest bounds the request bodies kept to describe a refusal
// (group names and the like); produce requests are never kept.
const maxCapturedRequest = 64 << 10

// newBrokerSecret returns the per-process SASL secret.
func newBrokerSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("broker secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// principalListener wraps the broker's mutual-TLS listener (whose Accept
// returns handshaken *tls.Conn values) and also hands kfake in-process
// connections of the super user, for the broker's own ACL reconciliation.
type principalListener struct {
	inner     net.Listener
	secret    string
	superUser string
	denials   *denials
	log       *slog.Logger

	accepted chan acceptResult
	internal chan net.Conn
	done     chan struct{}
	once     sync.Once
}

type acceptResult struct {
	conn net.Conn
	err  error
}

func newPrincipalListener(inner net.Listener, secret, superUser string, d *denials, log *slog.Logger) *principalListener {
	l := &principalListener{
		inner: inner, secret: secret, superUser: superUser, denials: d, log: log,
		accepted: make(chan acceptResult), internal: make(chan net.Conn), done: make(chan struct{}),
	}
	go l.acceptLoop()
	return l
}

func (l *principalListener) acceptLoop() {
	for {
		c, err := l.inner.Accept()
		select {
		case l.accepted <- acceptResult{c, err}:
		case <-l.done:
			if c != nil {
				c.Close()
			}
			return
		}
		if err != nil {
			return
		}
	}
}

// Accept returns the next connection, already bound to its principal.
func (l *principalListener) Accept() (net.Conn, error) {
	for {
		select {
		case c := <-l.internal:
			return c, nil
		case r := <-l.accepted:
			if r.err != nil {
				return nil, r.err
			}
			name, err := connPeerName(r.conn)
			if err != nil {
				// The TLS authorizer admitted the peer, so this does not
				// happen; refuse rather than fall back to ANONYMOUS.
				l.log.Warn("broker: connection without a usable identity closed", "remote", r.conn.RemoteAddr().String(), "err", err)
				r.conn.Close()
				continue
			}
			return newPrincipalConn(r.conn, name, l.secret, l.denials), nil
		case <-l.done:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.inner.Addr(), Err: net.ErrClosed}
		}
	}
}

// Close stops accepting and closes the TLS listener.
func (l *principalListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.inner.Close()
}

func (l *principalListener) Addr() net.Addr { return l.inner.Addr() }

// dialInternal returns an in-process connection to kfake authenticated as
// the super user. Nothing outside this process can reach it.
func (l *principalListener) dialInternal(ctx context.Context) (net.Conn, error) {
	ours, theirs := net.Pipe()
	select {
	case l.internal <- newPrincipalConn(theirs, l.superUser, l.secret, nil):
		return ours, nil
	case <-l.done:
	case <-ctx.Done():
	}
	ours.Close()
	theirs.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, net.ErrClosed
}

// connPeerName is the workload name of the verified client certificate.
func connPeerName(c net.Conn) (string, error) {
	tc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return "", errors.New("not a tls connection")
	}
	certs := tc.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return "", errors.New("no client certificate")
	}
	id, err := spiffeid.FromCert(certs[0])
	if err != nil {
		return "", err
	}
	return id.Name, nil
}

// principalConn is one connection as kfake sees it: first the injected
// SASL requests, then the peer's requests, one whole frame at a time.
// kfake reads from one goroutine and writes from another.
type principalConn struct {
	net.Conn
	user    string
	denials *denials // nil: not observed (the internal super user)

	rmu  sync.Mutex
	rcur []byte // unread rest of the current frame (first: the injected requests)
	rbuf []byte

	pmu     sync.Mutex
	pending []pendingReq // peer requests awaiting their response, in order

	wmu     sync.Mutex
	swallow int    // SASL answers still to swallow
	wpart   []byte // an incomplete response frame
}

// pendingReq is what a response needs to be understood.
type pendingReq struct {
	corr    int32
	key     int16
	version int16
	body    []byte // nil for produce requests and large ones
}

func newPrincipalConn(c net.Conn, user, secret string, d *denials) *principalConn {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("logsys-broker"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = 0, []byte("\x00"+user+"\x00"+secret)
	// AppendRequest writes the frame size at dst[0]: one frame per call.
	prefix := append(f.AppendRequest(nil, hs, saslHandshakeCorr), f.AppendRequest(nil, auth, saslAuthenticateCorr)...)
	return &principalConn{Conn: c, user: user, denials: d, rcur: prefix, swallow: 2}
}

// Read serves the injected requests, then the peer's frames.
func (c *principalConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if len(c.rcur) == 0 {
		if err := c.nextFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.rcur)
	c.rcur = c.rcur[n:]
	return n, nil
}

// nextFrame reads one whole request frame of the peer and notes what its
// response will need.
func (c *principalConn) nextFrame() error {
	var size [4]byte
	if _, err := io.ReadFull(c.Conn, size[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(size[:]))
	if n < 8 || n > maxRequestBytes {
		return fmt.Errorf("broker: request frame of %d bytes refused", n)
	}
	if cap(c.rbuf) < 4+n {
		c.rbuf = make([]byte, 4+n)
	}
	frame := c.rbuf[:4+n]
	copy(frame, size[:])
	if _, err := io.ReadFull(c.Conn, frame[4:]); err != nil {
		return err
	}
	if c.denials != nil {
		pr := pendingReq{
			key:     int16(binary.BigEndian.Uint16(frame[4:])),
			version: int16(binary.BigEndian.Uint16(frame[6:])),
			corr:    int32(binary.BigEndian.Uint32(frame[8:])),
		}
		if pr.key != int16(kmsg.Produce) && n <= maxCapturedRequest {
			pr.body = append([]byte(nil), frame[4:]...)
		}
		c.pmu.Lock()
		if len(c.pending) >= maxPending {
			c.pending = c.pending[1:]
		}
		c.pending = append(c.pending, pr)
		c.pmu.Unlock()
	}
	c.rcur = frame
	return nil
}

// Write swallows kfake's answers to the injected requests, then passes
// responses to the peer and watches them for authorization refusals.
func (c *principalConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.swallow > 0 {
		return c.swallowSASL(p)
	}
	// Observed before it is sent, so that a refusal is counted (and
	// logged) by the time the peer reads it.
	if c.denials != nil && len(p) > 0 {
		c.observe(p)
	}
	return c.Conn.Write(p)
}

func (c *principalConn) swallowSASL(p []byte) (int, error) {
	c.wpart = append(c.wpart, p...)
	for c.swallow > 0 {
		frame, rest, ok := cutFrame(c.wpart)
		if !ok {
			return len(p), nil
		}
		want := saslHandshakeCorr
		if c.swallow == 1 {
			want = saslAuthenticateCorr
		}
		if len(frame) < 6 || int32(binary.BigEndian.Uint32(frame)) != want {
			c.Conn.Close()
			return 0, errors.New("broker: unexpected answer to the sasl exchange")
		}
		// Both answers (handshake v1, authenticate v0) begin with the
		// error code right after the correlation id.
		if code := int16(binary.BigEndian.Uint16(frame[4:])); code != 0 {
			c.Conn.Close()
			return 0, fmt.Errorf("broker: sasl for %s refused: %w", c.user, kerr.ErrorForCode(code))
		}
		c.swallow--
		c.wpart = append(c.wpart[:0], rest...)
	}
	if len(c.wpart) > 0 {
		rest := c.wpart
		c.wpart = nil
		if _, err := c.Conn.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// observe inspects every complete response frame in what was written.
func (c *principalConn) observe(b []byte) {
	if len(c.wpart) > 0 {
		c.wpart = append(c.wpart, b...)
		b = c.wpart
	}
	for {
		frame, rest, ok := cutFrame(b)
		if !ok {
			break
		}
		if len(frame) >= 4 {
			corr := int32(binary.BigEndian.Uint32(frame))
			if pr, ok := c.popPending(corr); ok {
				c.denials.inspect(c.user, pr, frame[4:])
			}
		}
		b = rest
	}
	c.wpart = append(c.wpart[:0], b...)
}

// popPending returns the request answered by corr. Requests without a
// response (acks=0 produce) are skipped: kfake answers in order.
func (c *principalConn) popPending(corr int32) (pendingReq, bool) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	for i, pr := range c.pending {
		if pr.corr == corr {
			c.pending = c.pending[i+1:]
			return pr, true
		}
	}
	return pendingReq{}, false
}

// cutFrame splits one size-prefixed frame off b.
func cutFrame(b []byte) (frame, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, b, false
	}
	n := int(binary.BigEndian.Uint32(b))
	if len(b) < 4+n {
		return nil, b, false
	}
	return b[4 : 4+n], b[4+n:], true
}
