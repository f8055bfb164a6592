// Package ca owns the online issuing service `logsys ca` (Server), which
// holds one environment's intermediate key and signs certificate requests
// over TLS, the single-use bootstrap tokens that authorize a role's first
// certificate (NewToken), and the issuance ledger (Ledger): every
// certificate the Server signs is recorded before it is returned, and a
// revocation reaches every certificate renewed from the revoked one
// (Revoke, Issued; see docs/ca.md), and the intermediate rollover that
// waits for the fleet (PlanRollover, Rotate, FetchStatus). The client side, which obtains, renews and
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
//	POST /v1/bootstrap {"token","csr"}     no client certificate needed
//	POST /v1/renew     {"csr","report"}   requires a valid client certificate, not revoked nor renewed from a revoked one
//	GET  /v1/trust                         the environment's current trust bundle and CRLs
//	POST /v1/trust     {"report"}         the same, reporting what the role trusts (client certificate required)
//	GET  /v1/status                        the rollover status, for the admin names only
//
// A report names the role's identity and the trust anchors its TLS
// sources hold; it is accepted only from a certificate of that identity.
// The CA activates a new intermediate once every member (a live
// certificate lineage of the ledger) reported it, and retires the
// previous one once no leaf it signed is left: PlanRollover, a pure
// function of the ledger, the reports, the configuration and the time
// (docs/ca.md, "Intermediate rollover").
//
// docs/ca.md is the operator's view.
package ca
