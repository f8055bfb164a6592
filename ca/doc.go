// Package ca owns the online issuing service `logsys ca` (Server), which
// holds one environment's intermediate key and signs certificate requests
// over TLS, the single-use bootstrap tokens that authorize a role's first
// certificate (NewToken), and the issuance ledger (Ledger): every
// certificate the Server signs is recorded before it is returned, and a
// revocation reaches every certificate renewed from the revoked one
// (Revoke, Issued; see docs/ca.md). The client side, which obtains, renews and
// keeps a role's certificate current, is package enroll; the protocol both
// speak is package wire.
//
// The identity of every certificate the Server signs comes from the token
// or from the presented, still-valid client certificate, never from the
// request: of a CSR only the public key is used, after its signature has
// been checked.
//
// Wire protocol (JSON over HTTPS, TLS 1.3, one listener):
//
//	POST /v1/bootstrap {"token","csr"}  no client certificate needed
//	POST /v1/renew     {"csr"}          requires a valid client certificate, not revoked nor renewed from a revoked one
//	GET  /v1/trust                      the environment's current trust bundle and CRLs
//
// docs/ca.md is the operator's view.
package ca
