package testutil

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// MemListener is an in-memory net.Listener. Dial hands the server end to
// Accept and returns the client end; both are MemConns.
type MemListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
	addr  memAddr

	mu     sync.Mutex
	dialed int
}

// NewMemListener returns a listener that reports addr as its address.
func NewMemListener(addr string) *MemListener {
	return &MemListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: memAddr(addr)}
}

// Accept waits for the next Dial.
func (l *MemListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close makes Accept and Dial fail.
func (l *MemListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the address given to NewMemListener.
func (l *MemListener) Addr() net.Addr { return l.addr }

// Dial connects to the listener; it has the signature of
// http.Transport.DialContext and kgo.Dialer.
func (l *MemListener) Dial(ctx context.Context, _, _ string) (net.Conn, error) {
	l.mu.Lock()
	l.dialed++
	client := memAddr("client-" + strconv.Itoa(l.dialed))
	l.mu.Unlock()
	c, s := MemPipe(client, l.addr)
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// MemConn is one end of an in-memory connection whose writes never block
// (unlike net.Pipe, whose synchronous writes deadlock TLS 1.3 when both
// ends write at once, as with session tickets or close_notify). A reader
// waits on a sync.Cond, which a synctest bubble counts as durably blocked.
type MemConn struct {
	in, out       *memBuffer
	local, remote net.Addr
}

// MemPipe returns the two ends of a connection between a and b.
func MemPipe(a, b net.Addr) (*MemConn, *MemConn) {
	x, y := newMemBuffer(), newMemBuffer()
	return &MemConn{in: x, out: y, local: a, remote: b}, &MemConn{in: y, out: x, local: b, remote: a}
}

type memBuffer struct {
	mu       sync.Mutex
	cond     *sync.Cond
	data     []byte
	eof      bool // the writing end closed
	closed   bool // the reading end closed
	deadline time.Time
	timer    *time.Timer
}

func newMemBuffer() *memBuffer {
	b := &memBuffer{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (c *MemConn) Read(p []byte) (int, error) {
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		switch {
		case b.closed:
			return 0, net.ErrClosed
		case len(b.data) > 0:
			n := copy(p, b.data)
			b.data = b.data[n:]
			return n, nil
		case b.eof:
			return 0, io.EOF
		case !b.deadline.IsZero() && !time.Now().Before(b.deadline):
			return 0, os.ErrDeadlineExceeded
		}
		b.cond.Wait()
	}
}

func (c *MemConn) Write(p []byte) (int, error) {
	b := c.out
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof || b.closed {
		return 0, io.ErrClosedPipe
	}
	b.data = append(b.data, p...)
	b.cond.Broadcast()
	return len(p), nil
}

// Close ends both directions: the peer reads EOF, our reads fail.
func (c *MemConn) Close() error {
	for _, b := range []*memBuffer{c.in, c.out} {
		b.mu.Lock()
		if b == c.in {
			b.closed = true
		} else {
			b.eof = true
		}
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cond.Broadcast()
		b.mu.Unlock()
	}
	return nil
}

func (c *MemConn) LocalAddr() net.Addr  { return c.local }
func (c *MemConn) RemoteAddr() net.Addr { return c.remote }

func (c *MemConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetWriteDeadline has nothing to bound: writes never block.
func (c *MemConn) SetWriteDeadline(time.Time) error { return nil }

func (c *MemConn) SetReadDeadline(t time.Time) error {
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = t
	d := time.Until(t)
	switch {
	case t.IsZero() || d <= 0:
		// No deadline, or one already passed (net/http sets a time long
		// ago to abort a read): readers see it at the broadcast below,
		// no timer is needed.
		if b.timer != nil {
			b.timer.Stop()
		}
	case b.timer != nil:
		b.timer.Reset(d)
	default:
		b.timer = time.AfterFunc(d, func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
	}
	b.cond.Broadcast()
	return nil
}
