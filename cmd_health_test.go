package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"logsys/pki"
	"logsys/tlsx"
)

// runHealth runs `logsys health args...` and returns its exit code.
func runHealth(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCmd()
	var out strings.Builder
	root.SetOut(&out)
	root.SetArgs(append([]string{"health", "--timeout", "5s"}, args...))
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0, out.String()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code, err.Error()
	}
	return -1, err.Error()
}

func TestHealthLiveness(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"status":"UP"}`)
	}))
	defer up.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tests := []struct {
		name, url string
		code      int
		reason    string
	}{
		{"up", up.URL + "/healthz", 0, "UP"},
		{"a base URL probes /healthz", up.URL, 0, "UP: " + up.URL + "/healthz"},
		{"not 200", up.URL + "/nothing", 1, "404"},
		{"connection refused", closedURL + "/healthz", 1, "refused"},
		{"not loopback", "http://192.0.2.1:9080/healthz", 1, "loopback"},
		{"https is for --url", "https://127.0.0.1:9080/healthz", 1, "http URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := runHealth(t, "--liveness", tt.url)
			if code != tt.code || !strings.Contains(msg, tt.reason) {
				t.Errorf("exit %d %q, want %d with %q", code, msg, tt.code, tt.reason)
			}
			if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Errorf("reason is not one line: %q", msg)
			}
		})
	}
}

// TestHealthReadinessOverMTLS probes a real mutual-TLS listener that, like
// the roles, admits only named identities of its own environment.
func TestHealthReadinessOverMTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if _, err := pki.Init(context.Background(), pki.InitOptions{Dir: dir, Envs: []string{"dev", "staging"},
		Names: []string{"gateway", "prometheus", "client"}}); err != nil {
		t.Fatal(err)
	}
	sc := tlsx.LayoutSource(dir, "dev", "gateway")
	sc.Logger = slog.New(slog.DiscardHandler)
	src, err := tlsx.NewSource(sc)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tlsx.ServerConfig(src, tlsx.AuthorizeNames("logsys.local", "dev", "prometheus"), tlsx.Options{NextProtos: tlsx.ProtosHTTP})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			fmt.Fprint(w, `{"status":"healthy"}`)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	defer srv.Close()
	base := "https://" + ln.Addr().String()
	tests := []struct {
		name   string
		args   []string
		code   int
		reason string
	}{
		{"ready", []string{"--url", base + "/readyz", "--env", "dev", "--name", "prometheus"}, 0, "UP"},
		{"a base URL probes /readyz", []string{"--url", base, "--env", "dev", "--name", "prometheus"}, 0, "UP: " + base + "/readyz"},
		{"not ready", []string{"--url", base + "/other", "--env", "dev", "--name", "prometheus"}, 1, "503"},
		{"identity not admitted", []string{"--url", base + "/readyz", "--env", "dev", "--name", "client"}, 1, "DOWN"},
		{"other environment", []string{"--url", base + "/readyz", "--env", "staging", "--name", "prometheus"}, 1, "DOWN"},
		{"plain http", []string{"--url", "http://" + ln.Addr().String() + "/readyz"}, 1, "https URL"},
		{"both modes", []string{"--url", base, "--liveness", "http://127.0.0.1:1/healthz"}, -1, "none of the others"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := runHealth(t, append([]string{"--pki-dir", dir}, tt.args...)...)
			if code != tt.code || !strings.Contains(msg, tt.reason) {
				t.Errorf("exit %d %q, want %d with %q", code, msg, tt.code, tt.reason)
			}
		})
	}
}
