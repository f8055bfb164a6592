package pki

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// AppendLine appends line and a newline to the file at path inside dir in
// one write and fsyncs it: once AppendLine returns, the line survives a
// crash. A missing file is created with perm and its directory fsynced.
// Appenders of one file, in this process or another, take an exclusive
// lock around each write (as TrimTail does), so lines never interleave.
// line must not contain a newline. Links below dir are refused as in
// WriteFile.
func AppendLine(dir, path string, line []byte, perm fs.FileMode) error {
	if bytes.IndexByte(line, '\n') >= 0 {
		return fmt.Errorf("append %s: the line contains a newline", path)
	}
	f, created, closeRoot, err := openLog(dir, path, os.O_WRONLY|os.O_APPEND, perm)
	if err != nil {
		return err
	}
	defer closeRoot()
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	if _, err := f.Write(append(line[:len(line):len(line)], '\n')); err != nil {
		return fmt.Errorf("append %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if created {
		if err := syncDir(filepath.Dir(path)); err != nil {
			return err
		}
	}
	return nil
}

// ReadLines reads the file at path and splits it into its lines, each
// ended by a newline (not included), and tail: the bytes after the last
// newline, which are a line torn by a crash during its write, or one being
// written right now. A missing file has no lines.
func ReadLines(path string) (lines [][]byte, tail []byte, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	for rest := data[:end]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		lines = append(lines, rest[:i])
		rest = rest[i+1:]
	}
	return lines, data[end:], nil
}

// TrimTail removes what follows the last newline of the file at path
// inside dir (a line torn by a crash during AppendLine), under the append
// lock, and returns how many bytes it removed. A missing file is left
// missing.
func TrimTail(dir, path string) (int, error) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	f, _, closeRoot, err := openLog(dir, path, os.O_RDWR, SecretPerm)
	if err != nil {
		return 0, err
	}
	defer closeRoot()
	defer f.Close()
	if err := lockFile(f); err != nil {
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	if end == len(data) {
		return 0, nil
	}
	if err := f.Truncate(int64(end)); err != nil {
		return 0, fmt.Errorf("trim %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("sync %s: %w", path, err)
	}
	return len(data) - end, nil
}

// openLog opens (creating with perm, when missing) the regular file at
// path inside dir without following links below dir.
func openLog(dir, path string, flag int, perm fs.FileMode) (f *os.File, created bool, closeRoot func(), err error) {
	rel, err := insideDir(dir, path)
	if err != nil {
		return nil, false, nil, err
	}
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return nil, false, nil, fmt.Errorf("create directory %s: %w", dir, err)
	}
	if err := refuseLinks(dir, rel, true); err != nil {
		return nil, false, nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, false, nil, fmt.Errorf("open %s: %w", path, err)
	}
	fail := func(err error) (*os.File, bool, func(), error) {
		root.Close()
		return nil, false, nil, err
	}
	if parent := filepath.Dir(rel); parent != "." {
		if err := root.MkdirAll(parent, DirPerm); err != nil {
			return fail(fmt.Errorf("create directory for %s: %w", path, err))
		}
	}
	f, err = root.OpenFile(rel, flag|os.O_CREATE|os.O_EXCL, perm)
	if err == nil {
		created = true
		if err := f.Chmod(perm); err != nil { // perm regardless of the umask
			f.Close()
			return fail(fmt.Errorf("open %s: %w", path, err))
		}
	} else if errors.Is(err, fs.ErrExist) {
		f, err = root.OpenFile(rel, flag|oNoFollow, 0)
	}
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", path, err))
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return fail(fileErrf(path, ErrMalformed, "not a regular file"))
	}
	return f, created, func() { root.Close() }, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
