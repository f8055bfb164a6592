package bench

import (
	"context"
	"net"
	"sync/atomic"
)

// wire counts bytes read and written on the connections it wraps: the
// bytes on the wire as TCP carries them (TLS records and HTTP framing
// included, TCP/IP headers excluded).
type wire struct {
	read, written atomic.Int64
	conns         atomic.Int64
}

func (w *wire) total() int64 { return w.read.Load() + w.written.Load() }

// dial opens a TCP connection on loopback and counts its bytes.
func (w *wire) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	w.conns.Add(1)
	return &countingConn{Conn: c, w: w}, nil
}

type countingConn struct {
	net.Conn
	w *wire
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.read.Add(int64(n))
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.w.written.Add(int64(n))
	return n, err
}
