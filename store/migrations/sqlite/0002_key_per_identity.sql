-- Event IDs are unique per sender: the key becomes (producer_identity, id),
-- so that one client cannot claim the IDs another will send. SQLite cannot
-- change a primary key in place: the table is copied, every row kept.
CREATE TABLE log_events_v2 (
    id                TEXT    NOT NULL,
    level             TEXT    NOT NULL,
    message           TEXT    NOT NULL,
    source            TEXT    NOT NULL,
    timestamp         INTEGER NOT NULL,
    metadata          TEXT,
    producer_identity TEXT    NOT NULL DEFAULT '',
    kafka_partition   INTEGER NOT NULL,
    kafka_offset      INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    PRIMARY KEY (producer_identity, id)
);
INSERT INTO log_events_v2 (id, level, message, source, timestamp, metadata, producer_identity, kafka_partition, kafka_offset, received_at)
    SELECT id, level, message, source, timestamp, metadata, producer_identity, kafka_partition, kafka_offset, received_at FROM log_events;
DROP TABLE log_events;
ALTER TABLE log_events_v2 RENAME TO log_events;
CREATE INDEX log_events_timestamp_idx ON log_events (timestamp DESC, id DESC, producer_identity DESC);
CREATE INDEX log_events_level_timestamp_idx ON log_events (level, timestamp DESC);
CREATE INDEX log_events_source_timestamp_idx ON log_events (source, timestamp DESC);
