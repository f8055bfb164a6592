// Package roles owns the lifecycles of logsys's roles: the HTTPS gateway,
// the producer that writes to Kafka, the consumer that writes to the store,
// the embedded broker, and "all", which runs every one of them in one
// process on loopback. Each role has New(cfg), Run(ctx) and Close().
package roles
