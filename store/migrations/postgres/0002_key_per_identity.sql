-- Event IDs are unique per sender: the key becomes (producer_identity, id),
-- so that one client cannot claim the IDs another will send. Every row is
-- kept (the old key, id alone, was stricter). producer_identity is compared
-- byte-wise like id, so that ties order as in the embedded SQLite store.
ALTER TABLE log_events ALTER COLUMN producer_identity TYPE text COLLATE "C";
ALTER TABLE log_events DROP CONSTRAINT log_events_pkey;
ALTER TABLE log_events ADD CONSTRAINT log_events_pkey PRIMARY KEY (producer_identity, id);
DROP INDEX log_events_timestamp_idx;
CREATE INDEX log_events_timestamp_idx ON log_events (timestamp DESC, id DESC, producer_identity DESC);
