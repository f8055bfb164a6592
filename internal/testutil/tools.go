package testutil

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// NeedTool returns the path of an external program (openssl, keytool),
// skipping the test when it is missing, or failing it when CI is set.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required when CI is set: %v", name, err)
		}
		t.Skipf("SKIP: %s not installed; interop test not run", name)
	}
	return p
}

// RunTool runs name with args, bounded by a minute, and returns its
// combined output.
func RunTool(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// CopyFile copies from to to (mode 0600).
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
