// Package roles owns the lifecycles of logsys's roles: the HTTPS gateway,
// the producer that writes to Kafka, the consumer that writes to the store,
// the embedded broker, and "all", which runs every one of them in one
// process on loopback. Each role has New(cfg), Run(ctx) and Close().
//
// Every role embeds one base (base.go): its logger and clock, its TLS
// material, its metrics registry, its mutual-TLS server with the loopback
// liveness server, health, and the release of what New acquired. HTTP
// handlers return errors; writeError (errors.go) is the one table from
// error types to statuses and the JSON error envelope.
package roles
