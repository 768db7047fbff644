-- geogame schema, SQLite flavour. Column names and types match the
-- PostgreSQL migration one for one, so that the same queries run on both.

CREATE TABLE players (
    device_id  TEXT PRIMARY KEY NOT NULL,
    player_id  TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE catches (
    creature_id TEXT PRIMARY KEY NOT NULL,
    player_id   TEXT NOT NULL,
    species     TEXT NOT NULL,
    rarity      TEXT NOT NULL,
    poi_id      TEXT,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    caught_at   BIGINT NOT NULL
);
CREATE INDEX catches_player_id ON catches (player_id);

CREATE TABLE inventory (
    player_id TEXT NOT NULL,
    item      TEXT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (player_id, item)
);

CREATE TABLE spins (
    player_id TEXT NOT NULL,
    poi_id    TEXT NOT NULL,
    last_at   BIGINT NOT NULL,
    PRIMARY KEY (player_id, poi_id)
);

CREATE TABLE pois (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    lat        DOUBLE PRECISION NOT NULL,
    lon        DOUBLE PRECISION NOT NULL,
    weight     DOUBLE PRECISION NOT NULL,
    sponsor    TEXT,
    updated_at BIGINT NOT NULL
);

CREATE TABLE zones (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    geojson    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id   TEXT NOT NULL UNIQUE,
    payload    TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- A rowid table, not WITHOUT ROWID: secondary index entries then carry an
-- 8-byte rowid instead of the 36-byte event_id, which measured twice as
-- fast on the analytics ingest path.
CREATE TABLE events (
    event_id    TEXT PRIMARY KEY NOT NULL,
    v           INTEGER NOT NULL,
    at_ms       BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    server_id   TEXT NOT NULL,
    player_id   TEXT,
    session_id  TEXT,
    creature_id TEXT,
    species     TEXT,
    rarity      TEXT,
    poi_id      TEXT,
    lat         DOUBLE PRECISION,
    lon         DOUBLE PRECISION,
    outcome     TEXT,
    value       DOUBLE PRECISION
);
CREATE INDEX events_kind_at_ms ON events (kind, at_ms);
CREATE INDEX events_poi_id ON events (poi_id);
CREATE INDEX events_player_id ON events (player_id);
