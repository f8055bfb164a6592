package otlp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// MaxListed bounds the refused records named in one answer: in a partial
// success's error_message the first few, in a Status's BadRequest details
// the first MaxListed.
const MaxListed = 100

// listedInMessage is how many refusals error_message and Status.message
// spell out.
const listedInMessage = 3

// Response returns the body of a successful export (HTTP 200): an
// ExportLogsServiceResponse in enc, with partial_success set when records
// were refused: rejected_log_records and an error_message naming the first
// of them. The OTLP client must not retry a partial success.
//
// ExportLogsServiceResponse is
//
//	message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
//	message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
//
// and is written here with protowire (see the package comment).
func Response(enc Encoding, refused []Violation, total int) []byte {
	if len(refused) == 0 {
		if enc == JSON {
			return []byte("{}")
		}
		return []byte{}
	}
	msg := validText(RefusalMessage(refused, total))
	if enc == JSON {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		type partial struct {
			Rejected string `json:"rejectedLogRecords"` // int64: a string in proto3 JSON
			Message  string `json:"errorMessage"`
		}
		_ = e.Encode(struct {
			Partial partial `json:"partialSuccess"`
		}{partial{fmt.Sprint(len(refused)), msg}})
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, uint64(len(refused)))
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, msg)
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(out, ps)
}

// RefusalMessage says how many of total records were refused, and why the
// first ones were.
func RefusalMessage(refused []Violation, total int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d log records refused (they can never be stored; do not retry them): ", len(refused), total)
	for i, v := range refused[:min(len(refused), listedInMessage)] {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.Field)
		if v.Field != "" {
			b.WriteString(": ")
		}
		b.WriteString(v.Description)
	}
	if len(refused) > listedInMessage {
		fmt.Fprintf(&b, "; and %d more", len(refused)-listedInMessage)
	}
	return b.String()
}

// gRPC status codes (google.rpc.Code) used in Status.code.
const (
	codeUnknown           = 2
	codeInvalidArgument   = 3
	codeNotFound          = 5
	codePermissionDenied  = 7
	codeResourceExhausted = 8
	codeInternal          = 13
	codeUnavailable       = 14
	codeUnauthenticated   = 16
	codeUnimplemented     = 12
)

// rpcCode is the google.rpc.Code of an HTTP status. OTLP does not use
// Status.code; it is set for clients that record it.
func rpcCode(httpStatus int) int32 {
	switch httpStatus {
	case 400, 413, 415:
		return codeInvalidArgument
	case 401:
		return codeUnauthenticated
	case 403:
		return codePermissionDenied
	case 404:
		return codeNotFound
	case 405:
		return codeUnimplemented
	case 429:
		return codeResourceExhausted
	case 502, 503, 504:
		return codeUnavailable
	case 500:
		return codeInternal
	}
	return codeUnknown
}

// Status returns the body of a failed export: a google.rpc.Status in enc
// with message, and for violations a google.rpc.BadRequest in details
// (the first MaxListed of them).
func Status(enc Encoding, httpStatus int, message string, violations []Violation) []byte {
	st := &status.Status{Code: rpcCode(httpStatus), Message: validText(message)}
	if len(violations) > 0 {
		br := &errdetails.BadRequest{}
		for _, v := range violations[:min(len(violations), MaxListed)] {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
				Field: validText(v.Field), Description: validText(v.Description)})
		}
		if a, err := anypb.New(br); err == nil {
			st.Details = []*anypb.Any{a}
		}
	}
	var body []byte
	if enc == JSON {
		body, _ = protojson.Marshal(st)
	} else {
		body, _ = proto.Marshal(st)
	}
	return body
}

// validText makes s valid UTF-8, which proto3 strings must be: messages
// quote parts of the request.
func validText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
