package tlsx

import (
	"context"
	"net"
	"net/http"
	"net/http/httptrace"
)

type connKey struct{}

// Attach lets the listener close srv's connections gently: for the
// maximum age, a connection with a request in flight gets
// "Connection: close" on its next response (HTTP/1.1 closes after it,
// HTTP/2 sends GOAWAY) and is closed once idle, at the latest after the
// drain timeout; an idle one is closed at once. It chains srv's
// ConnState, ConnContext and Handler, so call it after setting them and
// before Serve. Closes for revocation, trust and expiry stay immediate.
func (l *Listener) Attach(srv *http.Server) {
	t := l.track
	t.hooked.Store(true)
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateActive:
			t.setActive(c, true)
		case http.StateIdle:
			t.setActive(c, false)
		}
		if prevState != nil {
			prevState(c, st)
		}
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return context.WithValue(ctx, connKey{}, c)
	}
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(connKey{}).(net.Conn); ok && t.closing(c) {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// Transport makes tr dial with d and returns the RoundTripper to use in
// its place. When our certificate is replaced, tr's idle connections made
// with the previous one are closed at once, and a request that is given
// such a connection asks for it to be closed after the response
// (HTTP/1.1 "Connection: close", HTTP/2 no reuse); whatever is left is
// closed after the drain timeout. Requests never fail for it.
func (d *Dialer) Transport(tr *http.Transport) http.RoundTripper {
	tr.DialTLSContext = d.DialContext
	closeIdle := tr.CloseIdleConnections
	d.track.closeIdle.Store(&closeIdle)
	d.track.hooked.Store(true)
	return &retiringTransport{tr: tr, t: d.track}
}

type retiringTransport struct {
	tr *http.Transport
	t  *tracker
}

func (rt *retiringTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt.t.draining.Load() == 0 {
		return rt.tr.RoundTrip(req)
	}
	var out *http.Request
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if rt.t.closing(info.Conn) {
			out.Close = true // read when the request is written and after its response
		}
	}}
	out = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	return rt.tr.RoundTrip(out)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach tr.
func (rt *retiringTransport) CloseIdleConnections() { rt.tr.CloseIdleConnections() }
