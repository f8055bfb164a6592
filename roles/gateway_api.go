package roles

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"time"

	"logsys/event"
	"logsys/store"
)

// readBody reads at most limit bytes, answering 413 or 415 itself; ok is
// false when the request has been answered.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, types ...string) (body []byte, ctype string, ok bool) {
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, ct) {
		writeErr(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type must be one of %v", types))
		return nil, "", false
	}
	body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeErr(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", limit))
			return nil, "", false
		}
		writeErr(w, http.StatusBadRequest, "could not read the request body")
		return nil, "", false
	}
	return body, ct, true
}

// postOne handles POST /api/v1/logs.
func (g *Gateway) postOne(w http.ResponseWriter, r *http.Request) {
	body, _, ok := readBody(w, r, g.cfg.MaxBodyBytes, "application/json")
	if !ok {
		return
	}
	ev, err := event.DecodeFrom(body, time.Now(), peerIdentity(r))
	if err != nil {
		g.reject(w, "", err)
		return
	}
	if err := g.fwd.send(r.Context(), []event.Event{ev}); err != nil {
		g.forwardFailed(w, 1, err)
		return
	}
	g.metrics.events.WithLabelValues("gateway", "accepted").Inc()
	writeOK(w, http.StatusAccepted, map[string]string{"id": ev.ID})
}

// postBatch handles POST /api/v1/logs/batch: a JSON array or NDJSON. The
// batch is all or nothing: one bad event rejects it, naming its index.
func (g *Gateway) postBatch(w http.ResponseWriter, r *http.Request) {
	body, ct, ok := readBody(w, r, g.cfg.MaxBatchBytes, "application/json", "application/x-ndjson")
	if !ok {
		return
	}
	raws, err := splitBatch(body, ct, g.cfg.MaxBatchEvents)
	if err != nil {
		var tooMany *tooManyError
		if errors.As(err, &tooMany) {
			g.metrics.events.WithLabelValues("gateway", "rejected").Inc()
			writeErr(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		g.reject(w, "", err)
		return
	}
	now := time.Now()
	id := peerIdentity(r)
	evs := make([]event.Event, len(raws))
	ids := make([]string, len(raws))
	for i, raw := range raws {
		ev, err := event.DecodeFrom(raw, now, id)
		if err != nil {
			g.reject(w, fmt.Sprintf("events[%d]", i), err)
			return
		}
		evs[i], ids[i] = ev, ev.ID
	}
	if err := g.fwd.send(r.Context(), evs); err != nil {
		g.forwardFailed(w, len(evs), err)
		return
	}
	g.metrics.events.WithLabelValues("gateway", "accepted").Add(float64(len(evs)))
	writeOK(w, http.StatusAccepted, map[string]any{"accepted": len(ids), "ids": ids})
}

type tooManyError struct{ max int }

func (e *tooManyError) Error() string { return fmt.Sprintf("batch holds more than %d events", e.max) }

// splitBatch returns the raw events of a batch body.
func splitBatch(body []byte, ctype string, max int) ([]json.RawMessage, error) {
	var raws []json.RawMessage
	if ctype == "application/json" {
		if err := json.Unmarshal(body, &raws); err != nil {
			return nil, &event.FieldError{Field: "body", Reason: "must be a JSON array of events"}
		}
	} else {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 0, 64<<10), len(body)+1)
		for line := 1; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if !json.Valid(b) {
				return nil, &event.FieldError{Field: fmt.Sprintf("line %d", line), Reason: "is not valid JSON"}
			}
			raws = append(raws, json.RawMessage(bytes.Clone(b)))
			if len(raws) > max {
				return nil, &tooManyError{max: max}
			}
		}
		if err := sc.Err(); err != nil {
			return nil, &event.FieldError{Field: "body", Reason: "could not split NDJSON lines"}
		}
	}
	if len(raws) > max {
		return nil, &tooManyError{max: max}
	}
	if len(raws) == 0 {
		return nil, &event.FieldError{Field: "body", Reason: "batch holds no events"}
	}
	return raws, nil
}

// reject answers 400 naming the field; prefix locates it within a batch.
func (g *Gateway) reject(w http.ResponseWriter, prefix string, err error) {
	g.metrics.events.WithLabelValues("gateway", "rejected").Inc()
	var fe *event.FieldError
	if errors.As(err, &fe) {
		field := fe.Field
		if prefix != "" && prefix != field {
			field = prefix + "." + field
		}
		writeFieldErr(w, field, fe.Reason)
		return
	}
	writeErr(w, http.StatusBadRequest, "invalid event")
}

func (g *Gateway) forwardFailed(w http.ResponseWriter, n int, err error) {
	g.metrics.events.WithLabelValues("gateway", "failed").Add(float64(n))
	var perm *permanentError
	switch {
	case errors.As(err, &perm):
		internalErr(w, g.log, http.StatusBadGateway, "the producer refused the events", err)
	case errors.Is(err, errForwarderClosed):
		writeErr(w, http.StatusServiceUnavailable, "gateway is shutting down; retry")
	default:
		internalErr(w, g.log, http.StatusServiceUnavailable, "the events could not be delivered to Kafka; retry", err)
	}
}

// getLogs handles GET /api/v1/logs?level=&source=&since=&until=&limit=.
func (g *Gateway) getLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"level", "source", "since", "until", "limit"}, k) {
			writeFieldErr(w, k, "unknown parameter; use level, source, since, until or limit")
			return
		}
	}
	var f store.Filter
	if v := q.Get("level"); v != "" {
		l, err := event.ParseLevel(v)
		if err != nil {
			writeFieldErr(w, "level", err.Error())
			return
		}
		f.Level = l
	}
	f.Source = q.Get("source")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseTimeParam(v, time.Now())
			if err != nil {
				writeFieldErr(w, p.name, err.Error())
				return
			}
			*p.dst = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeFieldErr(w, "limit", "must be an integer")
			return
		}
		f.Limit = n
	}
	if err := f.Validate(); err != nil {
		var fe *store.FilterError
		if errors.As(err, &fe) {
			writeFieldErr(w, fe.Param, fe.Reason)
			return
		}
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	recs, err := g.store.Query(r.Context(), f)
	if err != nil {
		internalErr(w, g.log, http.StatusServiceUnavailable, "the store could not be queried", err)
		return
	}
	out := make([]event.Event, len(recs))
	for i, rec := range recs {
		out[i] = rec.Event
	}
	writeOK(w, http.StatusOK, map[string]any{"count": len(out), "events": out})
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
