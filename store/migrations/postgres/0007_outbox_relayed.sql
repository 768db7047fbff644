-- Scaled out, an outbox row stays until its event is in the SQL sink (the
-- sink deletes it in its own transaction); the relay only marks when it
-- last sent it to the stream, and sends rows that linger again.
ALTER TABLE outbox ADD COLUMN relayed_ms BIGINT;
