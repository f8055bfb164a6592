package roles

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"logsys/event"
	"logsys/otlp"
	"logsys/store"
)

// handler is an HTTP handler that returns its error instead of writing
// it; base.handle answers the error with writeError.
type handler func(w http.ResponseWriter, r *http.Request) error

// apiError is a refusal with its HTTP status and the reason the client
// reads. cause, when set, is logged and never shown.
type apiError struct {
	status int
	field  string // the field or parameter a 400 is about
	reason string
	cause  error
}

func (e *apiError) Error() string {
	msg := e.reason
	if e.field != "" {
		msg = e.field + ": " + msg
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

// errForbidden answers a verified peer that may not call the endpoint.
var errForbidden = &apiError{status: http.StatusForbidden, reason: "this identity may not call this endpoint"}

// badRequest is a 400 that names no field; cause is logged.
func badRequest(reason string, cause error) error {
	return &apiError{status: http.StatusBadRequest, reason: reason, cause: cause}
}

// fieldError is a 400 naming the offending field or parameter.
func fieldError(field, reason string) error {
	return &apiError{status: http.StatusBadRequest, field: field, reason: reason}
}

// unavailable is a 503: something the role depends on failed; cause is
// logged, reason tells the client to retry.
func unavailable(reason string, cause error) error {
	return &apiError{status: http.StatusServiceUnavailable, reason: reason, cause: cause}
}

// retryAfterer is an error that knows when a retry can succeed.
type retryAfterer interface{ retryAfter() time.Duration }

// answerFor is the one table from errors to answers.
func answerFor(err error) *apiError {
	var (
		ae   *apiError
		fe   *event.FieldError
		qe   *store.FilterError
		big  *http.MaxBytesError
		many *tooManyError
		perm *permanentError
		oe   *otlp.Error
		ov   *overloadError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &fe): // 400 naming the event's field
		return &apiError{status: http.StatusBadRequest, field: fe.Field, reason: fe.Reason}
	case errors.As(err, &qe): // 400 naming the query parameter
		return &apiError{status: http.StatusBadRequest, field: qe.Param, reason: qe.Reason}
	case errors.As(err, &big):
		return &apiError{status: http.StatusRequestEntityTooLarge, reason: fmt.Sprintf("body larger than %d bytes", big.Limit)}
	case errors.As(err, &many):
		return &apiError{status: http.StatusRequestEntityTooLarge, reason: many.Error()}
	case errors.As(err, &oe): // OTLP: its reason is for the client
		status := map[error]int{otlp.ErrBadData: http.StatusBadRequest, otlp.ErrTooLarge: http.StatusRequestEntityTooLarge,
			otlp.ErrUnsupported: http.StatusUnsupportedMediaType}[oe.Kind]
		if status == 0 {
			status = http.StatusBadRequest
		}
		return &apiError{status: status, reason: oe.Reason}
	case errors.As(err, &perm): // the producer's reason stays in our log
		return &apiError{status: http.StatusBadGateway, reason: "the producer refused the events", cause: err}
	case errors.As(err, &ov): // load shed; Retry-After from overloadError
		return &apiError{status: http.StatusServiceUnavailable, reason: ov.Error()}
	case errors.Is(err, errForwarderClosed):
		return &apiError{status: http.StatusServiceUnavailable, reason: "gateway is shutting down; retry"}
	}
	return &apiError{status: http.StatusInternalServerError, reason: "internal error", cause: err}
}

// writeError answers err with the JSON error envelope and the status
// answerFor gives it, adding Retry-After to a 429 or 503 whose cause knows
// when to retry. Internal details are logged (5xx at error level), never
// shown.
func (b *base) writeError(w http.ResponseWriter, r *http.Request, err error) {
	a := b.answer(w, r, err)
	e := envelope{Status: "error", Error: a.reason, Field: a.field}
	if a.field != "" {
		e.Error = a.field + ": " + a.reason
	}
	writeJSON(w, a.status, e)
}

// answer is writeError up to the body: the answer answerFor gives err, its
// cause logged and Retry-After set. An API with another error body (OTLP)
// writes that body after it.
func (b *base) answer(w http.ResponseWriter, r *http.Request, err error) *apiError {
	a := answerFor(err)
	if a.cause != nil {
		level := slog.LevelDebug
		if a.status >= 500 {
			level = slog.LevelError
		}
		b.log.Log(r.Context(), level, a.reason, "err", a.cause, "method", r.Method, "path", r.URL.Path)
	}
	var ra retryAfterer
	if (a.status == http.StatusTooManyRequests || a.status == http.StatusServiceUnavailable) && errors.As(err, &ra) {
		if d := ra.retryAfter(); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		}
	}
	return a
}

// envelope is the JSON shape of every API answer.
type envelope struct {
	Status string `json:"status"`
	Data   any    `json:"data,omitempty"`
	Error  string `json:"error,omitempty"`
	Field  string `json:"field,omitempty"`
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeOK writes a success envelope.
func writeOK(w http.ResponseWriter, status int, data any) {
	writeJSON(w, status, envelope{Status: "success", Data: data})
}
