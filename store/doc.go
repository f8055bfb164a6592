// Package store owns the log-event store: where the consumer writes the
// events it reads from Kafka and where the gateway's query API reads them.
//
// Two backends implement one contract (Store) and pass one shared test
// suite:
//
//   - PostgreSQL through a pgx pool, selected by a postgres:// or
//     postgresql:// DSN. TLS and client-certificate authentication are set
//     in the DSN (sslmode=verify-full, sslrootcert, sslcert, sslkey); see
//     docs/operations.md ("The store") for the server side.
//   - an embedded SQLite file (modernc.org/sqlite, pure Go) under
//     Config.DataDir when the DSN is empty, so `logsys all` needs no setup.
//
// The contract:
//
//   - Write accepts exactly the records event.Event.Validate accepts (plus
//     ReceivedAt in years 1 to 9999): the backends add no rule of their
//     own, so an event the gateway accepted is storable.
//   - A record's key is (Identity, ID): IDs are unique per sender, so one
//     client cannot claim the IDs another will send.
//   - Write stores records idempotently by key and all or nothing: a batch
//     either commits completely or leaves no trace. A record whose key is
//     already stored (or taken earlier in the batch) with the same content
//     (level, message, source, timestamp to the microsecond, metadata as
//     JSON values) is a redelivery: skipped, not an error, not counted in
//     the inserted total. With other content it is an id conflict: the
//     batch fails with a *ConflictError (ErrIDConflict) listing every such
//     index, and the batch without them can be written. An invalid record
//     fails the whole batch with a *RecordError matching ErrInvalidRecord;
//     retrying such a batch cannot succeed.
//   - Query returns records newest first (timestamp, then ID, then
//     identity, all descending), at most min(Limit, MaxLimit), DefaultLimit
//     when Limit is zero. Since is inclusive and Until exclusive.
//   - Timestamps are stored with microsecond precision (finer digits are
//     truncated) and read back in UTC; metadata round-trips as JSON (numbers
//     come back as float64, as with encoding/json).
//
// The store does not batch over time: each Write is one transaction. The
// consumer batches (one Write per Kafka poll), dead-letters the records a
// RecordError or ConflictError names, and retries a failed Write with
// backoff until its context ends; that is safe because Write is
// idempotent and never half-commits.
//
// Schema migrations are embedded (migrations/<dialect>/NNNN_name.sql),
// recorded in schema_migrations and applied by Open. Several processes may
// Open the same database at once: PostgreSQL serialises them with a
// transaction-scoped advisory lock, SQLite with BEGIN IMMEDIATE.
package store
