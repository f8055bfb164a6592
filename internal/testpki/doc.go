// Package testpki builds throw-away certificate hierarchies for tests: one
// root, one intermediate per environment, leaves carrying the SPIFFE URI SAN
// identity plus DNS/IP SANs, CRLs, and the same on-disk layout that
// `logsys pki init` produces. It is pure crypto/x509, fast (ECDSA P-256 by
// default) and takes its clock as an input. It must only be imported by tests.
package testpki
