-- The log events. id is compared byte-wise (COLLATE "C") so that the order
-- of equal timestamps is the same as in the embedded SQLite store.
CREATE TABLE log_events (
    id                text COLLATE "C" PRIMARY KEY,
    level             text        NOT NULL,
    message           text        NOT NULL,
    source            text        NOT NULL,
    timestamp         timestamptz NOT NULL,
    metadata          jsonb,
    producer_identity text        NOT NULL DEFAULT '',
    kafka_partition   integer     NOT NULL,
    kafka_offset      bigint      NOT NULL,
    received_at       timestamptz NOT NULL
);
CREATE INDEX log_events_timestamp_idx ON log_events (timestamp DESC, id DESC);
CREATE INDEX log_events_level_timestamp_idx ON log_events (level, timestamp DESC);
CREATE INDEX log_events_source_timestamp_idx ON log_events (source, timestamp DESC);
