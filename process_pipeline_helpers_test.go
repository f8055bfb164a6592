package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gatewayClient is the dev `client` of pkiDir, trusting its ca-chain.pem.
func gatewayClient(t *testing.T, pkiDir string) *http.Client {
	t.Helper()
	dev := filepath.Join(pkiDir, "dev")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dev, "client", "cert.pem"), filepath.Join(dev, "client", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := os.ReadFile(filepath.Join(dev, "ca-chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(chain) {
		t.Fatal("ca-chain.pem holds no certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}, MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// postEvent POSTs one JSON event and returns the status (0 when the
// request failed).
func postEvent(c *http.Client, gateway, body string) int {
	res, err := c.Post(gateway+"/api/v1/logs", "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// storedEvent is what GET /api/v1/logs returns of an event.
type storedEvent struct {
	ID       string `json:"id"`
	Message  string `json:"message"`
	Source   string `json:"source"`
	Identity string `json:"identity"`
}

// storedEvents returns the events of source in the store (up to limit),
// or an error status.
func storedEvents(t *testing.T, c *http.Client, gateway, source string, limit int) ([]storedEvent, int) {
	t.Helper()
	res, err := c.Get(gateway + "/api/v1/logs?source=" + source + "&limit=" + strconv.Itoa(limit))
	if err != nil {
		return nil, 0
	}
	defer res.Body.Close()
	var body struct {
		Data struct {
			Count  int           `json:"count"`
			Events []storedEvent `json:"events"`
		} `json:"data"`
	}
	if res.StatusCode != http.StatusOK {
		return nil, res.StatusCode
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET /api/v1/logs: %v", err)
	}
	return body.Data.Events, res.StatusCode
}
