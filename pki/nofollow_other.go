//go:build !unix

package pki

// oNoFollow is not available here; the Lstat checks of refuseLinks remain.
const oNoFollow = 0
