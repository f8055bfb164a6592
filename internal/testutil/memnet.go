package testutil

import (
	"context"
	"net"
	"sync"
	"syscall"
)

// Network is an in-memory network of MemPipe connections with listeners
// by address (MemListener is one listener on its own). Inside a synctest
// bubble a goroutine blocked on a loopback socket is not durably blocked
// (the fake clock would stall); one waiting on a MemConn is. TLS runs over
// it unchanged.
type Network struct {
	mu sync.Mutex
	ls map[string]*listener
}

type listener struct {
	n     *Network
	addr  string
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

// Addr is an address of a Network.
type Addr string

func (a Addr) Network() string { return "pipe" }
func (a Addr) String() string  { return string(a) }

// Listen serves addr on n until the listener is closed; a later Listen on
// the same addr replaces it.
func (n *Network) Listen(addr string) net.Listener {
	l := &listener{n: n, addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ls == nil {
		n.ls = map[string]*listener{}
	}
	n.ls[addr] = l
	return l
}

// Dial connects to the listener on addr; with none there, the connection
// is refused, as a TCP dial to a stopped server would be.
func (n *Network) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	refused := &net.OpError{Op: "dial", Net: network, Addr: Addr(addr), Err: syscall.ECONNREFUSED}
	n.mu.Lock()
	l := n.ls[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, refused
	}
	c, s := MemPipe(Addr("client"), Addr(addr))
	select {
	case l.conns <- s:
		return c, nil
	case <-l.done:
	case <-ctx.Done():
		refused.Err = ctx.Err()
	}
	c.Close()
	s.Close()
	return nil, refused
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.n.mu.Lock()
		if l.n.ls[l.addr] == l {
			delete(l.n.ls, l.addr)
		}
		l.n.mu.Unlock()
	})
	return nil
}

func (l *listener) Addr() net.Addr { return Addr(l.addr) }
