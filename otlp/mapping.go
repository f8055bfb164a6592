package otlp

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	commonv1 "go.opentelemetry.io/proto/otlp/common/v1"
	logsv1 "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcev1 "go.opentelemetry.io/proto/otlp/resource/v1"

	"logsys/event"
)

// Limits bound one request.
type Limits struct {
	// MaxRecords is the most log records of one request; more is
	// ErrTooLarge.
	MaxRecords int
	// MaxAttributes is the most attributes kept per resource, per scope
	// and per record; the ones beyond are dropped and counted in the
	// event's metadata.
	MaxAttributes int
	// MaxSharedBytes bounds the resource and scope metadata (as JSON)
	// copied into the events of one request: each record's event carries
	// its resource and scope, so a large resource shared by many records
	// would expand a small request into far more bytes of events (and of
	// validation, Kafka and store). Beyond it the request is ErrTooLarge;
	// 0 means no bound.
	MaxSharedBytes int64
}

// DefaultSource is the source of records whose resource has no
// service.name: the name OpenTelemetry's semantic conventions give an
// unnamed service.
const DefaultSource = "unknown_service"

// NoBody is the message of a record without a body (or a blank one) and
// without an event name.
const NoBody = "(no body)"

// Events maps every log record of req to one event sent by identity, in
// request order; now stamps records that carry neither time. A record that
// cannot be stored (it fails event.Validate, holds a NUL byte or nests
// deeper than MaxDepth) is not returned but listed in refused, named by
// its path in the request. A request with more than lim.MaxRecords records
// is refused whole (ErrTooLarge).
func Events(req *logsv1.LogsData, now time.Time, identity string, lim Limits) (evs []event.Event, refused []Violation, err error) {
	n := Count(req)
	if n > lim.MaxRecords {
		return nil, nil, &Error{Kind: ErrTooLarge, Reason: fmt.Sprintf("request holds %d log records, more than %d", n, lim.MaxRecords)}
	}
	evs = make([]event.Event, 0, n)
	var shared int64 // resource and scope bytes copied into the events so far
	for ri, rl := range req.GetResourceLogs() {
		res, rerr := newShared(rl.GetResource().GetAttributes(), rl.GetResource().GetDroppedAttributesCount(), lim.MaxAttributes)
		source := serviceName(rl.GetResource())
		for si, sl := range rl.GetScopeLogs() {
			sc, serr := newScope(sl.GetScope(), lim.MaxAttributes)
			if rerr == nil && serr == nil {
				shared += int64(len(sl.GetLogRecords())) * int64(res.size+sc.size)
				if lim.MaxSharedBytes > 0 && shared > lim.MaxSharedBytes {
					return nil, nil, &Error{Kind: ErrTooLarge, Reason: fmt.Sprintf(
						"the records' resource and scope attributes, copied into each record's event, come to more than %d bytes: send fewer records per request, or fewer resource attributes", lim.MaxSharedBytes)}
				}
			}
			for li, lr := range sl.GetLogRecords() {
				var v *Violation
				var ev event.Event
				switch {
				case rerr != nil:
					v = &Violation{Field: fmt.Sprintf("resourceLogs[%d].resource.attributes%s", ri, rerr.path), Description: rerr.reason}
				case serr != nil:
					v = &Violation{Field: fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].scope%s", ri, si, serr.path), Description: serr.reason}
				default:
					if ev, v = record(lr, res, sc, source, now, identity, lim.MaxAttributes); v != nil {
						v.Field = fmt.Sprintf("resourceLogs[%d].scopeLogs[%d].logRecords[%d]%s", ri, si, li, v.Field)
					}
				}
				if v != nil {
					refused = append(refused, *v)
					continue
				}
				evs = append(evs, ev)
			}
		}
	}
	return evs, refused, nil
}

// Count returns the number of log records in req.
func Count(req *logsv1.LogsData) int {
	n := 0
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			n += len(sl.GetLogRecords())
		}
	}
	return n
}

// shared is the converted attributes of a resource or scope, shared
// (read-only) by the metadata of all its records, with their digest.
type shared struct {
	attrs   map[string]any
	meta    any // what the metadata holds: the attributes (resource) or name, version and attributes (scope)
	size    int // of meta as JSON
	dropped int
	digest  [32]byte
}

// seal computes the digest and JSON size of c.meta, refusing metadata
// that alone is over the event limit (before every record of it is
// validated with it).
func (c *shared) seal() *convErr {
	c.digest = digestOf(c.meta)
	if c.meta == nil {
		return nil
	}
	if c.size = len(jsonText(c.meta)); c.size > event.MaxMetadataJSONBytes {
		return &convErr{reason: fmt.Sprintf("larger than %d bytes as JSON", event.MaxMetadataJSONBytes)}
	}
	return nil
}

func newShared(kvs []*commonv1.KeyValue, sentDropped uint32, max int) (*shared, *convErr) {
	attrs, dropped, err := attributes(kvs, max)
	if err != nil {
		return nil, err
	}
	c := &shared{attrs: attrs, dropped: dropped + int(sentDropped)}
	if len(attrs) > 0 {
		c.meta = attrs
	}
	return c, c.seal()
}

func newScope(s *commonv1.InstrumentationScope, max int) (*shared, *convErr) {
	attrs, dropped, err := attributes(s.GetAttributes(), max)
	if err != nil {
		return nil, err.within(".attributes")
	}
	c := &shared{attrs: attrs, dropped: dropped + int(s.GetDroppedAttributesCount())}
	for _, f := range []struct{ name, v string }{{"name", s.GetName()}, {"version", s.GetVersion()}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return nil, &convErr{path: "." + f.name, reason: textReason}
		}
	}
	if s.GetName() == "" && s.GetVersion() == "" && c.attrs == nil {
		return c, c.seal()
	}
	m := map[string]any{}
	if s.GetName() != "" {
		m["name"] = s.GetName()
	}
	if s.GetVersion() != "" {
		m["version"] = s.GetVersion()
	}
	if c.attrs != nil {
		m["attributes"] = c.attrs
	}
	c.meta = m
	return c, c.seal()
}

// serviceName is the resource's service.name as text, or DefaultSource.
func serviceName(r *resourcev1.Resource) string {
	name := ""
	for _, kv := range r.GetAttributes() {
		if kv.GetKey() == "service.name" {
			name, _ = bodyText(kv.GetValue()) // the last one wins, as in attributes
		}
	}
	if strings.TrimSpace(name) == "" {
		return DefaultSource
	}
	return name
}

// record maps one log record; v (with Field relative to the record) says
// why it cannot be stored.
func record(lr *logsv1.LogRecord, res, sc *shared, source string, now time.Time, identity string, maxAttrs int) (event.Event, *Violation) {
	e := event.Event{Level: Level(lr.GetSeverityNumber(), lr.GetSeverityText()), Source: source, Identity: identity}
	msg, cerr := bodyText(lr.GetBody())
	if cerr != nil {
		return e, &Violation{Field: ".body" + cerr.path, Description: cerr.reason}
	}
	if strings.TrimSpace(msg) == "" {
		msg = NoBody
		if strings.TrimSpace(lr.GetEventName()) != "" {
			msg = lr.GetEventName()
		}
	}
	e.Message = msg
	attrs, dropped, cerr := attributes(lr.GetAttributes(), maxAttrs)
	if cerr != nil {
		return e, &Violation{Field: ".attributes" + cerr.path, Description: cerr.reason}
	}
	for _, f := range []struct{ name, v string }{{"severityText", lr.GetSeverityText()}, {"eventName", lr.GetEventName()}} {
		if strings.IndexByte(f.v, 0) >= 0 {
			return e, &Violation{Field: "." + f.name, Description: textReason}
		}
	}
	ts, clock := lr.GetTimeUnixNano(), false
	if ts == 0 {
		ts = lr.GetObservedTimeUnixNano()
	}
	if ts == 0 {
		e.Timestamp, clock = now.UTC(), true
	} else {
		e.Timestamp = unixNano(ts)
	}
	own := map[string]any{}
	if attrs != nil {
		own["attributes"] = attrs
	}
	if id := lr.GetTraceId(); !zero(id) {
		own["trace_id"] = hex.EncodeToString(id)
	}
	if id := lr.GetSpanId(); !zero(id) {
		own["span_id"] = hex.EncodeToString(id)
	}
	if f := lr.GetFlags(); f != 0 {
		own["flags"] = float64(f)
	}
	if t := lr.GetSeverityText(); t != "" {
		own["severity_text"] = t
	}
	if n := lr.GetSeverityNumber(); n != 0 {
		own["severity_number"] = float64(n)
	}
	if n := lr.GetEventName(); n != "" {
		own["event_name"] = n
	}
	if obs := lr.GetObservedTimeUnixNano(); obs != 0 && lr.GetTimeUnixNano() != 0 && obs != lr.GetTimeUnixNano() {
		own["observed_time"] = unixNano(obs).Format(time.RFC3339Nano)
	}
	if d := dropped + int(lr.GetDroppedAttributesCount()); d+res.dropped+sc.dropped > 0 {
		own["dropped_attributes_count"] = map[string]any{"resource": float64(res.dropped), "scope": float64(sc.dropped), "record": float64(d)}
	}
	if !clock {
		// Without a time of its own, the record cannot be recognised when
		// retried; it gets a fresh id (event.Fill).
		e.ID = contentID(&e, res.digest, sc.digest, own)
	}
	if len(own) > 0 || res.meta != nil || sc.meta != nil {
		e.Metadata = own
		if res.meta != nil {
			own["resource"] = res.meta
		}
		if sc.meta != nil {
			own["scope"] = sc.meta
		}
	}
	e.Fill(now)
	if err := e.Validate(); err != nil {
		return e, validationViolation(err)
	}
	return e, nil
}

// validationViolation names the OTLP field behind an event field the
// validator refused.
func validationViolation(err error) *Violation {
	var fe *event.FieldError
	if !errors.As(err, &fe) {
		return &Violation{Description: err.Error()}
	}
	switch fe.Field {
	case "message":
		return &Violation{Field: ".body", Description: "message: " + fe.Reason}
	case "source":
		return &Violation{Description: "source (the resource's service.name): " + fe.Reason}
	case "metadata":
		return &Violation{Description: "metadata (resource, scope and record attributes): " + fe.Reason}
	}
	return &Violation{Description: fe.Field + ": " + fe.Reason}
}

func zero(id []byte) bool {
	for _, b := range id {
		if b != 0 {
			return false
		}
	}
	return true
}

// unixNano is t nanoseconds after the Unix epoch, in UTC; every uint64
// value is within the years event accepts (it reaches 2554).
func unixNano(t uint64) time.Time {
	return time.Unix(int64(t/1e9), int64(t%1e9)).UTC()
}
