//! One simulated player: connect, then send on a fixed open-loop schedule,
//! match replies by `seq`, and record latency from the scheduled send time.
//!
//! Each player is one task owning its socket(s). The read side is polled
//! first so reply timestamps are taken as soon as frames arrive; sends go out
//! on `Interval` ticks with `MissedTickBehavior::Burst`, so a generator that
//! falls behind catches up instead of silently sending less (and the lag is
//! recorded as generator overhead).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocol::play::{ClientMessage, LocationUpdate};
use rand::Rng;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::clock::{self, TimerGrid};
use crate::config::Config;
use crate::conn::{self, Endpoints, Ws};
use crate::geo::LatLon;
use crate::lobby::Lobby;
use crate::stats::{Kind, Recorder, Stats};
use crate::walker::Walker;

mod reconnect;
mod replies;

/// How close (m) a creature must be to throw at it; the server's catch
/// range defaults to 50 m and GPS jitter adds a few metres.
const CATCH_RANGE_M: f64 = 40.0;
/// How far (m) a player walks to a creature it sees.
const CHASE_RANGE_M: f64 = 150.0;
/// How close (m) a POI must be to spin it.
const SPIN_RANGE_M: f64 = 30.0;
/// How long a player waits before spinning the same POI again.
const SPIN_COOLDOWN_S: f64 = 300.0;
/// Most sends written before one flush when several are due at once.
const MAX_BATCH: usize = 64;
/// Raid requests remembered while unanswered (a raid sends one a second).
const MAX_RAID_SEQS: usize = 16;

/// A player looks at what a `nearby` lists at most this often, as an app
/// redraws its map; the replies between are only timed. At one update a
/// second every reply is read; at saturation (thousands a second per
/// socket) decoding each would make the generator, not the server, the
/// limit.
const LOOK_EVERY: Duration = Duration::from_millis(100);

/// Everything the players of one run share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) stats: Stats,
    /// Drops and resumes (`--drop-share`).
    pub(crate) resumes: crate::resume::Resumes,
    /// The storm's recorder (`--storm`, `--reconnect-storm`).
    pub(crate) storm: Option<crate::storm::Storm>,
    pub(crate) http: reqwest::Client,
    pub(crate) endpoints: Endpoints,
    /// Opens the players' sockets (buffers, timeout, TLS).
    pub(crate) dialer: conn::Dialer,
    pub(crate) connect_gate: Semaphore,
    /// When player 0 may start; the ramp is measured from here.
    pub(crate) start: Instant,
    /// When scheduled sending stops.
    pub(crate) end: Instant,
    /// Tokio's timer tick grid, when known (see [`crate::clock`]).
    pub(crate) grid: Option<TimerGrid>,
    /// Players that have not finished measuring yet.
    pub(crate) unfinished: AtomicUsize,
    /// Turns true when `unfinished` reaches zero.
    pub(crate) all_finished: watch::Sender<bool>,
}

/// Counts a player as finished when dropped (on every way out of `run`),
/// and tells everyone once the last one is.
struct FinishGuard<'a> {
    shared: &'a Shared,
    done: bool,
}

impl FinishGuard<'_> {
    fn finish(&mut self) {
        if !std::mem::replace(&mut self.done, true)
            && self.shared.unfinished.fetch_sub(1, Ordering::AcqRel) == 1
        {
            self.shared.all_finished.send_replace(true);
        }
    }
}

impl Drop for FinishGuard<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

#[derive(Debug)]
struct Pending {
    seq: u64,
    kind: Kind,
    at: Instant,
}

#[derive(Debug)]
struct SeenCreature {
    id: String,
    pos: LatLon,
}

struct Player<'a> {
    shared: &'a Shared,
    rec: Recorder<'a>,
    walker: Walker,
    ws: Ws,
    lobby: Option<Lobby>,
    inflight: VecDeque<Pending>,
    creatures: Vec<SeenCreature>,
    /// When the player last read a `nearby` through (see [`LOOK_EVERY`]).
    looked_at: Option<Instant>,
    seq: u64,
    /// Sequence numbers of raid messages still unanswered, each marked
    /// true for a `join_session` (false: `attack`); their replies are not
    /// timed.
    raid_seqs: VecDeque<(u64, bool)>,
    echo: bool,
    /// The guest token, kept to resume after a drop.
    token: Option<String>,
    /// When this player's socket drops (`--drop-share`), until it has.
    drop_at: Option<Instant>,
    /// Dropped in a raid; the server's `session_joined` push is awaited.
    raid_resume_pending: bool,
    /// Drops and comes back in the reconnect storm (its resume is also
    /// the storm's arrival).
    storm_reconnect: bool,
}

/// Runs player `idx` from its ramp slot to the end of the run.
pub(crate) async fn run(shared: Arc<Shared>, idx: usize, mut stop: watch::Receiver<bool>) {
    let cfg = &shared.cfg;
    let mut finished = FinishGuard {
        shared: &shared,
        done: false,
    };
    let in_storm = crate::storm::arrives_in_storm(cfg, idx);
    let storm_reconnect = crate::storm::reconnects_in_storm(cfg, idx);
    let offset = if in_storm {
        crate::storm::storm_offset(cfg)
    } else {
        cfg.ramp.mul_f64(idx as f64 / cfg.players as f64)
    };
    tokio::select! {
        () = tokio::time::sleep_until(shared.start + offset) => {}
        _ = stop.changed() => return,
    }
    let lobby_player = unit_hash(cfg.seed, idx as u64) < cfg.mix.lobby_share;
    let connected = tokio::select! {
        r = tokio::time::timeout(cfg.connect_timeout, Box::pin(connect(&shared, idx, lobby_player))) => r,
        _ = stop.changed() => return,
    };
    let storm = shared.storm.as_ref();
    let (ws, lobby_ws, token) = match connected {
        Ok(Ok(c)) => c,
        Ok(Err(reason)) => {
            storm.filter(|_| in_storm).inspect(|s| s.failed());
            return shared.stats.connect_failed(reason);
        }
        Err(_) => {
            storm.filter(|_| in_storm).inspect(|s| s.failed());
            return shared.stats.connect_failed("connect_timeout");
        }
    };
    shared.stats.player_connected();
    let now = Instant::now();
    let mut rec = shared.stats.recorder(idx);
    match storm {
        Some(s) if in_storm => s.arrived(now),
        Some(s) if !storm_reconnect => rec = rec.watching(s),
        _ => {}
    }
    let mut walker = Walker::new(cfg.region, &cfg.mix, cfg.seed, idx as u64);
    walker.start_in_world(&cfg.world);
    let lobby = lobby_ws.map(|l| Lobby::new(l, now, walker.rng()));
    // A random phase spreads each player's sends over the period instead of
    // having everyone send at the same instant.
    let phase = cfg.period().mul_f64(walker.rng().random::<f64>());
    // On the heap, built in one place: the task's future then holds a
    // pointer instead of the player plus the pieces it was built from,
    // which keeps 10,000 idle players' memory down.
    let mut player = Box::new(Player {
        shared: &shared,
        rec,
        walker,
        ws,
        lobby,
        inflight: VecDeque::new(),
        creatures: Vec::new(),
        looked_at: None,
        seq: 0,
        raid_seqs: VecDeque::new(),
        echo: shared.endpoints.auth.is_none(),
        token,
        drop_at: if storm_reconnect {
            storm.map(crate::storm::Storm::at)
        } else {
            crate::resume::drop_offset(cfg, idx).map(|o| shared.start + o)
        },
        raid_resume_pending: false,
        storm_reconnect,
    });
    let broken = player.main_loop(now + phase, &mut stop).await;
    player.drain(broken).await;
    // Closing thousands of sockets is work for the generator; doing it
    // while others still wait for replies would delay those replies and
    // blame the server. So everyone closes once everyone has finished.
    finished.finish();
    let mut all = shared.all_finished.subscribe();
    let _ = tokio::time::timeout(cfg.timeout, all.wait_for(|done| *done)).await;
    player.close(broken).await;
}

/// A number in [0, 1) fixed by `seed` and `index` (splitmix64), for choices
/// made before a player's walker exists.
pub(crate) fn unit_hash(seed: u64, index: u64) -> f64 {
    let mut z = seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `step` until it succeeds or fails for good; a busy answer (shed
/// by the server) is waited out with [`conn::busy_backoff`] and retried,
/// with no connect slot held meanwhile. The caller bounds the total time.
pub(crate) async fn until_admitted<T, F, Fut>(
    shared: &Shared,
    mut step: F,
) -> Result<T, &'static str>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, &'static str>>,
{
    let mut attempt: u32 = 0;
    loop {
        let outcome = {
            let _permit = shared
                .connect_gate
                .acquire()
                .await
                .map_err(|_| "shutdown")?;
            step().await
        };
        match outcome {
            Err(reason) if conn::is_busy(reason) => {
                shared.stats.shed();
                let wait = conn::busy_backoff(shared.dialer.retry_after(), attempt, rand::random());
                tokio::time::sleep(wait).await;
                attempt = attempt.saturating_add(1);
            }
            other => return other,
        }
    }
}

async fn connect(
    shared: &Shared,
    idx: usize,
    lobby_player: bool,
) -> Result<(Ws, Option<Ws>, Option<String>), &'static str> {
    let cfg = &shared.cfg;
    let ep = &shared.endpoints;
    let Some(auth_url) = &ep.auth else {
        return until_admitted(shared, || shared.dialer.open(&ep.play))
            .await
            .map(|ws| (ws, None, None));
    };
    let device_id = format!("{}-{idx}", cfg.device_prefix);
    let token = until_admitted(shared, || {
        conn::guest_token(&shared.dialer, &shared.http, auth_url, device_id.clone())
    })
    .await?;
    let ws = until_admitted(shared, || async {
        let mut ws = shared.dialer.open(&ep.play).await?;
        conn::play_hello(&mut ws, &token).await?;
        Ok(ws)
    })
    .await?;
    let lobby = match (&ep.lobby, lobby_player) {
        (Some(url), true) => {
            match open_lobby(&shared.dialer, url, &token).await {
                Ok(l) => Some(l),
                Err(reason) => {
                    // The player still plays; the failure is reported.
                    shared.stats.connect_failed(reason);
                    None
                }
            }
        }
        _ => None,
    };
    Ok((ws, lobby, Some(token)))
}

async fn open_lobby(dialer: &conn::Dialer, url: &str, token: &str) -> Result<Ws, &'static str> {
    let mut ws = dialer.open(url).await.map_err(|_| "lobby_connect")?;
    conn::lobby_hello(&mut ws, token).await?;
    Ok(ws)
}

fn round_to(v: f64, step: f64) -> f64 {
    (v / step).round() * step
}

impl Player<'_> {
    /// Sends on schedule until the end; returns true when the socket broke.
    async fn main_loop(&mut self, first: Instant, stop: &mut watch::Receiver<bool>) -> bool {
        let period = self.shared.cfg.period();
        let grid = self.shared.grid;
        // The nominal schedule is exact; each send is due at its nominal time
        // snapped onto the timer grid. A due time already past fires at once,
        // so a late generator catches up instead of sending less.
        let mut nominal = first;
        let mut due = clock::align(grid.as_ref(), nominal);
        let tick = tokio::time::sleep_until(due);
        tokio::pin!(tick);
        let end = tokio::time::sleep_until(self.shared.end);
        tokio::pin!(end);
        let drop_at = tokio::time::sleep_until(self.drop_at.unwrap_or(self.shared.end));
        tokio::pin!(drop_at);
        loop {
            tokio::select! {
                biased;
                frame = self.ws.next() => match frame {
                    Some(Ok(Message::Text(text))) => self.on_play_text(&text, Instant::now()),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return true,
                    Some(Ok(_)) => {}
                },
                frame = Lobby::next(&mut self.lobby) => self.on_lobby_frame(frame),
                () = &mut end => return false,
                _ = stop.changed() => return false,
                () = &mut drop_at, if self.drop_at.is_some() => {
                    self.drop_at = None;
                    if !self.drop_and_resume().await {
                        return true;
                    }
                    // Slots that fell while offline are not sent late.
                    let mut missed = 0;
                    while due <= Instant::now() {
                        nominal += period;
                        due = clock::align(grid.as_ref(), nominal);
                        missed += 1;
                    }
                    self.shared.resumes.offline_slots(missed);
                    tick.as_mut().reset(due);
                }
                () = &mut tick => {
                    // Every send already due goes out in one batch with a
                    // single flush, so a generator running behind (or a high
                    // per-player rate) costs one syscall per batch, not per frame.
                    let mut batch = 0;
                    let mut ended = false;
                    loop {
                        let scheduled = due;
                        nominal += period;
                        due = clock::align(grid.as_ref(), nominal);
                        if scheduled >= self.shared.end {
                            ended = true;
                            break;
                        }
                        if self.on_tick(scheduled).await.is_err() {
                            return true;
                        }
                        batch += 1;
                        if batch >= MAX_BATCH || due > Instant::now() {
                            break;
                        }
                    }
                    // Frames fed in this batch must go out even when the run
                    // just ended, or they would count as timeouts.
                    if self.ws.flush().await.is_err() {
                        return true;
                    }
                    if ended {
                        return false;
                    }
                    tick.as_mut().reset(due);
                }
            }
        }
    }

    fn on_lobby_frame(
        &mut self,
        frame: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        match frame {
            Some(Ok(Message::Text(text))) => {
                if let Some(lobby) = &mut self.lobby {
                    lobby.on_text(&text, Instant::now(), &self.rec, self.walker.rng());
                }
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                self.rec.error(None, "lobby_disconnected");
                self.lobby = None;
            }
            Some(Ok(_)) => {}
        }
    }

    /// One scheduled send: expire old requests, move, pick an action, send.
    async fn on_tick(
        &mut self,
        scheduled: Instant,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let now = Instant::now();
        let timeout = self.shared.cfg.timeout;
        while let Some(p) = self.inflight.front() {
            if now.duration_since(p.at) < timeout {
                break;
            }
            self.rec.timeout(p.kind, p.at, now);
            self.inflight.pop_front();
        }
        // The walker moves on the schedule's clock, so its track stays
        // smooth even when the generator runs late.
        self.walker
            .advance_to((scheduled - self.shared.start).as_secs_f64());
        if self.inflight.len() >= self.shared.cfg.max_in_flight {
            // Open loop within a bound: the slot is counted, not hidden.
            self.rec.skipped(Kind::Location);
            return Ok(());
        }
        let (kind, msg) = self.next_message();
        let text = msg.encode();
        self.rec.sent(kind, Instant::now() - scheduled);
        self.inflight.push_back(Pending {
            seq: self.seq,
            kind,
            at: scheduled,
        });
        // Queued only; the caller flushes the batch.
        self.ws.feed(Message::text(text)).await?;
        self.raid_step().await?;
        if let Some(lobby) = &mut self.lobby {
            let reported = self.walker.fix().pos;
            if lobby
                .tick(now, &mut self.walker, reported, &self.rec, timeout)
                .await
                .is_err()
            {
                self.rec.error(None, "lobby_disconnected");
                self.lobby = None;
            }
        }
        Ok(())
    }

    /// A player in a raid joins it right after the match, then attacks the
    /// boss once per scheduled slot until the session ends. Raid traffic is
    /// load on the server but not a timed request.
    async fn raid_step(&mut self) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let Some(lobby) = &mut self.lobby else {
            return Ok(());
        };
        let (msg, join) = if let Some(session_token) = lobby.take_join() {
            self.seq += 1;
            let join = ClientMessage::JoinSession {
                seq: Some(self.seq),
                session_token,
            };
            (join, true)
        } else if lobby.raiding() {
            self.seq += 1;
            let attack = ClientMessage::Attack {
                seq: Some(self.seq),
            };
            (attack, false)
        } else {
            return Ok(());
        };
        if self.raid_seqs.len() >= MAX_RAID_SEQS {
            self.raid_seqs.pop_front();
        }
        self.raid_seqs.push_back((self.seq, join));
        self.ws.feed(Message::text(msg.encode())).await
    }

    /// Chooses this slot's message: a catch or spin when the dice and the
    /// surroundings allow, a location update otherwise.
    fn next_message(&mut self) -> (Kind, ClientMessage) {
        self.seq += 1;
        let seq = Some(self.seq);
        let mix = self.shared.cfg.mix;
        // Drivers only move: above cycling speed the game server wants a
        // passenger's confirmation for catches and spins.
        if !self.echo && self.walker.mobility() != crate::walker::Mobility::Drive {
            let roll: f64 = self.walker.rng().random();
            if roll < mix.catch_share {
                let here = self.walker.true_pos();
                let nearest = self
                    .creatures
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (i, here.distance_m(c.pos)))
                    .filter(|&(_, d)| d <= CATCH_RANGE_M)
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((i, _)) = nearest {
                    // Throw once: the creature is forgotten until the next
                    // `nearby` shows it again.
                    let creature_id = self.creatures.swap_remove(i).id;
                    return (Kind::Catch, ClientMessage::Catch { seq, creature_id });
                }
            } else if roll < mix.catch_share + mix.spin_share
                && let Some(i) = self.walker.spinnable_poi(SPIN_RANGE_M, SPIN_COOLDOWN_S)
            {
                self.walker.mark_spun(i);
                let poi_id = self.walker.pois()[i].id.clone();
                return (Kind::Spin, ClientMessage::Spin { seq, poi_id });
            }
        }
        let fix = self.walker.fix();
        let update = LocationUpdate {
            seq,
            // Phones report about 1 cm resolution; shorter numbers keep
            // frames close to what real clients send.
            lat: round_to(fix.pos.lat, 1e-7),
            lon: round_to(fix.pos.lon, 1e-7),
            heading: Some(round_to(fix.heading, 0.1).min(359.9)),
            speed: Some(round_to(fix.speed, 0.01)),
            accuracy: Some(round_to(fix.accuracy, 0.1)),
        };
        (Kind::Location, ClientMessage::Location(update))
    }

    /// After the last scheduled send: wait for outstanding replies up to the
    /// timeout, then count what is left as timeouts (or as disconnect errors
    /// when the socket broke).
    async fn drain(&mut self, broken: bool) {
        if broken {
            self.shared.stats.player_disconnected();
            for p in self.inflight.drain(..) {
                self.rec.error(Some(p.kind), "disconnected");
            }
        } else if let Some(last) = self.inflight.back() {
            let deadline = tokio::time::sleep_until(last.at + self.shared.cfg.timeout);
            tokio::pin!(deadline);
            while !self.inflight.is_empty() {
                tokio::select! {
                    biased;
                    frame = self.ws.next() => match frame {
                        Some(Ok(Message::Text(text))) => self.on_play_text(&text, Instant::now()),
                        Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                    () = &mut deadline => break,
                }
            }
        }
        let now = Instant::now();
        for p in self.inflight.drain(..) {
            self.rec.timeout(p.kind, p.at, now);
        }
    }

    /// Says goodbye on the lobby (settling its ticket) and closes the play
    /// socket.
    async fn close(&mut self, broken: bool) {
        if let Some(lobby) = self.lobby.take() {
            // Boxed: the lobby's goodbye is rare and would otherwise widen
            // every player's task by its size.
            Box::pin(lobby.finish(&self.rec)).await;
        }
        if !broken {
            let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(None)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_hash_is_uniform_enough_to_pick_shares() {
        let n = 20_000;
        let picked = (0..n).filter(|&i| unit_hash(1, i) < 0.05).count();
        assert!((800..1200).contains(&picked), "{picked}");
        let mean = (0..n).map(|i| unit_hash(7, i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        assert_eq!(unit_hash(3, 9), unit_hash(3, 9));
        assert_ne!(unit_hash(3, 9), unit_hash(4, 9));
    }
}
