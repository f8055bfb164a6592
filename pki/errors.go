package pki

import (
	"errors"
	"fmt"
)

// Sentinel errors; test them with errors.Is. Errors about a file are
// wrapped in *FileError, which names the file.
var (
	ErrMalformed     = errors.New("malformed file")
	ErrKeyMismatch   = errors.New("private key does not match certificate")
	ErrWrongEnv      = errors.New("certificate belongs to another environment")
	ErrWrongIssuer   = errors.New("certificate not signed by the expected CA")
	ErrExpired       = errors.New("certificate expired")
	ErrNotYetValid   = errors.New("certificate not yet valid")
	ErrRevoked       = errors.New("certificate revoked")
	ErrIdentity      = errors.New("certificate identity rejected")
	ErrStaleCRL      = errors.New("crl is past its nextUpdate")
	ErrRootKeyNeeded = errors.New("root key needed")
	ErrSymlink       = errors.New("symbolic link refused")
)

// FileError is an error about one file of the PKI directory.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

func fileErr(path string, err error) error { return &FileError{Path: path, Err: err} }

func fileErrf(path string, sentinel error, format string, args ...any) error {
	return &FileError{Path: path, Err: fmt.Errorf("%w: "+format, append([]any{sentinel}, args...)...)}
}
