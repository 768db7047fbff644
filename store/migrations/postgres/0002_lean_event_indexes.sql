-- The analytics sink appends events at a high rate. Indexes on poi_id and
-- player_id put every row on a random page of two more B-trees and cut
-- SQLite ingest several times over; no report needs them (the reports
-- aggregate first), so they go. The (kind, at_ms) index stays.
DROP INDEX IF EXISTS events_poi_id;
DROP INDEX IF EXISTS events_player_id;
