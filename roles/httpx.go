package roles

import (
	"encoding/json"
	"log/slog"
	"net/http"
)

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

// writeErr writes an error envelope; reason is shown to the client, so it
// must never carry internal details.
func writeErr(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, envelope{Status: "error", Error: reason})
}

// writeFieldErr writes a 400 naming the offending field or parameter.
func writeFieldErr(w http.ResponseWriter, field, reason string) {
	writeJSON(w, http.StatusBadRequest, envelope{Status: "error", Error: field + ": " + reason, Field: field})
}

// internalErr logs err and answers 5xx without details.
func internalErr(w http.ResponseWriter, log *slog.Logger, status int, msg string, err error) {
	log.Error(msg, "err", err)
	writeErr(w, status, msg)
}
