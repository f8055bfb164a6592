package it

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// forward is a TCP port forward: every connection to its listener is
// copied to and from target.
type forward struct {
	ln     net.Listener
	target string
	conns  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]bool
}

func newForward(listen, target string) (*forward, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("forward %s -> %s: %w", listen, target, err)
	}
	f := &forward{ln: ln, target: target, open: map[net.Conn]bool{}}
	f.wg.Go(f.serve)
	return f, nil
}

func (f *forward) serve() {
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.conns.Add(1)
		f.wg.Go(func() { f.pipe(in) })
	}
}

func (f *forward) pipe(in net.Conn) {
	out, err := net.DialTimeout("tcp", f.target, 5*time.Second)
	if err != nil {
		in.Close()
		return
	}
	if !f.track(in, out) {
		return
	}
	var wg sync.WaitGroup
	half := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	wg.Go(func() { half(out, in) })
	wg.Go(func() { half(in, out) })
	wg.Wait()
	f.mu.Lock()
	delete(f.open, in)
	delete(f.open, out)
	f.mu.Unlock()
	in.Close()
	out.Close()
}

// track registers a connection pair, or closes it when f is closing.
func (f *forward) track(in, out net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open == nil {
		in.Close()
		out.Close()
		return false
	}
	f.open[in], f.open[out] = true, true
	return true
}

func (f *forward) close() {
	f.ln.Close()
	f.mu.Lock()
	for c := range f.open {
		c.Close()
	}
	f.open = nil
	f.mu.Unlock()
	f.wg.Wait()
}
