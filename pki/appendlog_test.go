package pki

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAppendLineIsDurableAndWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dev", "log.jsonl")
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				line := bytes.Repeat([]byte{byte('a' + w)}, 100+i) // long enough to tear if writes interleaved
				if err := AppendLine(dir, path, line, SecretPerm); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	lines, tail, err := ReadLines(path)
	if err != nil || len(tail) != 0 {
		t.Fatalf("read: %v, tail %q", err, tail)
	}
	if len(lines) != writers*each {
		t.Fatalf("%d lines, want %d", len(lines), writers*each)
	}
	for i, l := range lines {
		if len(bytes.Trim(l, string(l[:1]))) != 0 {
			t.Fatalf("line %d mixes writers: %q", i+1, l)
		}
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != SecretPerm {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if err := AppendLine(dir, path, []byte("a\nb"), SecretPerm); err == nil {
		t.Error("a line with a newline was appended")
	}
}

func TestTrimTailRemovesOnlyATornLastLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log.jsonl")
	for _, l := range []string{"one", "two"} {
		if err := AppendLine(dir, path, []byte(l), SecretPerm); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := TrimTail(dir, path); n != 0 || err != nil {
		t.Fatalf("trim of a whole file: %d %v", n, err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	fmt.Fprint(f, `{"half a rec`)
	f.Close()
	lines, tail, err := ReadLines(path)
	if err != nil || len(lines) != 2 || string(tail) != `{"half a rec` {
		t.Fatalf("read with a torn tail: %q %q %v", lines, tail, err)
	}
	if n, err := TrimTail(dir, path); n != len(`{"half a rec`) || err != nil {
		t.Fatalf("trim: %d %v", n, err)
	}
	if err := AppendLine(dir, path, []byte("three"), SecretPerm); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(path); string(data) != "one\ntwo\nthree\n" {
		t.Fatalf("after trim and append: %q", data)
	}
	if n, err := TrimTail(dir, filepath.Join(dir, "missing")); n != 0 || err != nil {
		t.Fatalf("trim of a missing file: %d %v", n, err)
	}
}

func TestAppendLineRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	outside, unchanged := outsideFile(t, "system\n", 0o644)
	path := filepath.Join(dir, "log.jsonl")
	if err := os.Symlink(outside, path); err != nil {
		t.Fatal(err)
	}
	if err := AppendLine(dir, path, []byte("x"), SecretPerm); !errors.Is(err, ErrSymlink) {
		t.Errorf("append through a link: %v, want ErrSymlink", err)
	}
	if _, err := TrimTail(dir, path); !errors.Is(err, ErrSymlink) {
		t.Errorf("trim through a link: %v, want ErrSymlink", err)
	}
	unchanged()
}
