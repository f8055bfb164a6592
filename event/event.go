// Package event owns the log event: its fields, identifiers, JSON forms and
// the one validator (Event.Validate) that decides whether an event can be
// stored. Gateway, producer, consumer and store all use this one type and
// this one function, so that an event the gateway accepts is storable.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Level is a log severity.
type Level string

// The accepted levels, lowest first.
const (
	Trace Level = "TRACE"
	Debug Level = "DEBUG"
	Info  Level = "INFO"
	Warn  Level = "WARN"
	Error Level = "ERROR"
	Fatal Level = "FATAL"
)

// Levels lists every accepted level, lowest first.
var Levels = []Level{Trace, Debug, Info, Warn, Error, Fatal}

// ParseLevel returns the level named s (case-insensitive).
func ParseLevel(s string) (Level, error) {
	u := Level(strings.ToUpper(strings.TrimSpace(s)))
	for _, l := range Levels {
		if u == l {
			return l, nil
		}
	}
	return "", fmt.Errorf("level %q is not one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL", s)
}

// Event is one log event. Identity is the authenticated identity (URI SAN)
// of the client certificate that sent it; the gateway stamps it and never
// takes it from the request body.
type Event struct {
	ID        string         `json:"id"`
	Level     Level          `json:"level"`
	Message   string         `json:"message"`
	Source    string         `json:"source"`
	Timestamp time.Time      `json:"timestamp"`
	Metadata  map[string]any `json:"metadata,omitempty"`
	Identity  string         `json:"identity,omitempty"`
	// TimestampFilled is true when Fill set Timestamp because the client
	// sent none: a retry of the same event gets another timestamp, so the
	// store does not compare the timestamps of two such events as content.
	TimestampFilled bool `json:"timestamp_filled,omitempty"`
	// metadataJSON is the metadata as the client sent it (a JSON object),
	// checked by Decode's rules but not decoded, in place of Metadata:
	// set only by DecodeToForward, written by AppendJSON.
	metadataJSON string
}

// FieldError names the field that made an event invalid.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// input is the wire form accepted from clients: strict about types, with
// the timestamp kept as text so that its error can name the field.
type input struct {
	ID        *string         `json:"id"`
	Level     *string         `json:"level"`
	Message   *string         `json:"message"`
	Source    *string         `json:"source"`
	Timestamp *string         `json:"timestamp"`
	Metadata  json.RawMessage `json:"metadata"`
	// Identity is only read to refuse it: the gateway sets it.
	Identity json.RawMessage `json:"identity"`
}

// Decode parses one client-supplied event from JSON, fills the id and
// timestamp when absent (using now), and validates it. Unknown fields are
// ignored except "identity", which a client may not set.
func Decode(data []byte, now time.Time) (Event, error) { return DecodeFrom(data, now, "") }

// DecodeFrom is Decode for an event sent by identity (the authenticated
// peer, stamped as Identity before validation): the gateway's path. An
// event it returns without error is one every store accepts.
func DecodeFrom(data []byte, now time.Time, identity string) (Event, error) {
	return decode(data, now, identity, false)
}

// DecodeToForward is DecodeFrom for an event that is only forwarded (the
// gateway's path): it accepts and refuses exactly what DecodeFrom does,
// but keeps the metadata of a common event as the client's JSON text
// instead of decoding it (Metadata is then nil, and the text is what
// AppendJSON writes, without white space). DecodeForwarded of the
// encoded event returns what it returns for DecodeFrom's.
func DecodeToForward(data []byte, now time.Time, identity string) (Event, error) {
	return decode(data, now, identity, true)
}

func decode(data []byte, now time.Time, identity string, metaText bool) (Event, error) {
	e, bound, ok := parseFast(data, false, metaText)
	if ok && bound > MaxMetadataJSONBytes && metaText {
		// Only encoding can tell whether it fits: decode it.
		e, bound, ok = parseFast(data, false, false)
	}
	if !ok {
		var err error
		if e, err = parseJSON(data); err != nil {
			return Event{}, err
		}
	}
	e.Identity = identity
	if e.Level == "" {
		e.Level = Info
	}
	e.Fill(now)
	if _, err := e.check(false, scanned{ok, bound}); err != nil {
		return Event{}, err
	}
	return e, nil
}

// parseJSON is DecodeFrom's parse with encoding/json: every input
// parseFast leaves to it, and every error.
func parseJSON(data []byte) (Event, error) {
	var in input
	if err := json.Unmarshal(data, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Event{}, &FieldError{Field: te.Field, Reason: "must be a JSON " + te.Type.String()}
		}
		if errors.As(err, &te) {
			return Event{}, &FieldError{Field: "body", Reason: "not a JSON object"}
		}
		return Event{}, &FieldError{Field: "body", Reason: "not a JSON object: " + jsonReason(err)}
	}
	if in.Identity != nil {
		return Event{}, &FieldError{Field: "identity", Reason: "is set by the gateway from the client certificate and may not be supplied"}
	}
	var e Event
	if in.ID != nil {
		e.ID = *in.ID
	}
	if in.Level != nil {
		e.Level = Level(*in.Level)
	}
	if in.Message != nil {
		e.Message = *in.Message
	}
	if in.Source != nil {
		e.Source = *in.Source
	}
	if in.Timestamp != nil && *in.Timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, *in.Timestamp)
		if err != nil {
			return Event{}, &FieldError{Field: "timestamp", Reason: "must be RFC 3339, for example 2026-01-02T15:04:05Z"}
		}
		e.Timestamp = ts
	}
	if len(in.Metadata) > 0 && string(in.Metadata) != "null" {
		if len(in.Metadata) > MaxMetadataBytes {
			return Event{}, &FieldError{Field: "metadata", Reason: fmt.Sprintf("larger than %d bytes", MaxMetadataBytes)}
		}
		if err := json.Unmarshal(in.Metadata, &e.Metadata); err != nil {
			return Event{}, &FieldError{Field: "metadata", Reason: "must be a JSON object"}
		}
	}
	return e, nil
}

// Fill assigns an id and a timestamp where they are absent; a timestamp
// it assigns is marked TimestampFilled.
func (e *Event) Fill(now time.Time) {
	if e.ID == "" {
		e.ID = ids.next(now)
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now.UTC()
		e.TimestampFilled = true
	}
}

// ErrNotJSON is matched by DecodeForwarded errors for data that is not the
// JSON form of an Event.
var ErrNotJSON = errors.New("not a JSON event")

// DecodeForwarded parses an event in the form the gateway forwards it (the
// JSON of Event, identity included; nothing is filled in) and validates it
// with the same rules as Decode: the producer's and the consumer's path.
// The common form is parsed without reflection (parseFast); anything
// else, and every error, by encoding/json.
func DecodeForwarded(data []byte) (Event, error) {
	e, bound, ok := parseFast(data, true, false)
	if !ok {
		e = Event{}
		if err := json.Unmarshal(data, &e); err != nil {
			return Event{}, fmt.Errorf("%w: %w", ErrNotJSON, err)
		}
	}
	if _, err := e.check(false, scanned{ok, bound}); err != nil {
		return Event{}, err
	}
	return e, nil
}

func jsonReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return err.Error()
}
