//go:build linux

package main

import (
	"fmt"
	"strings"
)

// shape is one load: how many closed-loop workers send how many events
// per request.
type shape struct {
	name    string
	title   string
	workers int
	batch   int
}

var shapes = []shape{
	{"single16", "single events, 16 workers", 16, 1},
	{"single64", "single events, 64 workers", 64, 1},
	{"batch16", "batches of 500, 16 workers", 16, 500},
}

func shapeByName(n string) (shape, bool) {
	for _, s := range shapes {
		if s.name == n {
			return s, true
		}
	}
	return shape{}, false
}

// systemNames are the measured systems and how the table names them.
var systemNames = map[string]string{
	"bare":   "bare Go mTLS handler (read body, 202)",
	"logsys": "logsys gateway+producer",
	"otel":   "OTel Collector",
}

// singleEvent is the logsys event of the single-event arms (~170 bytes):
// no id and no timestamp, so the gateway assigns both.
const singleEvent = `{"level":"INFO","message":"GET /api/v1/orders/42 200 3ms","source":"checkout",` +
	`"metadata":{"host":"web-1","region":"eu-west-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}}`

// otlpRecord is the same event as an OTLP log record.
const otlpRecord = `{"severityNumber":9,"severityText":"INFO","body":{"stringValue":"GET /api/v1/orders/42 200 3ms"},` +
	`"attributes":[{"key":"host","value":{"stringValue":"web-1"}},{"key":"region","value":{"stringValue":"eu-west-1"}},` +
	`{"key":"trace_id","value":{"stringValue":"4bf92f3577b34da6a3ce929d0e0e4736"}}]}`

// ndjson is n logsys events, one per line.
func ndjson(n int) string {
	return strings.Repeat(singleEvent+"\n", n)
}

// otlpLogs is one ExportLogsServiceRequest (OTLP/JSON) of n records from
// one resource (service.name = the event's source) and one scope.
func otlpLogs(n int) string {
	recs := make([]string, n)
	for i := range recs {
		recs[i] = otlpRecord
	}
	return `{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},` +
		`"scopeLogs":[{"scope":{"name":"bench"},"logRecords":[` + strings.Join(recs, ",") + `]}]}]}`
}

// target is what the load generator sends to one system in one shape.
type target struct {
	url, ctype, body string
	prefer           string // the Prefer header; "" sends none
}

// The answers logsys may be asked for (-logsys-answer): the count only
// (Prefer: return=minimal, as empty as the collector's OTLP answer) or
// the full one, listing the ids.
const (
	answerMinimal = "minimal"
	answerFull    = "full"
)

// targetFor returns the request of system sys in shape s; addr is the
// system's listener. answer (answerMinimal or answerFull) is the answer
// logsys is asked for; the other systems get no Prefer header.
func targetFor(sys string, s shape, addr, answer string) (target, error) {
	base := "https://" + addr
	switch kind(sys) {
	case "bare":
		if s.batch == 1 {
			return target{url: base + "/", ctype: "application/json", body: singleEvent}, nil
		}
		return target{url: base + "/", ctype: "application/x-ndjson", body: ndjson(s.batch)}, nil
	case "logsys":
		prefer := ""
		switch answer {
		case answerMinimal:
			prefer = "return=minimal"
		case answerFull:
		default:
			return target{}, fmt.Errorf("logsys answer %q is not %s or %s", answer, answerMinimal, answerFull)
		}
		if s.batch == 1 {
			return target{base + "/api/v1/logs", "application/json", singleEvent, prefer}, nil
		}
		return target{base + "/api/v1/logs/batch", "application/x-ndjson", ndjson(s.batch), prefer}, nil
	case "otel":
		return target{url: base + "/v1/logs", ctype: "application/json", body: otlpLogs(s.batch)}, nil
	}
	return target{}, fmt.Errorf("unknown system %q", sys)
}
