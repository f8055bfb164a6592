// Package testutil holds the helpers that tests of several packages share:
// bounded polling (Eventually), reading Prometheus metrics (MetricValue,
// CounterValue), free loopback ports, external tools, the logsys binary
// built once per test run, and in-memory connections (MemListener,
// Network) whose readers a testing/synctest bubble counts as durably
// blocked (real sockets never are, so fake time would not advance while a
// goroutine reads one). It must only be imported by tests. Certificates
// come from internal/testpki, not from here.
package testutil
