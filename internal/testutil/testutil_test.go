package testutil

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestNetworkInABubble: an HTTP round trip over a Network inside a
// synctest bubble, a read deadline that fires on the fake clock, and a
// refused dial once the listener is closed.
func TestNetworkInABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var n Network
		ln := n.Listen("svc:80")
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hello")
		})}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		tr := &http.Transport{DialContext: n.Dial}
		c := &http.Client{Transport: tr}
		resp, err := c.Get("http://svc:80/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello" {
			t.Fatalf("body %q", body)
		}
		tr.CloseIdleConnections()

		a, b := MemPipe(Addr("a"), Addr("b"))
		a.SetReadDeadline(time.Now().Add(time.Minute))
		start := time.Now()
		if _, err := a.Read(make([]byte, 1)); err == nil || time.Since(start) != time.Minute {
			t.Fatalf("read returned %v after %v, want a deadline error after 1m", err, time.Since(start))
		}
		a.Close()
		b.Close()

		srv.Close()
		<-done
		if _, err := n.Dial(context.Background(), "tcp", "svc:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial after close: %v, want connection refused", err)
		}
	})
}

func TestMetricValue(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_total", Help: "x"}, []string{"a", "b"})
	reg.MustRegister(c)
	c.WithLabelValues("1", "p").Add(2)
	c.WithLabelValues("1", "q").Add(3)
	c.WithLabelValues("2", "p").Add(5)
	for _, tc := range []struct {
		want map[string]string
		sum  float64
	}{{nil, 10}, {map[string]string{"a": "1"}, 5}, {map[string]string{"a": "1", "b": "q"}, 3}, {map[string]string{"c": "1"}, 0}} {
		if got := MetricValue(t, reg, "x_total", tc.want); got != tc.sum {
			t.Errorf("MetricValue(%v) = %v, want %v", tc.want, got, tc.sum)
		}
	}
	if got := CounterValue(c.WithLabelValues("2", "p")); got != 5 {
		t.Errorf("CounterValue = %v, want 5", got)
	}
}

func TestFreePorts(t *testing.T) {
	ports := FreePorts(t, 3)
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
	RequireFree(t, ports)
}

func TestBinaryFromEnvironment(t *testing.T) {
	t.Setenv(EnvBinary, "some/logsys")
	if got := Binary(t); !strings.HasSuffix(got, "/some/logsys") {
		t.Fatalf("Binary = %q, want the absolute path of %s", got, EnvBinary)
	}
}
