package ca

import (
	"errors"
	"fmt"
	"net/http"
)

// Reason is the stable cause of a refused request: the `reason` of the
// JSON answer {"error","reason"} and of logsys_ca_refused_total. Handlers
// return refusals (refuse); writeRefusal alone turns them into answers.
type Reason string

// Reasons of refusals.
const (
	ReasonBadRequest     Reason = "bad_request"     // body is not one request of its path
	ReasonBadCSR         Reason = "bad_csr"         // CSR unparseable, badly signed, or an unaccepted key
	ReasonTokenMissing   Reason = "token_missing"   // bootstrap without a token
	ReasonTokenMalformed Reason = "token_malformed" // not a logsys bootstrap token
	ReasonTokenUnknown   Reason = "token_unknown"   // no such token
	ReasonTokenUsed      Reason = "token_used"      // spent by an earlier bootstrap
	ReasonTokenExpired   Reason = "token_expired"   // past its expiry
	ReasonWrongEnv       Reason = "wrong_env"       // token or certificate of another trust domain or environment
	ReasonIdentity       Reason = "identity"        // an identity that cannot be issued or renewed
	ReasonNoClientCert   Reason = "no_client_cert"  // renewal without a certificate
	ReasonExpired        Reason = "expired"         // presented certificate expired or not yet valid
	ReasonUnknownIssuer  Reason = "unknown_issuer"  // presented certificate does not chain to this environment
	ReasonRevoked        Reason = "revoked"         // presented certificate, or one it was renewed from, is revoked
	ReasonCRLUnavailable Reason = "crl_unavailable" // no valid, fresh CRL: renewals fail closed until there is one
	ReasonReportIdentity Reason = "report_identity" // a trust report for another identity than the certificate's
	ReasonNotAdmin       Reason = "not_admin"       // the status asked for by a certificate not of an admin name
	ReasonInternal       Reason = "internal"        // anything else; details only in the log
)

// refusalStatus is the one table from reason to HTTP status.
var refusalStatus = map[Reason]int{
	ReasonBadRequest:     http.StatusBadRequest,
	ReasonBadCSR:         http.StatusBadRequest,
	ReasonTokenMissing:   http.StatusUnauthorized,
	ReasonTokenMalformed: http.StatusUnauthorized,
	ReasonTokenUnknown:   http.StatusUnauthorized,
	ReasonTokenUsed:      http.StatusUnauthorized,
	ReasonTokenExpired:   http.StatusUnauthorized,
	ReasonWrongEnv:       http.StatusForbidden,
	ReasonIdentity:       http.StatusForbidden,
	ReasonNoClientCert:   http.StatusUnauthorized,
	ReasonExpired:        http.StatusUnauthorized,
	ReasonUnknownIssuer:  http.StatusUnauthorized,
	ReasonRevoked:        http.StatusForbidden,
	ReasonCRLUnavailable: http.StatusServiceUnavailable,
	ReasonReportIdentity: http.StatusForbidden,
	ReasonNotAdmin:       http.StatusForbidden,
	ReasonInternal:       http.StatusInternalServerError,
}

// refusal is a request refused for reason; err, the detail, is logged
// but never shown to the client.
type refusal struct {
	reason Reason
	err    error
}

func (r *refusal) Error() string { return string(r.reason) + ": " + r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

func refuse(reason Reason, format string, args ...any) error {
	return &refusal{reason: reason, err: fmt.Errorf(format, args...)}
}

// reasonOf returns the refusal's reason; any other error is internal.
func reasonOf(err error) Reason {
	var rf *refusal
	if errors.As(err, &rf) {
		if _, ok := refusalStatus[rf.reason]; ok {
			return rf.reason
		}
	}
	return ReasonInternal
}

// writeRefusal is the one place a refused request is answered: it logs
// the detail with the request's attributes, counts the reason and writes
// the status of the table with {"error","reason"}.
func (s *Server) writeRefusal(w http.ResponseWriter, err error, from []any) {
	reason := reasonOf(err)
	status := refusalStatus[reason]
	s.m.refuse(s.cfg.Env, string(reason))
	msg := "refused"
	if status >= http.StatusInternalServerError {
		msg = "internal error"
		s.log.Error("certificate request failed", append(from, "reason", reason, "err", err)...)
	} else {
		s.log.Warn("certificate request refused", append(from, "reason", reason, "err", err)...)
	}
	writeJSON(w, status, errorResponse{Error: msg, Reason: string(reason)})
}
