// Package wire is the JSON protocol of `logsys ca`, shared by the server
// (package ca) and its client (package enroll): the paths, the request and
// response bodies, and the reserved identity name of the CA itself. It
// holds no logic and imports nothing of logsys, so a role that only
// enrolls does not link the issuing service.
package wire

// API paths.
const (
	PathBootstrap = "/v1/bootstrap"
	PathRenew     = "/v1/renew"
	PathTrust     = "/v1/trust"
)

// CAName is the reserved workload name of the CA's own serving
// certificate, spiffe://<td>/<env>/ca: no token or renewal grants it, and
// clients accept no other server.
const CAName = "ca"

// IssueRequest is the body of POST /v1/bootstrap and /v1/renew.
type IssueRequest struct {
	Token string `json:"token,omitempty"` // bootstrap only
	CSR   string `json:"csr"`             // PEM CERTIFICATE REQUEST
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
