// Package pki owns logsys's certificate authority: keys, the CA hierarchy
// (one root, one intermediate per environment), leaf issuance, revocation
// through CRLs, keystore export (PEM, PKCS#12, JKS) and renewal decisions.
// It is the only leaf signer (Issuer.SignLeaf, also used by the online CA
// of package ca), the only file writer (atomic replacement with WriteFile,
// Stage, Commit; durable appends with AppendLine) and the only table of
// file paths (Layout). Nothing inside a PKI directory is followed through
// a symbolic link.
//
// Time is always an input: every operation takes a clock (Now) so expiry
// edges can be tested exactly.
//
// On-disk layout under a directory DIR (see Layout for the path helpers):
//
//	DIR/pki.json                      trust domain, key type, envs, names, hosts
//	DIR/root/ca.pem, ca-key.pem       root CA (10 years); the key may live elsewhere
//	DIR/<env>/ca.pem, ca-key.pem      current intermediate of the environment (1 year, pathLen 0)
//	DIR/<env>/ca-chain.pem            current intermediate then root
//	DIR/<env>/crl.pem                 CRL signed by the current intermediate
//	DIR/<env>/ca-prev.pem, ca-prev-key.pem, crl-prev.pem
//	                                  previous intermediate after "rotate --intermediate"
//	DIR/<env>/bundle.pem              current intermediate, previous intermediate, root
//	                                  (present only during an intermediate overlap window)
//	DIR/<env>/<name>/cert.pem         leaf followed by its intermediate
//	DIR/<env>/<name>/key.pem          PKCS#8 private key
//	DIR/<env>/<name>/keystore.p12|jks key with full chain
//	DIR/<env>/<name>/truststore.p12|jks the environment's intermediate(s) only, never the root
//	DIR/<env>/<name>/store.pass       random password of the four stores
//	DIR/<env>/ledger.jsonl            what the online CA (package ca) issued, appended
//	DIR/<env>/tokens/pending|used/    bootstrap token records of the online CA
//
// Trust consumers load bundle.pem when it exists and ca-chain.pem otherwise
// (Layout.TrustFile).
package pki
