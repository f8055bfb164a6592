-- timestamp_filled is 1 when the gateway set the timestamp because the
-- client sent none: a retry of that event gets another one, so the
-- timestamps of two such rows are not compared as content.
ALTER TABLE log_events ADD COLUMN timestamp_filled INTEGER NOT NULL DEFAULT 0;
