package pki

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File modes of everything logsys writes: private keys, passwords and
// tokens are SecretPerm, certificates and CRLs PublicPerm, directories
// DirPerm.
const (
	DirPerm    fs.FileMode = 0o700
	SecretPerm fs.FileMode = 0o600
	PublicPerm fs.FileMode = 0o644
)

// WriteFile replaces path with data atomically: a temporary file in the
// same directory is written, fsynced and renamed over path, then the
// directory is fsynced. path must lie inside dir (a PKI directory or a
// role's state directory). Missing directories below dir are created
// DirPerm. Nothing below dir is followed if it is a symbolic link: a
// linked path, or a linked or non-directory parent, is refused with a
// *FileError wrapping ErrSymlink that names it. dir itself may be a link.
func WriteFile(dir, path string, data []byte, perm fs.FileMode) error {
	s, err := Stage(dir, path, data, perm)
	if err != nil {
		return err
	}
	return Commit(s)
}

// Staged is a fully written and synced temporary file waiting to be
// renamed over its destination by Commit.
type Staged struct {
	root    *os.Root
	rel     string // destination, relative to root
	tmp     string // temporary file, relative to root
	path    string // destination as given, for errors
	settled bool
}

// Stage writes data to a temporary file next to path (inside dir) and
// syncs it, with the checks of WriteFile. Commit or Discard it.
func Stage(dir, path string, data []byte, perm fs.FileMode) (*Staged, error) {
	rel, err := insideDir(dir, path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, DirPerm); err != nil {
		return nil, fmt.Errorf("create directory %s: %w", dir, err)
	}
	if err := refuseLinks(dir, rel, true); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	s := &Staged{root: root, rel: rel, path: path}
	if err := s.write(data, perm); err != nil {
		s.Discard()
		return nil, err
	}
	return s, nil
}

func (s *Staged) write(data []byte, perm fs.FileMode) error {
	if parent := filepath.Dir(s.rel); parent != "." {
		if err := s.root.MkdirAll(parent, DirPerm); err != nil {
			return fmt.Errorf("create directory for %s: %w", s.path, err)
		}
	}
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	tmp := filepath.Join(filepath.Dir(s.rel), "."+filepath.Base(s.rel)+".tmp-"+hex.EncodeToString(suffix))
	// O_EXCL: never opens an existing file or a planted link.
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	s.tmp = tmp
	if err := f.Chmod(perm); err != nil { // perm regardless of the umask
		f.Close()
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	return nil
}

// Discard removes a staged file that will not be committed. It is a
// no-op after Commit.
func (s *Staged) Discard() {
	if s == nil || s.settled {
		return
	}
	s.settled = true
	if s.tmp != "" {
		_ = s.root.Remove(s.tmp)
	}
	_ = s.root.Close()
}

// Commit renames every staged file into place back to back (so readers
// see a mixed state for as short a time as possible), then fsyncs their
// directories. A destination that became a link since it was staged is
// refused; the files not yet renamed are then discarded.
func Commit(files ...*Staged) error {
	defer func() {
		for _, s := range files {
			s.Discard()
		}
	}()
	type dirKey struct {
		root *os.Root
		dir  string
	}
	var dirs []dirKey // in rename order, each directory once
	seen := map[string]bool{}
	for _, s := range files {
		if err := refuseLinks(s.root.Name(), s.rel, true); err != nil {
			return err
		}
		if err := s.root.Rename(s.tmp, s.rel); err != nil {
			return fmt.Errorf("rename into %s: %w", s.path, err)
		}
		s.tmp = ""
		d := dirKey{s.root, filepath.Dir(s.rel)}
		if key := filepath.Join(s.root.Name(), d.dir); !seen[key] {
			seen[key] = true
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		if err := syncRootDir(d.root, d.dir); err != nil {
			return err
		}
	}
	return nil
}

func syncRootDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", filepath.Join(root.Name(), dir), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", filepath.Join(root.Name(), dir), err)
	}
	return nil
}

// RemoveFile removes path inside dir; a missing file is not an error. A
// linked parent is refused as in WriteFile; a link at path itself is
// removed (the link, never its target).
func RemoveFile(dir, path string) error {
	rel, err := insideDir(dir, path)
	if err != nil {
		return err
	}
	if err := refuseLinks(dir, rel, false); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	defer root.Close()
	if err := root.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// ReadSecret reads a secret file (a key or password) inside dir without
// following a link at path or in its parents below dir.
func ReadSecret(dir, path string) ([]byte, error) {
	rel, err := insideDir(dir, path)
	if err != nil {
		return nil, err
	}
	if err := refuseLinks(dir, rel, true); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fileErrf(path, ErrMalformed, "not a regular file")
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// insideDir returns path relative to dir, refusing one outside it.
func insideDir(dir, path string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("write %s: no directory given", path)
	}
	rel, err := filepath.Rel(filepath.Clean(dir), filepath.Clean(path))
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s is not inside %s", path, dir)
	}
	return rel, nil
}

// refuseLinks checks, with Lstat, every component of rel below dir: each
// existing parent must be a real directory and, with final, the path
// itself must not be a link or a directory. A missing component ends the
// walk (it will be created). Errors name the offending path.
func refuseLinks(dir, rel string, final bool) error {
	parts := strings.Split(rel, string(filepath.Separator))
	cur := dir
	for i, p := range parts {
		cur = filepath.Join(cur, p)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("inspect %s: %w", cur, err)
		}
		last := i == len(parts)-1
		switch {
		case fi.Mode()&fs.ModeSymlink != 0 && (!last || final):
			return fileErrf(cur, ErrSymlink, "is a symbolic link; files inside the PKI directory are never followed through links")
		case !last && !fi.IsDir():
			return fileErrf(cur, ErrMalformed, "not a directory")
		case last && final && fi.IsDir():
			return fileErrf(cur, ErrMalformed, "is a directory, want a file")
		}
	}
	return nil
}

// refuseLinksBelow walks dir without following links and refuses the
// first symbolic link below it, naming it. Every command that writes into
// a PKI directory runs it first, so no read, chmod or write of theirs can
// reach a file outside the directory through a planted link.
func refuseLinksBelow(dir string) error {
	real, err := filepath.EvalSymlinks(dir) // dir itself may be a link
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect %s: %w", dir, err)
	}
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("inspect %s: %w", p, err)
		}
		if p != real && d.Type()&fs.ModeSymlink != 0 {
			shown := p
			if rel, rerr := filepath.Rel(real, p); rerr == nil {
				shown = filepath.Join(dir, rel)
			}
			return fileErrf(shown, ErrSymlink, "is a symbolic link; files inside the PKI directory are never followed through links")
		}
		return nil
	})
}

// chmodNoFollow sets perm on the file at path (inside dir) through a
// descriptor opened without following a link, and returns its old mode.
func chmodNoFollow(dir, path string, perm fs.FileMode) (fs.FileMode, error) {
	rel, err := insideDir(dir, path)
	if err != nil {
		return 0, err
	}
	if err := refuseLinks(dir, rel, true); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode().Perm() == perm {
		return perm, nil
	}
	if err := f.Chmod(perm); err != nil {
		return 0, fmt.Errorf("tighten permissions of %s: %w", path, err)
	}
	return fi.Mode().Perm(), nil
}
