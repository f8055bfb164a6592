package testutil

import (
	"net"
	"strconv"
	"testing"
)

// FreePorts reserves n distinct loopback ports and releases them, for a
// process under test that must be told its ports in advance. Another
// process may take one in between: prefer port 0 wherever the code under
// test reports what it bound.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// RequireFree fails the test for every port something still listens on.
func RequireFree(t testing.TB, ports []int) {
	t.Helper()
	for _, p := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Errorf("port %d is still taken: %v", p, err)
			continue
		}
		ln.Close()
	}
}
