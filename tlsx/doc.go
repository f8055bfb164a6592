// Package tlsx owns logsys's use of TLS: building *tls.Config values from
// one hardened base, certificate and trust-bundle sources that reload from
// disk, or take material pushed in memory (Update), without restarts, peer
// authorization on SPIFFE IDs, and handshake metrics. It does nothing else:
// issuing certificates belongs to pki, obtaining them from the CA to enroll.
package tlsx
