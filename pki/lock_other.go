//go:build !unix

package pki

import "os"

// lockFile is a no-op here: writers of one file are not serialized
// across processes.
func lockFile(*os.File) error { return nil }
