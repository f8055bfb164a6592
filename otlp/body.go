package otlp

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// The kinds of refusal; errors of this package match one of them
// (errors.Is), and their text is meant for the client.
var (
	// ErrBadData: the payload cannot be decoded, or no record of it can be
	// stored. The OTLP client must not retry it.
	ErrBadData = errors.New("bad data")
	// ErrTooLarge: the body (on the wire or decompressed) or its record
	// count is over the limit.
	ErrTooLarge = errors.New("too large")
	// ErrUnsupported: a Content-Type or Content-Encoding this endpoint
	// does not speak.
	ErrUnsupported = errors.New("unsupported")
)

// Error is a refused request: Kind is one of the kinds above, Reason is
// shown to the client, Violations (for ErrBadData) name the records or
// fields at fault.
type Error struct {
	Kind       error
	Reason     string
	Violations []Violation
}

func (e *Error) Error() string { return e.Reason }

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Violation names a field of the request, as an OTLP JSON path such as
// resourceLogs[0].scopeLogs[0].logRecords[3].body, and what is wrong with
// it.
type Violation struct {
	Field       string
	Description string
}

func badData(format string, args ...any) error {
	return &Error{Kind: ErrBadData, Reason: fmt.Sprintf(format, args...)}
}

// Encoding is how a request body, and so its answer, is encoded.
type Encoding int

// The two OTLP/HTTP encodings.
const (
	Protobuf Encoding = iota
	JSON
)

// ContentType returns the media type of the encoding.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// EncodingOf returns the encoding a Content-Type header names.
func EncodingOf(contentType string) (Encoding, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err == nil && mt == "application/x-protobuf":
		return Protobuf, nil
	case err == nil && mt == "application/json":
		return JSON, nil
	}
	return 0, &Error{Kind: ErrUnsupported, Reason: fmt.Sprintf("Content-Type %q: must be application/x-protobuf or application/json", contentType)}
}

// ReadBody reads a request body with the given Content-Encoding ("",
// identity or gzip): at most max bytes on the wire and at most max bytes
// once decompressed, so that a small compressed body cannot expand without
// bound. Reading stops at the first byte over either limit.
func ReadBody(r io.Reader, contentEncoding string, max int64) ([]byte, error) {
	wire := &io.LimitedReader{R: r, N: max + 1}
	tooLarge := func(what string) error {
		return &Error{Kind: ErrTooLarge, Reason: fmt.Sprintf("body larger than %d bytes%s", max, what)}
	}
	switch enc := strings.ToLower(strings.TrimSpace(contentEncoding)); enc {
	case "", "identity":
		body, err := io.ReadAll(wire)
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		if int64(len(body)) > max {
			return nil, tooLarge("")
		}
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(wire)
		if err != nil {
			if wire.N <= 0 {
				return nil, tooLarge(" compressed")
			}
			return nil, gzipError(err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(io.LimitReader(zr, max+1))
		switch {
		case wire.N <= 0:
			return nil, tooLarge(" compressed")
		case int64(buf.Len()) > max:
			return nil, tooLarge(" once decompressed")
		case err != nil:
			return nil, gzipError(err)
		}
		return buf.Bytes(), nil
	default:
		return nil, &Error{Kind: ErrUnsupported, Reason: fmt.Sprintf("Content-Encoding %q: must be gzip or none", contentEncoding)}
	}
}

// gzipError classifies a failure of the gzip reader: corrupt data is the
// client's, anything else is reading the request.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.As(err, &corrupt) {
		return badData("body is not valid gzip: %v", err)
	}
	return fmt.Errorf("read gzip body: %w", err)
}
