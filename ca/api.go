package ca

// API paths of the Server.
const (
	PathBootstrap = "/v1/bootstrap"
	PathRenew     = "/v1/renew"
	PathTrust     = "/v1/trust"
)

// maxBody bounds request bodies.
const maxBody = 64 << 10

// issueRequest is the body of POST /v1/bootstrap and /v1/renew.
type issueRequest struct {
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

// issueResponse answers a successful bootstrap or renewal.
type issueResponse struct {
	Certificate string `json:"certificate"` // leaf then its intermediate
	Trust       Trust  `json:"trust"`
}

// errorResponse answers a refusal: a stable reason, no internals.
type errorResponse struct {
	Error  string `json:"error"`
	Reason string `json:"reason,omitempty"`
}
