-- The log events. Times are INTEGER microseconds since the Unix epoch (UTC),
-- which sort and compare exactly; metadata is JSON text.
CREATE TABLE log_events (
    id                TEXT    NOT NULL PRIMARY KEY,
    level             TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    source            TEXT    NOT NULL,
    timestamp         INTEGER NOT NULL,
    metadata          TEXT,
    producer_identity TEXT    NOT NULL DEFAULT '',
    kafka_partition   INTEGER NOT NULL,
    kafka_offset      INTEGER NOT NULL,
    received_at       INTEGER NOT NULL
);
CREATE INDEX log_events_timestamp_idx ON log_events (timestamp DESC, id DESC);
CREATE INDEX log_events_level_timestamp_idx ON log_events (level, timestamp DESC);
CREATE INDEX log_events_source_timestamp_idx ON log_events (source, timestamp DESC);
