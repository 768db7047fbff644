-- Players whose personal data was erased (`geogame admin erase-player`).
-- Only the random player id and the time are kept: a token minted before
-- the erasure is refused at `hello`, and nothing else about them remains.
CREATE TABLE erased_players (
    player_id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL
);
