package tlsx

import "errors"

// RejectReason says why a Source refused new material (the `reason` label
// of logsys_tls_reload_rejections_total).
type RejectReason string

// Reasons for refusing material, files or pushed.
const (
	RejectRead      RejectReason = "read"         // a file is missing or unreadable
	RejectKeyPair   RejectReason = "key_pair"     // certificate or key do not parse, or do not match
	RejectLeaf      RejectReason = "leaf"         // the leaf has no SPIFFE ID or is outside its validity period
	RejectTrust     RejectReason = "trust_bundle" // no intermediate, or the leaf does not chain to them
	RejectCRL       RejectReason = "crl"          // missing, unparseable, unsigned, without number or nextUpdate, or none from the current intermediate
	RejectCRLStale  RejectReason = "crl_stale"    // a CRL is past its nextUpdate by more than crl_grace
	RejectCRLNumber RejectReason = "crl_number"   // a CRL number went backwards, or was reused with other content
)

var allRejectReasons = []RejectReason{RejectRead, RejectKeyPair, RejectLeaf, RejectTrust, RejectCRL, RejectCRLStale, RejectCRLNumber}

// RejectError is material a Source refused; the current material stays.
type RejectError struct {
	Reason RejectReason
	Err    error
}

func (e *RejectError) Error() string { return e.Err.Error() }
func (e *RejectError) Unwrap() error { return e.Err }

func rejectf(r RejectReason, err error) error { return &RejectError{Reason: r, Err: err} }

// rejectReason returns the reason of a refusal; a plain error is RejectRead.
func rejectReason(err error) RejectReason {
	if re, ok := errors.AsType[*RejectError](err); ok {
		return re.Reason
	}
	return RejectRead
}
