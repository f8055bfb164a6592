package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvBinary names a logsys binary built from this tree to use instead of
// building one (the test script builds it once for every package).
const EnvBinary = "LOGSYS_TEST_BIN"

var built struct {
	once      sync.Once
	dir, path string
	err       error
}

// Binary returns the logsys command built from this module, once per test
// process (or the one EnvBinary names). A package that calls it runs its
// tests through Main, which removes the build.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		if p := os.Getenv(EnvBinary); p != "" {
			built.path, built.err = filepath.Abs(p)
			return
		}
		root, err := moduleRoot()
		if err != nil {
			built.err = err
			return
		}
		if built.dir, built.err = os.MkdirTemp("", "logsys-bin-"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "logsys")
		cmd := exec.Command("go", "build", "-o", built.path, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

// Main runs the tests of m and removes the binary Binary built.
func Main(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(mod), nil
}
