package roles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"logsys/event"
	"logsys/store"
)

// postOne handles POST /api/v1/logs. With Prefer: return=minimal the
// answer holds only the count (prefersMinimal).
func (g *Gateway) postOne(w http.ResponseWriter, r *http.Request) error {
	buf, _, err := readBody(w, r, g.cfg.MaxBodyBytes, "application/json")
	if err != nil {
		return err
	}
	defer putBody(buf) // the event holds copies of its fields
	body := *buf
	if err := admitBytes(r, int64(len(body))); err != nil { // the length was unknown
		return err
	}
	if err := admitEvents(r, 1); err != nil {
		return err
	}
	ev, err := event.DecodeToForward(body, g.now(), peerIdentity(r))
	if err != nil {
		return g.rejected(within("", err))
	}
	if err := g.fwd.send(r.Context(), []event.Event{ev}); err != nil {
		return g.forwardFailed(1, err)
	}
	g.accepted().Inc()
	if prefersMinimal(r) {
		applyMinimal(w)
		writeAcceptedCount(w, 1)
		return nil
	}
	writeAcceptedOne(w, ev.ID)
	return nil
}

// postBatch handles POST /api/v1/logs/batch: a JSON array or NDJSON. The
// batch is all or nothing: one bad event rejects it, naming its index.
// With Prefer: return=minimal the answer holds the count, not the ids.
func (g *Gateway) postBatch(w http.ResponseWriter, r *http.Request) error {
	buf, ct, err := readBody(w, r, g.cfg.MaxBatchBytes, "application/json", "application/x-ndjson")
	if err != nil {
		return err
	}
	defer putBody(buf) // raws point into it; the events hold copies
	body := *buf
	if err := admitBytes(r, int64(len(body))); err != nil { // the length was unknown
		return err
	}
	raws, lines, err := splitBatch(body, ct, g.cfg.MaxBatchEvents)
	if err != nil {
		return g.rejected(within("", err))
	}
	if err := admitEvents(r, len(raws)); err != nil {
		return err
	}
	now := g.now()
	id := peerIdentity(r)
	evs := make([]event.Event, len(raws))
	for i, raw := range raws {
		ev, err := event.DecodeToForward(raw, now, id)
		if err != nil {
			// A line that is not JSON at all is named first, wherever it is.
			if lerr := invalidLine(raws, lines); lerr != nil {
				return g.rejected(within("", lerr))
			}
			return g.rejected(within(fmt.Sprintf("events[%d]", i), err))
		}
		evs[i] = ev
	}
	if err := g.fwd.send(r.Context(), evs); err != nil {
		return g.forwardFailed(len(evs), err)
	}
	g.accepted().Add(float64(len(evs)))
	if prefersMinimal(r) {
		applyMinimal(w)
		writeAcceptedCount(w, len(evs))
		return nil
	}
	writeAcceptedBatch(w, evs)
	return nil
}

type tooManyError struct{ max int }

func (e *tooManyError) Error() string { return fmt.Sprintf("batch holds more than %d events", e.max) }

// splitBatch returns the raw events of a batch body (pointing into body)
// and, for NDJSON, the line number of each. NDJSON lines are not checked
// for JSON here: decoding them does (invalidLine names the first bad one
// when an event fails to decode).
func splitBatch(body []byte, ctype string, max int) (raws []json.RawMessage, lines []int, err error) {
	if ctype == "application/json" {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, nil, &event.FieldError{Field: "body", Reason: "must be a JSON array of events"}
		}
	} else {
		line := 0
		for rest := body; len(rest) > 0; {
			line++
			b := rest
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				b, rest = rest[:i], rest[i+1:]
			} else {
				rest = nil
			}
			if b = bytes.TrimSpace(b); len(b) == 0 {
				continue
			}
			raws, lines = append(raws, json.RawMessage(b)), append(lines, line)
			if len(raws) > max {
				if err := invalidLine(raws, lines); err != nil {
					return nil, nil, err
				}
				return nil, nil, &tooManyError{max: max}
			}
		}
	}
	if len(raws) > max {
		return nil, nil, &tooManyError{max: max}
	}
	if len(raws) == 0 {
		return nil, nil, &event.FieldError{Field: "body", Reason: "batch holds no events"}
	}
	return raws, lines, nil
}

// invalidLine names the first NDJSON line that is not valid JSON, or
// returns nil (also for JSON arrays, lines nil).
func invalidLine(raws []json.RawMessage, lines []int) error {
	for i := range lines {
		if !json.Valid(raws[i]) {
			return &event.FieldError{Field: fmt.Sprintf("line %d", lines[i]), Reason: "is not valid JSON"}
		}
	}
	return nil
}

// rejected counts a refused request and returns its error.
func (g *Gateway) rejected(err error) error {
	g.metrics.events.WithLabelValues("gateway", "rejected").Inc()
	return err
}

// within locates an event's field error inside a batch (prefix names the
// event); an event error without a field is "invalid event".
func within(prefix string, err error) error {
	var fe *event.FieldError
	var many *tooManyError
	switch {
	case errors.As(err, &many):
		return err
	case errors.As(err, &fe):
		field := fe.Field
		if prefix != "" && prefix != field {
			field = prefix + "." + field
		}
		return fieldError(field, fe.Reason)
	}
	return badRequest("invalid event", err)
}

// forwardFailed counts n undelivered events; the error says why.
func (g *Gateway) forwardFailed(n int, err error) error {
	g.metrics.events.WithLabelValues("gateway", "failed").Add(float64(n))
	var perm *permanentError
	if errors.As(err, &perm) || errors.Is(err, errForwarderClosed) {
		return err
	}
	return unavailable("the events could not be delivered to Kafka; retry", err)
}

// getLogs handles GET /api/v1/logs?level=&source=&since=&until=&limit=.
func (g *Gateway) getLogs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"level", "source", "since", "until", "limit"}, k) {
			return fieldError(k, "unknown parameter; use level, source, since, until or limit")
		}
	}
	var f store.Filter
	if v := q.Get("level"); v != "" {
		l, err := event.ParseLevel(v)
		if err != nil {
			return fieldError("level", err.Error())
		}
		f.Level = l
	}
	f.Source = q.Get("source")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTimeParam(v, g.now())
			if err != nil {
				return fieldError(p.name, err.Error())
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fieldError("limit", "must be an integer")
		}
		f.Limit = n
	}
	if err := f.Validate(); err != nil {
		var fe *store.FilterError
		if errors.As(err, &fe) {
			return err
		}
		return &apiError{status: http.StatusBadRequest, reason: err.Error()}
	}
	recs, err := g.store.Query(r.Context(), f)
	if err != nil {
		return unavailable("the store could not be queried", err)
	}
	out := make([]event.Event, len(recs))
	for i, rec := range recs {
		out[i] = rec.Event
	}
	writeOK(w, http.StatusOK, map[string]any{"count": len(out), "events": out})
	return nil
}

// parseTimeParam accepts RFC 3339 or a duration back from now ("15m").
func parseTimeParam(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("must be RFC 3339 (2026-01-02T15:04:05Z) or a duration back from now (15m)")
}
