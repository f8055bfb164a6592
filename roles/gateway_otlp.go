package roles

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"logsys/otlp"
)

// OTLPPath is the gateway's OTLP/HTTP logs endpoint (the specification's
// default path), served on the gateway's listener to its clients.
const OTLPPath = "/v1/logs"

// OTLPConfig configures OTLP/HTTP on the gateway. Requests share the
// batch limits: max_batch_bytes on the wire and once decompressed,
// max_batch_events records.
type OTLPConfig struct {
	// MaxAttributes is the most attributes kept per resource, per scope
	// and per record; the rest are dropped and counted.
	MaxAttributes int `mapstructure:"max_attributes"`
}

// DefaultOTLPConfig returns the documented defaults.
func DefaultOTLPConfig() OTLPConfig { return OTLPConfig{MaxAttributes: 128} }

// Validate reports every unusable setting.
func (c OTLPConfig) Validate() error {
	return errors.Join(positive(limit{"max_attributes", int64(c.MaxAttributes)})...)
}

// sharedFactor bounds the resource and scope metadata an OTLP request may
// copy into its events, as a multiple of max_batch_bytes: so the events of
// one request stay well within the producer's max_body_bytes (64 MiB by
// default, 8 x max_batch_bytes), and a small request cannot expand into
// an unbounded amount of events.
const sharedFactor = 4

// otlpRoute is h for the named identities only, with its errors answered
// by writeOTLPError in the request's encoding (JSON when the Content-Type
// is not understood).
func (g *Gateway) otlpRoute(h handler, names ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		enc, encErr := otlp.EncodingOf(r.Header.Get("Content-Type"))
		if encErr != nil {
			enc = otlp.JSON
		}
		var err error
		switch {
		case !slices.Contains(names, peerName(r)):
			err = errForbidden
		case encErr != nil:
			err = encErr
		default:
			err = h(w, r)
		}
		if err != nil {
			g.writeOTLPError(w, r, enc, err)
		}
	})
}

// writeOTLPError answers err as OTLP requires: the status of answerFor
// (the one table), with Retry-After, and a google.rpc.Status in enc, with
// the refused records as BadRequest details.
func (g *Gateway) writeOTLPError(w http.ResponseWriter, r *http.Request, enc otlp.Encoding, err error) {
	a := g.answer(w, r, err)
	var oe *otlp.Error
	var violations []otlp.Violation
	if errors.As(err, &oe) {
		violations = oe.Violations
	}
	reason := a.reason
	if a.field != "" {
		reason = a.field + ": " + reason
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(a.status)
	_, _ = w.Write(otlp.Status(enc, a.status, reason, violations))
}

// postOTLP handles POST /v1/logs: an OTLP/HTTP logs export (docs/otlp.md).
// The records that can be stored are forwarded, and the 200 comes after
// Kafka acknowledged them; refused records are reported as a partial
// success. When no record can be stored the answer is 400.
func (g *Gateway) postOTLP(w http.ResponseWriter, r *http.Request) error {
	enc, _ := otlp.EncodingOf(r.Header.Get("Content-Type")) // checked by otlpRoute
	limit := g.cfg.MaxBatchBytes
	if r.ContentLength > limit {
		return &otlp.Error{Kind: otlp.ErrTooLarge, Reason: fmt.Sprintf("body larger than %d bytes", limit)}
	}
	body, err := otlp.ReadBody(r.Body, r.Header.Get("Content-Encoding"), limit)
	var oe *otlp.Error
	if err != nil && !errors.As(err, &oe) {
		return badRequest("could not read the request body", err)
	}
	if err != nil {
		return err
	}
	if err := admitBytes(r, int64(len(body))); err != nil { // decompressed
		return err
	}
	req, err := otlp.Decode(body, enc)
	if err != nil {
		return g.rejected(err)
	}
	lim := otlp.Limits{MaxRecords: g.cfg.MaxBatchEvents, MaxAttributes: g.cfg.OTLP.MaxAttributes, MaxSharedBytes: sharedFactor * limit}
	evs, refused, err := otlp.Events(req, g.now(), peerIdentity(r), lim)
	if err != nil {
		return g.rejected(err)
	}
	total := len(evs) + len(refused)
	if len(refused) > 0 {
		g.metrics.events.WithLabelValues("gateway", "rejected").Add(float64(len(refused)))
		if len(evs) == 0 {
			return &otlp.Error{Kind: otlp.ErrBadData, Reason: otlp.RefusalMessage(refused, total), Violations: refused}
		}
	}
	if len(evs) > 0 {
		if err := admitEvents(r, len(evs)); err != nil {
			return err
		}
		if err := g.fwd.send(r.Context(), evs); err != nil {
			return g.forwardFailed(len(evs), err)
		}
		g.accepted().Add(float64(len(evs)))
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(otlp.Response(enc, refused, total))
	return nil
}
