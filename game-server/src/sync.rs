//! How a game server announces its world changes to the other game
//! servers sharing its database: operator changes, caught creatures and
//! players taken over go out on Redis pub/sub as
//! `protocol::sync::WorldMessage`s. Hearing them is `follow.rs`. Players'
//! movement tracks are kept on Redis too, under `<channel>:track:<player>`,
//! so the server a player moves to judges them from where they were.

use std::time::Duration;

use protocol::sync::{Track, WorldChange, WorldMessage};
use redis::aio::ConnectionManager;

/// How game servers hear about each other's world changes.
#[derive(Clone)]
pub enum WorldSync {
    /// One game server: nothing to tell anyone.
    Local,
    /// Several game servers sharing Redis.
    Redis(Box<RedisSync>),
}

/// The Redis side of [`WorldSync`].
#[derive(Clone)]
pub struct RedisSync {
    /// Publishing connection (reconnects by itself).
    con: ConnectionManager,
    /// Subscribing client.
    pub(crate) client: redis::Client,
    /// The pub/sub channel.
    pub(crate) channel: String,
    /// This server's id, so it can skip its own messages.
    pub(crate) origin: String,
}

impl std::fmt::Debug for WorldSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorldSync::Local => f.write_str("WorldSync::Local"),
            WorldSync::Redis(r) => write!(f, "WorldSync::Redis({})", r.channel),
        }
    }
}

/// How long a failed announcement is tried again.
pub(crate) const ANNOUNCE_RETRY_FOR: Duration = Duration::from_secs(10);

/// The longest a `hello` waits for a player's track on Redis.
pub(crate) const TRACK_READ_TIMEOUT: Duration = Duration::from_millis(500);

impl RedisSync {
    fn track_key(&self, player: &str) -> String {
        format!("{}:track:{player}", self.channel)
    }
}

impl WorldSync {
    /// Connects to Redis for syncing on `channel` as `origin`.
    pub async fn redis(url: &str, channel: &str, origin: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let con = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(WorldSync::Redis(Box::new(RedisSync {
            con,
            client,
            channel: channel.to_owned(),
            origin: origin.to_owned(),
        })))
    }

    /// Keeps a player's track for other servers, without waiting; it
    /// expires after the retention a guard has locally.
    pub(crate) fn save_track(&self, player: &str, track: Track) {
        let WorldSync::Redis(r) = self else { return };
        let mut con = r.con.clone();
        let key = r.track_key(player);
        let ttl_ms = crate::presence::GUARD_RETAIN.as_millis() as u64;
        tokio::spawn(async move {
            let r: redis::RedisResult<()> = redis::cmd("SET")
                .arg(&key)
                .arg(track.encode())
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut con)
                .await;
            if let Err(e) = r {
                metrics::counter!("geogame_sync_publish_errors_total").increment(1);
                tracing::warn!(error = %e, "player track not saved");
            }
        });
    }

    /// The track another server kept for a player, if any. Redis being
    /// away costs at most [`TRACK_READ_TIMEOUT`] and yields none: the
    /// player is then judged from this server's own memory.
    pub(crate) async fn load_track(&self, player: &str) -> Option<Track> {
        let WorldSync::Redis(r) = self else {
            return None;
        };
        let mut con = r.con.clone();
        let mut get = redis::cmd("GET");
        get.arg(r.track_key(player));
        let read = get.query_async::<Option<String>>(&mut con);
        match tokio::time::timeout(TRACK_READ_TIMEOUT, read).await {
            Ok(Ok(text)) => text.and_then(|t| Track::decode(&t).ok()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "player track not read");
                None
            }
            Err(_) => {
                tracing::warn!("player track read timed out");
                None
            }
        }
    }

    /// Announces a change, without waiting. A failed PUBLISH is tried
    /// again for [`ANNOUNCE_RETRY_FOR`]: after Redis restarts, the first
    /// command on the old connection fails (broken pipe) while the
    /// connection manager reconnects, and a server that resubscribed
    /// before this change was made would otherwise never hear it. World
    /// changes are idempotent (a reload, a removal), so a retry that
    /// overtakes a later announcement does no harm; a `Claimed` is tried
    /// once, since a late one would close the player's newer socket. What
    /// is lost beyond that is repaired by the reload after each
    /// resubscription.
    pub(crate) fn announce(&self, change: WorldChange) {
        let WorldSync::Redis(r) = self else { return };
        let retry_for = match change {
            WorldChange::Claimed { .. } => Duration::ZERO,
            _ => ANNOUNCE_RETRY_FOR,
        };
        let text = WorldMessage {
            origin: r.origin.clone(),
            change,
        }
        .encode();
        let mut con = r.con.clone();
        let channel = r.channel.clone();
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let mut wait = Duration::from_millis(50);
            loop {
                let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                    .arg(&channel)
                    .arg(&text)
                    .query_async(&mut con)
                    .await;
                let Err(e) = r else { return };
                metrics::counter!("geogame_sync_publish_errors_total").increment(1);
                if started.elapsed() + wait > retry_for {
                    tracing::warn!(error = %e, "world sync announcement lost");
                    return;
                }
                tracing::debug!(error = %e, "world sync announcement failed; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(1));
            }
        });
    }
}
