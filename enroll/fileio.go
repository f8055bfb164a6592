package enroll

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"logsys/pki"
)

const (
	dirPerm    = 0o700
	keyPerm    = 0o600
	publicPerm = 0o644
)

// stagedFile is a fully written and synced temporary file waiting to be
// renamed over its destination.
type stagedFile struct {
	tmp, path string
}

// stage writes data to a temporary file next to path and syncs it.
func stage(path string, data []byte, perm fs.FileMode) (stagedFile, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return stagedFile{}, fmt.Errorf("create directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return stagedFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return stagedFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return stagedFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return stagedFile{}, fmt.Errorf("sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return stagedFile{}, fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	return stagedFile{tmp: f.Name(), path: path}, nil
}

// commit renames every staged file into place back to back (so readers
// see a mixed state for as short a time as possible), then syncs the
// directories. On a staging error nothing is renamed.
func commit(files ...stagedFile) error {
	dirs := map[string]bool{}
	for i, f := range files {
		if err := os.Rename(f.tmp, f.path); err != nil {
			for _, rest := range files[i:] {
				_ = os.Remove(rest.tmp)
			}
			return fmt.Errorf("rename into %s: %w", f.path, err)
		}
		dirs[filepath.Dir(f.path)] = true
	}
	for d := range dirs {
		if err := pki.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// writeFileAtomic writes one file through a temporary file, fsync and rename.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := stage(path, data, perm)
	if err != nil {
		return err
	}
	return commit(f)
}

// removeIfExists removes path; a missing file is not an error.
func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
