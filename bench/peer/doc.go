//go:build linux

// Command peer measures logsys against its peer, the OpenTelemetry
// Collector (OTLP/HTTP over mutual TLS into Kafka over mutual TLS), and
// against a bare Go mTLS handler, side by side in one run on one real
// Kafka broker. It owns the peer bench: starting the three systems as
// separate processes, driving each with the same independent load
// generator (vegeta, closed loop, HTTP/1.1 keep-alive, client
// certificate), reading CPU from /proc, the broker's produce counters
// over JMX, and printing the table with every figure also as a ratio to
// the collector and to the bare handler of the same run.
//
// It is run by bench/peer/run.sh, which builds the collector, vegeta and
// logsys into .cache/ and starts Kafka; see bench/peer/README.md.
//
//	peer run -bin DIR -pki DIR -brokers HOST:PORT -kafka-pid PID ...
//	peer bare -addr 127.0.0.1:PORT -pki DIR
package main
