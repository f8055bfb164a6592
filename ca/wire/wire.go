// Package wire is the JSON protocol of `logsys ca`, shared by the server
// (package ca) and its client (package enroll): the paths, the request and
// response bodies, and the reserved identity name of the CA itself. It
// holds no logic and imports nothing of logsys, so a role that only
// enrolls does not link the issuing service.
package wire

import "time"

// API paths.
const (
	PathBootstrap = "/v1/bootstrap"
	PathRenew     = "/v1/renew"
	// PathTrust answers GET without a client certificate (a bootstrap
	// needs the bundle first) and POST with a TrustRequest, authenticated
	// by the client certificate: the fetch that reports what it trusts.
	PathTrust = "/v1/trust"
	// PathStatus is the rollover status, for the operator identities only.
	PathStatus = "/v1/status"
)

// CAName is the reserved workload name of the CA's own serving
// certificate, spiffe://<td>/<env>/ca: no token or renewal grants it, and
// clients accept no other server.
const CAName = "ca"

// IssueRequest is the body of POST /v1/bootstrap and /v1/renew.
type IssueRequest struct {
	Token string `json:"token,omitempty"` // bootstrap only
	CSR   string `json:"csr"`             // PEM CERTIFICATE REQUEST
	// Report (renewal only) is what the role trusts while it renews.
	Report *Report `json:"report,omitempty"`
}

// MaxAnchors bounds the fingerprints of one Report.
const MaxAnchors = 16

// Report says which trust anchors a role holds: the ones loaded and in
// use by its TLS sources, not merely downloaded. The CA accepts it only
// from a client certificate of exactly Identity.
type Report struct {
	Identity string `json:"identity"` // spiffe://<td>/<env>/<name> of the reporting role
	// Anchors are the lowercase hex SHA-256 of the DER of each anchor
	// (the environment's intermediates), sorted, at most MaxAnchors.
	Anchors []string `json:"anchors"`
}

// TrustRequest is the body of POST /v1/trust.
type TrustRequest struct {
	Report Report `json:"report"`
}

// Trust is the environment's trust material, PEM encoded, named after
// the files of the pki layout.
type Trust struct {
	CA     string `json:"ca"`               // ca.pem: current intermediate
	Chain  string `json:"chain"`            // ca-chain.pem: current intermediate, root
	Bundle string `json:"bundle,omitempty"` // bundle.pem: only during an intermediate overlap
	CRL    string `json:"crl"`              // crl.pem: every CRL of the environment
}

// IssueResponse answers a successful bootstrap or renewal.
type IssueResponse struct {
	Certificate string `json:"certificate"` // leaf then its intermediate
	Trust       Trust  `json:"trust"`
}

// ErrorResponse answers a refusal: a stable reason, no internals.
type ErrorResponse struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
}

// Status answers GET /v1/status: the phase of the environment's
// intermediate rollover and what each member of the environment trusts.
type Status struct {
	Env   string    `json:"env"`
	At    time.Time `json:"at"`
	Phase string    `json:"phase"` // done, prepared, propagating, active, retiring
	// Since is when the phase began (zero when no rollover ever happened).
	Since time.Time `json:"since,omitzero"`
	// Current is ca.pem: during a rollover, the next intermediate.
	Current Intermediate `json:"current"`
	// Previous is ca-prev.pem during a rollover; Retired the intermediate
	// whose removal the retiring phase waits to see reported.
	Previous *Intermediate `json:"previous,omitempty"`
	Retired  string        `json:"retired,omitempty"`
	// Signer is the SHA-256 of the intermediate that signs new leaves.
	Signer string `json:"signer"`
	// Ready of Counted members hold what the phase waits for (the next
	// intermediate; in retiring, no longer the retired one).
	Ready   int `json:"ready"`
	Counted int `json:"counted"`
	// Waiting names the members the phase waits for.
	Waiting []string `json:"waiting,omitempty"`
	// Forced is why the next intermediate was activated before every
	// member reported it: max_wait or previous_expiring.
	Forced string `json:"forced,omitempty"`
	// PreviousLeaves are the unexpired leaves the previous intermediate
	// signed, which retirement waits for (active phase).
	PreviousLeaves []Leaf `json:"previous_leaves,omitempty"`
	// MinPropagation and MaxWait are the CA's rule (Go durations; MaxWait
	// "0s": no maximum).
	MinPropagation string   `json:"min_propagation"`
	MaxWait        string   `json:"max_wait"`
	Members        []Member `json:"members"`
}

// Intermediate identifies an intermediate CA certificate.
type Intermediate struct {
	Serial   string    `json:"serial"`
	SHA256   string    `json:"sha256"`
	NotAfter time.Time `json:"not_after"`
}

// Leaf is one certificate in a Status.
type Leaf struct {
	Identity string    `json:"identity"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	File     string    `json:"file,omitempty"` // a leaf file of the PKI directory (not issued by the CA)
}

// Member is one certificate lineage of a live identity: the certificates
// one instance of a role obtained from its bootstrap on.
type Member struct {
	Identity string `json:"identity"`
	Lineage  string `json:"lineage"` // serial of the certificate the lineage started from
	// Serial, NotAfter and Issuer (SHA-256 and serial of the signing
	// intermediate) describe its newest certificate.
	Serial       string    `json:"serial"`
	NotAfter     time.Time `json:"not_after"`
	IssuerSerial string    `json:"issuer_serial"`
	IssuerSHA256 string    `json:"issuer_sha256"`
	// Anchors and LastSeen are from its last report (none yet: empty).
	Anchors  []string  `json:"anchors,omitempty"`
	LastSeen time.Time `json:"last_seen,omitzero"`
	Via      string    `json:"via,omitempty"` // renew or trust
	Waiting  bool      `json:"waiting,omitempty"`
}
