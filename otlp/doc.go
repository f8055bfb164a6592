// Package otlp owns logsys's side of the OpenTelemetry protocol for logs
// over HTTP (OTLP/HTTP, POST /v1/logs): reading a request body (gzip or
// none, bounded on the wire and once decompressed), decoding it
// (application/x-protobuf, or application/json in the OTLP JSON mapping
// with hex trace and span ids), mapping each LogRecord to one event.Event
// (the table is in docs/otlp.md), and encoding the answers in the request's
// encoding: the ExportLogsServiceResponse, with partial success when some
// records were refused, and the google.rpc.Status of a failure.
//
// The message types are the official ones of go.opentelemetry.io/proto/otlp.
// A request is decoded as logs/v1.LogsData, which the proto defines for
// carrying OTLP logs outside the gRPC service and which has the wire and
// JSON form of collector/logs/v1.ExportLogsServiceRequest (one repeated
// field 1, resource_logs); the two-field response is written with protowire.
// That keeps the collector package, which links gRPC and grpc-gateway into
// the binary (+9 MB), out of the product; the tests check both forms
// against the official collector types.
//
// The package knows nothing of HTTP statuses: its errors are of the kinds
// ErrBadData, ErrTooLarge and ErrUnsupported, which the gateway maps to
// statuses in its one place.
package otlp
