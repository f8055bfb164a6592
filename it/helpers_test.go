package it

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cluster returns the running it/kafka.sh cluster, skipping the test when
// there is none, or failing it when CI is set.
func cluster(t *testing.T) Cluster {
	t.Helper()
	c, ok, err := ClusterFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set but %s is not: .ci/run must start Kafka (eval \"$(it/kafka.sh start PKI_DIR)\")", EnvBrokers)
		}
		t.Skipf("no Kafka: set %s (eval \"$(it/kafka.sh start PKI_DIR)\")", EnvBrokers)
	}
	return c
}

// requireLeaf fails the test when the PKI lacks env/name (for example when
// `logsys pki init` ran without --envs dev,staging).
func requireLeaf(t *testing.T, c Cluster, env, name string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(c.PKI, env, name, "cert.pem")); err != nil {
		t.Fatalf("the PKI needs %s/%s (logsys pki init --envs %s,staging): %v", env, name, c.Env, err)
	}
}

// client returns a franz-go client of identity name, closed with the test.
func client(t *testing.T, c Cluster, name string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := c.NewClient(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// isDenied reports whether err is one of Kafka's authorization errors.
func isDenied(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// apiVersions dials addr with cfg, completes the TLS handshake and one
// ApiVersions (v0) round trip: the broker answers it before any
// authorization, so an error means the TLS layer refused us. TLS 1.3
// clients learn of a refused certificate only on their first read.
func apiVersions(addr string, cfg *tls.Config) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	cfg = cfg.Clone()
	cfg.ServerName = host
	// The timeout covers the handshake: generous, a busy broker JVM on two
	// cores has taken more than 5s to answer one.
	d := &net.Dialer{Timeout: 30 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	// Request header v1: api key 18, version 0, correlation id, client id.
	const clientID = "logsys-it"
	req := binary.BigEndian.AppendUint16(nil, 18)
	req = binary.BigEndian.AppendUint16(req, 0)
	req = binary.BigEndian.AppendUint32(req, 7)
	req = binary.BigEndian.AppendUint16(req, uint16(len(clientID)))
	req = append(req, clientID...)
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := conn.Write(append(frame, req...)); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	var hdr [10]byte // size, correlation id, error code
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if corr := binary.BigEndian.Uint32(hdr[4:8]); corr != 7 {
		return fmt.Errorf("correlation id %d, want 7", corr)
	}
	if code := int16(binary.BigEndian.Uint16(hdr[8:10])); code != 0 {
		return fmt.Errorf("api versions: %w", kerr.ErrorForCode(code))
	}
	return nil
}

// isTLSRefusal reports whether err is the broker's TLS alert (as opposed
// to, say, a timeout or a refused TCP connection).
func isTLSRefusal(err error) bool {
	return err != nil && strings.Contains(err.Error(), "remote error: tls:")
}

// ctl runs it/kafka.sh with args.
func ctl(t *testing.T, c Cluster, args ...string) {
	t.Helper()
	if c.Ctl == "" {
		t.Fatalf("%s is unset", EnvCtl)
	}
	ctx := timeout(t, 5*time.Minute)
	out, err := exec.CommandContext(ctx, c.Ctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", c.Ctl, args, err, out)
	}
	t.Logf("%s %v:\n%s", filepath.Base(c.Ctl), args, out)
}

func runID() string { return fmt.Sprintf("it-%d", time.Now().UnixNano()) }
