package enroll

import (
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// memConn is one end of an in-memory connection whose writes never block
// (unlike net.Pipe, whose synchronous writes deadlock TLS 1.3 when both
// ends write at once, as with session tickets or close_notify). A reader
// waits on a sync.Cond, which a synctest bubble counts as durably blocked.
type memConn struct {
	in, out       *memBuffer
	local, remote net.Addr
}

// memPipe returns the two ends of a connection.
func memPipe(a, b net.Addr) (net.Conn, net.Conn) {
	x, y := newMemBuffer(), newMemBuffer()
	return &memConn{in: x, out: y, local: a, remote: b}, &memConn{in: y, out: x, local: b, remote: a}
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

func (c *memConn) Read(p []byte) (int, error) {
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

func (c *memConn) Write(p []byte) (int, error) {
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

func (c *memConn) Close() error {
	for b, set := range map[*memBuffer]func(*memBuffer){c.in: func(b *memBuffer) { b.closed = true }, c.out: func(b *memBuffer) { b.eof = true }} {
		b.mu.Lock()
		set(b)
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cond.Broadcast()
		b.mu.Unlock()
	}
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }

func (c *memConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetWriteDeadline has nothing to bound: writes never block.
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

func (c *memConn) SetReadDeadline(t time.Time) error {
	b := c.in
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deadline = t
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	if !t.IsZero() {
		b.timer = time.AfterFunc(time.Until(t), func() {
			b.mu.Lock()
			b.cond.Broadcast()
			b.mu.Unlock()
		})
	}
	b.cond.Broadcast()
	return nil
}
