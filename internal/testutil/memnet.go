package testutil

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
)

// Network is an in-memory network of MemListeners by address. Inside a
// synctest bubble a goroutine blocked on a loopback socket is not durably
// blocked (the fake clock would stall); one waiting on a MemConn is. TLS
// runs over it unchanged.
type Network struct {
	mu sync.Mutex
	ls map[string]*MemListener
}

// Addr is an address of a Network.
type Addr string

func (a Addr) Network() string { return "pipe" }
func (a Addr) String() string  { return string(a) }

// Listen serves addr on n until the listener is closed; a later Listen on
// the same addr replaces it.
func (n *Network) Listen(addr string) net.Listener {
	l := NewMemListener(addr)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ls == nil {
		n.ls = map[string]*MemListener{}
	}
	n.ls[addr] = l
	return l
}

// Dial connects to the listener on addr; with none there, or a closed
// one, the connection is refused, as a TCP dial to a stopped server would
// be. It has the signature of http.Transport.DialContext.
func (n *Network) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.ls[addr]
	n.mu.Unlock()
	refused := &net.OpError{Op: "dial", Net: network, Addr: Addr(addr), Err: syscall.ECONNREFUSED}
	if l == nil {
		return nil, refused
	}
	c, err := l.Dial(ctx, network, addr)
	switch {
	case errors.Is(err, net.ErrClosed):
		return nil, refused
	case err != nil:
		refused.Err = err
		return nil, refused
	}
	return c, nil
}
