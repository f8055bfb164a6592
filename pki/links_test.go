package pki

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// outsideFile is a file outside the PKI directory that a planted link
// points at; it returns a check that its content and mode are unchanged.
func outsideFile(t *testing.T, content string, mode os.FileMode) (string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "system-file")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path, func() {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, []byte(content)) {
			t.Errorf("outside file content changed to %q", data)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("outside file mode changed from %04o to %04o", mode, fi.Mode().Perm())
		}
	}
}

// TestInitRefusesSymlinks replays issue 12 item 7: a store.pass (and
// other files) linked to a file outside the PKI directory. Init must fail
// naming the link and leave the outside file untouched, byte for byte
// and mode.
func TestInitRefusesSymlinks(t *testing.T) {
	tests := []struct {
		name    string
		content string // outside file: long enough to pass as a password
		link    func(Layout) string
	}{
		{"store.pass", "0123456789abcdef0123456789abcdef\n", func(l Layout) string { return l.PassFile("dev", "gateway") }},
		{"short store.pass (would be replaced)", "x\n", func(l Layout) string { return l.PassFile("dev", "gateway") }},
		{"leaf key", "not a key\n", func(l Layout) string { return l.KeyFile("dev", "gateway") }},
		{"truststore", "not a store\n", func(l Layout) string { return l.TruststoreJKS("dev", "gateway") }},
		{"pki.json", `{"version":1}` + "\n", func(l Layout) string { return l.MetaFile() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newPKI(t, []string{"dev"}, []string{"gateway"})
			l := Layout{Dir: dir}
			target, unchanged := outsideFile(t, tt.content, 0o644)
			link := tt.link(l)
			if err := os.Remove(link); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			_, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(t0)})
			if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), link) {
				t.Fatalf("init error = %v, want ErrSymlink naming %s", err, link)
			}
			unchanged()
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link itself was replaced (%v)", err)
			}
			// The other writing commands refuse it too.
			if _, err := Issue(context.Background(), IssueOptions{Dir: dir, Env: "dev", Name: "gateway", Now: at(t0)}); !errors.Is(err, ErrSymlink) {
				t.Errorf("issue error = %v, want ErrSymlink", err)
			}
			if _, err := Rotate(context.Background(), RotateOptions{Dir: dir, Env: "dev", Now: at(t0)}); !errors.Is(err, ErrSymlink) {
				t.Errorf("rotate error = %v, want ErrSymlink", err)
			}
			if _, err := Revoke(context.Background(), RevokeOptions{Dir: dir, Env: "dev", Name: "gateway", Now: at(t0)}); !errors.Is(err, ErrSymlink) {
				t.Errorf("revoke error = %v, want ErrSymlink", err)
			}
			unchanged()
		})
	}
}

// TestInitRefusesSymlinkedDirectory plants a leaf directory that is a
// link to a directory outside the PKI.
func TestInitRefusesSymlinkedDirectory(t *testing.T) {
	dir := newPKI(t, []string{"dev"}, []string{"gateway"})
	l := Layout{Dir: dir}
	outside := t.TempDir()
	if err := os.RemoveAll(l.LeafDir("dev", "gateway")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, l.LeafDir("dev", "gateway")); err != nil {
		t.Fatal(err)
	}
	_, err := Init(context.Background(), InitOptions{Dir: dir, Now: at(t0)})
	if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), l.LeafDir("dev", "gateway")) {
		t.Fatalf("init error = %v, want ErrSymlink naming the leaf directory", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("init wrote %d files through the link", len(entries))
	}
}

// TestPKIDirMayBeALink: the PKI directory itself may be a link (only
// what is inside it is never followed).
func TestPKIDirMayBeALink(t *testing.T) {
	real := newPKI(t, []string{"dev"}, []string{"gateway"})
	link := filepath.Join(t.TempDir(), "pki-link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	runInit(t, link, t0)
	if _, err := Issue(context.Background(), IssueOptions{Dir: link, Env: "dev", Name: "gateway", Now: at(t0)}); err != nil {
		t.Fatalf("issue through a linked PKI directory: %v", err)
	}
}

func TestWriteFileRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	target, unchanged := outsideFile(t, "keep me\n", 0o640)
	outsideDir := t.TempDir()
	if err := os.Symlink(target, filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outsideDir, filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path string }{
		{"linked file", filepath.Join(dir, "key.pem")},
		{"linked parent", filepath.Join(dir, "sub", "key.pem")},
	}
	for _, tt := range tests {
		err := WriteFile(dir, tt.path, []byte("secret"), SecretPerm)
		if !errors.Is(err, ErrSymlink) {
			t.Errorf("%s: WriteFile error = %v, want ErrSymlink", tt.name, err)
		}
		if _, err := ReadSecret(dir, tt.path); !errors.Is(err, ErrSymlink) {
			t.Errorf("%s: ReadSecret error = %v, want ErrSymlink", tt.name, err)
		}
	}
	if _, err := chmodNoFollow(dir, filepath.Join(dir, "key.pem"), SecretPerm); !errors.Is(err, ErrSymlink) {
		t.Errorf("chmod through a link: %v, want ErrSymlink", err)
	}
	if err := WriteFile(dir, filepath.Join(t.TempDir(), "x"), nil, SecretPerm); err == nil {
		t.Error("WriteFile wrote outside its directory")
	}
	unchanged()
	if entries, _ := os.ReadDir(outsideDir); len(entries) != 0 {
		t.Errorf("%d files written through the linked parent", len(entries))
	}
}

// TestCommitRefusesLinkPlantedAfterStage swaps the destination for a
// link between Stage and Commit.
func TestCommitRefusesLinkPlantedAfterStage(t *testing.T) {
	dir := t.TempDir()
	target, unchanged := outsideFile(t, "keep me\n", 0o644)
	path := filepath.Join(dir, "env", "crl.pem")
	s, err := Stage(dir, path, []byte("new"), PublicPerm)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	if err := Commit(s); !errors.Is(err, ErrSymlink) {
		t.Fatalf("Commit error = %v, want ErrSymlink", err)
	}
	unchanged()
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary file left behind: %v", entries)
	}
}

func TestWriteFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "dev", "gateway", "key.pem")
	if err := WriteFile(dir, path, []byte("k"), SecretPerm); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: SecretPerm, filepath.Dir(path): DirPerm, filepath.Join(dir, "dev"): DirPerm, dir: DirPerm} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", p, fi.Mode().Perm(), want)
		}
	}
	if err := WriteFile(dir, path, []byte("k2"), SecretPerm); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "k2" {
		t.Errorf("content %q after replace", data)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
	if err := RemoveFile(dir, path); err != nil {
		t.Fatal(err)
	}
	if err := RemoveFile(dir, path); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
}
