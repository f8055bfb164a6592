// Package bench owns `logsys bench`: it starts the pipeline (its producer
// writing to the embedded broker, or to real brokers with --brokers) or
// targets a given gateway, drives it with a load generator in the same process, and
// reports throughput, latency, errors, CPU per 1000 events and bytes on
// the wire. It compares, side by side in one run, what security costs:
// mutual TLS against plaintext, HTTP/2 against HTTP/1.1 keep-alive,
// connection reuse against a new connection per request (with and without
// session resumption), leaf key types and key exchanges. Against real
// brokers it also reports their CPU per event (/proc). bench/peer measures
// logsys against the OpenTelemetry Collector as separate processes.
//
// Plaintext listeners exist only here, on loopback, for the comparison;
// the product never serves without mutual TLS.
package bench
