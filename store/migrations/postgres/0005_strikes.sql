-- Strikes for repeated impossible movement (or issued by an operator).
-- A lifted strike stays for the record but no longer counts.
CREATE TABLE strikes (
    id BIGSERIAL PRIMARY KEY,
    player_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    lifted_at_ms BIGINT
);
CREATE INDEX strikes_player ON strikes (player_id, at_ms);
