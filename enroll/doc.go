// Package enroll is the client side of `logsys ca`: it obtains a role's
// certificate with a single-use bootstrap token, renews it with the current
// certificate at 2/3 of its lifetime, keeps the environment's trust bundle
// and CRLs current, and pushes every new set straight into the role's
// tlsx.Source (Source.Update), so the next handshake uses it. The key never
// leaves the process and its state directory (key.pem 0600, directories
// 0700); the files there are for restarts only.
//
// Trust is pinned: the root of the CA bundle a role starts with is kept in
// the state directory, the CA must present spiffe://<td>/<env>/ca under an
// intermediate signed by that root, and every intermediate, chain and CRL
// the CA hands out must chain to it. Material that does not is refused,
// logged and counted (logsys_enroll_rejected_total{reason}); the old
// material stays in use.
//
// Decisions are pure functions of a clock (renewalTime, backoff, health),
// so they are tested at their edges and the Renewer runs on a fake clock.
package enroll
