//! geogame analytics: game events flow from the game servers to SQL, and
//! the reports that sponsors and designers read are served from there.
//!
//! # Layout
//! - [`EventSink`] (`sink`): the game's non-blocking, bounded handle for
//!   best-effort events; drops (and counts) rather than block the game.
//! - [`Pipeline`] (`pipeline`): drains a sink in batches, into SQL
//!   ([`Pipeline::embedded`]) or into a Redis stream
//!   ([`Pipeline::redis_producer`]), and runs the outbox relay (`outbox`).
//! - [`Consumer`] / [`run_consumer`] (`consumer`, `stream`, `entries`): the
//!   scaled-out analytics service's side of the Redis stream.
//! - [`reports_router`] (`reports`): `GET /v1/reports/*`.
//! - `service`: the standalone `analytics` binary's flags and main loop.
//!
//! # Two kinds of events
//! 1. Best-effort (location and latency samples, spawns, despawns,
//!    protocol errors, session start and end) go through
//!    [`EventSink::emit`]. Losing a few under overload is acceptable;
//!    losing them silently is not, so every drop is counted in
//!    `geogame_events_dropped_total`.
//! 2. Acknowledged (catch, spin, match formed): what a player was told
//!    about. The store writes them into the SQL `outbox` table in the same
//!    transaction as the game state, before the player is answered, and
//!    the outbox relay moves them on.
//!
//! # Exactly once for what was acknowledged
//! A catch, spin or match that a player was told about is counted exactly
//! once, even if any process is SIGKILLed at any moment after the
//! acknowledgement. The argument, step by step:
//!
//! 1. **It exists.** The player is answered only after the transaction
//!    holding both the game state and the outbox row committed. So once
//!    told, the event is durably in `outbox`; a crash before the commit
//!    means the player was never told.
//! 2. **It is never deleted before it is safe elsewhere.**
//!    - Embedded: [`store::Db::relay_outbox_locally`] inserts the rows into
//!      `events` and deletes them from `outbox` in ONE transaction. A
//!      crash leaves each row in exactly one of the two tables.
//!    - Scaled out: the relay deletes outbox rows only after their XADD
//!      succeeded; Redis holds them from then on (with AOF persistence on
//!      the Redis side for crashes of Redis itself). A crash between XADD
//!      and delete means the rows are XADDed again after restart: at least
//!      once, possibly twice.
//! 3. **Stream entries are acknowledged only after they are stored.** The
//!    consumer XACKs a batch only after `insert_events` committed. A crash
//!    before XACK leaves the entries pending: the restarted consumer
//!    re-reads its own pending entries first (`XREADGROUP ... 0`), and a
//!    consumer that never comes back has them claimed by a live one
//!    (`XAUTOCLAIM` after `claim_idle`). While SQL is down, nothing is
//!    acknowledged, so nothing is lost. At least once, again.
//! 4. **Storing is idempotent.** `events.event_id` is the primary key and
//!    `insert_events` skips ids already stored (`ON CONFLICT DO NOTHING`),
//!    so every redelivery in steps 2 and 3 stores nothing new.
//! 5. **Reports count rows.** Each report counts rows of `events`, one per
//!    `event_id`, so at-least-once delivery plus the idempotent sink is
//!    exactly-once counting.
//!
//! The only ways left to lose an acknowledged event are losing the SQL
//! database or the Redis data itself (disk loss, Redis without
//! persistence), or trimming the stream past unconsumed entries, which the
//! consumer's trim never does (it trims below every group's pending and
//! delivered marks only).

pub mod access;
mod calendar;
mod config;
mod consumer;
mod entries;
mod error;
mod outbox;
mod pipeline;
mod reports;
pub mod retention;
pub mod service;
mod sink;
mod stream;

pub use config::{AnalyticsConfig, default_consumer_name};
pub use consumer::{Consumer, ConsumerStats, run_consumer};
pub use error::AnalyticsError;
pub use pipeline::{LAG_METRIC, Pipeline};
pub use reports::{
    DailyActive, HeatCell, HourRow, LengthBucket, PoiHourRow, PoiRow, Range, SessionLengths,
    SpeciesRow, Summary, catches_per_hour, daily_active, heatmap, poi_hours, pois, reports_router,
    session_lengths, species, summary,
};
pub use sink::{DROPPED_METRIC, EventSink};
pub use stream::EVENT_FIELD;

/// The current time in unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
