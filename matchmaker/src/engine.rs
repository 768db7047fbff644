//! The matchmaking engine: accepting and cancelling tickets, and the tick
//! that expires, matches, assigns and commits sessions.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use protocol::lobby::{Mode, QueueRequest};
use protocol::token::{SessionClaims, TokenKey};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::backend::{Backend, Formed, State};
use crate::hub::Hub;
use crate::model::{HubEvent, MatchRecord, SessionRec, Ticket, TicketPart, distance_m, ms, now_ms};
use crate::registry::Registry;
use crate::rules;
use crate::{MatchConfig, MatchError, PoiDirectory};

/// Called once for every session formed, on the process that formed it.
pub type OnMatch = Arc<dyn Fn(&MatchRecord) + Send + Sync>;

/// The matchmaker: queue, matching loop and `/v1/lobby` sockets.
///
/// Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Lobby {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cfg: MatchConfig,
    pub(crate) state: State,
    registry: Registry,
    pub(crate) key: TokenKey,
    pois: Arc<dyn PoiDirectory>,
    on_match: OnMatch,
    pub(crate) server_id: String,
    pub(crate) hub: Hub,
    /// Every socket task, so shutdown can wait for them.
    pub(crate) conns: TaskTracker,
    /// Cancelled on shutdown: sockets close with 1001.
    pub(crate) closing: CancellationToken,
    last_sweep_ms: AtomicI64,
    last_no_room_warn_ms: AtomicI64,
    /// Groups whose commit got no reply (Redis went away mid-call): they
    /// may or may not have become sessions. The next tick looks them up,
    /// so that `on_match` still hears of every session exactly once.
    in_doubt: Mutex<Vec<(Formed, i64)>>,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Whether this process held the matching lease (always in memory).
    pub led: bool,
    /// Sessions formed.
    pub sessions: usize,
    /// Tickets that went into those sessions.
    pub matched_tickets: usize,
    /// Tickets that expired.
    pub expired: usize,
    /// Groups ready to start that waited because no server had room.
    pub deferred_groups: usize,
    /// Groups that lost a race (a ticket was cancelled meanwhile).
    pub lost_races: usize,
}

impl Lobby {
    /// Builds a matchmaker. `server_id` names this process in `welcome`.
    pub async fn new(
        cfg: MatchConfig,
        backend: Backend,
        registry: Registry,
        key: TokenKey,
        pois: Arc<dyn PoiDirectory>,
        on_match: OnMatch,
        server_id: String,
    ) -> Result<Lobby, MatchError> {
        cfg.validate()?;
        let state = State::open(&backend, &cfg).await?;
        Ok(Lobby {
            inner: Arc::new(Inner {
                cfg,
                state,
                registry,
                key,
                pois,
                on_match,
                server_id,
                hub: Hub::default(),
                conns: TaskTracker::new(),
                closing: CancellationToken::new(),
                last_sweep_ms: AtomicI64::new(0),
                last_no_room_warn_ms: AtomicI64::new(0),
                in_doubt: Mutex::default(),
            }),
        })
    }

    /// The rules and bounds in force.
    pub fn config(&self) -> &MatchConfig {
        &self.inner.cfg
    }

    /// Opens a ticket for `player` (and their party); returns its id.
    pub async fn queue(&self, player: &str, req: &QueueRequest) -> Result<String, MatchError> {
        let cfg = &self.inner.cfg;
        let mut seen = HashSet::with_capacity(req.party.len() + 1);
        seen.insert(player);
        for p in &req.party {
            if !seen.insert(p.as_str()) {
                return Err(MatchError::Invalid(
                    "party lists a player twice or includes the sender".into(),
                ));
            }
        }
        match req.mode {
            Mode::Raid if req.party.len() + 1 > cfg.raid_max => {
                return Err(MatchError::Invalid(format!(
                    "a raid party holds at most {} players",
                    cfg.raid_max
                )));
            }
            Mode::Raid if req.poi_id.is_none() => {
                return Err(MatchError::Invalid("a raid ticket needs a poi_id".into()));
            }
            Mode::Pvp if !req.party.is_empty() => {
                return Err(MatchError::Invalid("pvp tickets are for one player".into()));
            }
            _ => {}
        }
        if let Some(poi) = &req.poi_id {
            let (lat, lon) = self.inner.pois.locate(poi).ok_or(MatchError::NotFound)?;
            if distance_m(lat, lon, req.lat, req.lon) > cfg.raid_radius_m {
                return Err(MatchError::TooFar);
            }
        }
        let now = now_ms();
        let ticket = Ticket {
            id: uuid::Uuid::now_v7().to_string(),
            owner: player.to_owned(),
            party: req.party.clone(),
            mode: req.mode,
            poi_id: req.poi_id.clone(),
            level: req.level.unwrap_or(cfg.default_level),
            created_ms: now,
            expires_ms: now.saturating_add(ms(cfg.ticket_ttl)),
        };
        self.inner.state.enqueue(&ticket).await?;
        metrics::counter!("geogame_lobby_tickets_total", "event" => "queued").increment(1);
        Ok(ticket.id)
    }

    /// Cancels `player`'s open ticket. Someone else's ticket, or one that
    /// already matched or expired, is [`MatchError::NotFound`].
    pub async fn cancel(&self, player: &str, ticket_id: &str) -> Result<(), MatchError> {
        let state = &self.inner.state;
        let t = state.ticket(ticket_id).await?.ok_or(MatchError::NotFound)?;
        if t.owner != player {
            return Err(MatchError::NotFound);
        }
        let done = state.drop_tickets(&[(t, None)]).await?;
        if done.first() != Some(&true) {
            return Err(MatchError::NotFound);
        }
        metrics::counter!("geogame_lobby_tickets_total", "event" => "cancelled").increment(1);
        Ok(())
    }

    /// Ends a session (the game server calls this when the encounter is
    /// over), so its players may queue again. Returns whether it was running.
    pub async fn end_session(&self, session_id: &str) -> Result<bool, MatchError> {
        crate::release::end_in(&self.inner.state, session_id).await
    }

    /// How many tickets are open.
    pub async fn open_tickets(&self) -> Result<usize, MatchError> {
        Ok(self.inner.state.open_tickets().await?.len())
    }

    /// How many sessions are running.
    pub async fn sessions_running(&self) -> Result<usize, MatchError> {
        Ok(self.inner.state.sessions().await?.len())
    }

    /// Runs one round of the matching loop now. [`Lobby::run`] calls this
    /// every `tick`; tests and benches may call it directly.
    pub async fn tick_once(&self) -> Result<TickReport, MatchError> {
        // Phases:
        // 1. take or renew the matching lease (only its holder goes on);
        // 2. sweep sessions past their maximum duration;
        // 3. load open tickets and expire those past their time;
        // 4. plan groups with the rules;
        // 5. assign each group a live server with room, mint its token;
        // 6. commit atomically, then push, record and count.
        let inner = &self.inner;
        let mut report = TickReport::default();
        let t0 = Instant::now();
        if !inner.state.try_lead().await? {
            return Ok(report);
        }
        report.led = true;
        let now = now_ms();
        self.resolve_in_doubt().await?;
        self.sweep_sessions(now).await?;
        phase("lead_sweep", t0);

        let t1 = Instant::now();
        let all = inner.state.open_tickets().await?;
        let (live, stale): (Vec<_>, Vec<_>) = all.into_iter().partition(|t| t.expires_ms > now);
        report.expired = self.expire(stale).await?;
        metrics::gauge!("geogame_lobby_tickets_open").set(live.len() as f64);
        phase("load_expire", t1);

        let t2 = Instant::now();
        let groups = rules::plan(&inner.cfg, &live, now);
        phase("plan", t2);
        if groups.is_empty() {
            return Ok(report);
        }

        let t3 = Instant::now();
        let formed = self.assign(groups, now, &mut report).await?;
        phase("assign", t3);

        let t4 = Instant::now();
        let done = match inner.state.commit(&formed).await {
            Ok(done) => done,
            Err(e) => {
                let mut doubt = inner.in_doubt.lock().unwrap_or_else(|p| p.into_inner());
                doubt.extend(formed.into_iter().map(|f| (f, now)));
                return Err(e);
            }
        };
        let mut reservations = Vec::new();
        for (f, ok) in formed.iter().zip(done) {
            if !ok {
                report.lost_races += 1;
                metrics::counter!("geogame_lobby_commit_conflicts_total").increment(1);
                continue;
            }
            report.sessions += 1;
            report.matched_tickets += f.tickets.len();
            reservations.push((f.session.server_id.clone(), f.session.id.clone()));
            self.record(f, now);
        }
        metrics::gauge!("geogame_lobby_sessions_running").increment(report.sessions as f64);
        if let Err(e) = inner.registry.reserve(&reservations).await {
            // The sessions exist; a lost reservation only means a server's
            // room looks larger until its next heartbeat.
            tracing::warn!(error = %e, "could not record server reservations");
        }
        phase("commit", t4);
        Ok(report)
    }

    async fn resolve_in_doubt(&self) -> Result<(), MatchError> {
        let inner = &self.inner;
        let doubt = std::mem::take(&mut *inner.in_doubt.lock().unwrap_or_else(|p| p.into_inner()));
        for (i, (f, formed_at)) in doubt.iter().enumerate() {
            match inner.state.session(&f.session.id).await {
                Ok(Some(_)) => self.record(f, *formed_at),
                // Not committed: its tickets are still open (or were
                // cancelled) and the planner sees them again.
                Ok(None) => {}
                Err(e) => {
                    let mut rest = inner.in_doubt.lock().unwrap_or_else(|p| p.into_inner());
                    rest.extend(doubt.into_iter().skip(i));
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    async fn sweep_sessions(&self, now: i64) -> Result<(), MatchError> {
        let inner = &self.inner;
        let last = inner.last_sweep_ms.load(Ordering::Relaxed);
        if now - last < ms(inner.cfg.session_sweep) {
            return Ok(());
        }
        inner.last_sweep_ms.store(now, Ordering::Relaxed);
        let sessions = inner.state.sessions().await?;
        let (over, running): (Vec<SessionRec>, Vec<SessionRec>) =
            sessions.into_iter().partition(|s| s.expires_ms <= now);
        if !over.is_empty() {
            let ended = inner.state.end_sessions(&over).await?;
            let n = ended.iter().filter(|&&e| e).count();
            tracing::info!(
                sessions = n,
                "released players of sessions past their maximum duration"
            );
        }
        metrics::gauge!("geogame_lobby_sessions_running").set(running.len() as f64);
        Ok(())
    }

    async fn expire(&self, stale: Vec<Arc<Ticket>>) -> Result<usize, MatchError> {
        if stale.is_empty() {
            return Ok(0);
        }
        let batch: Vec<(Arc<Ticket>, Option<HubEvent>)> = stale
            .into_iter()
            .map(|t| {
                let ev = HubEvent::Expired { ticket: part(&t) };
                (t, Some(ev))
            })
            .collect();
        let done = self.inner.state.drop_tickets(&batch).await?;
        let mut n = 0;
        for ((_, ev), ok) in batch.iter().zip(done) {
            if !ok {
                continue;
            }
            n += 1;
            if let (false, Some(ev)) = (self.inner.state.shares_events(), ev) {
                self.inner.hub.deliver(ev);
            }
        }
        metrics::counter!("geogame_lobby_tickets_total", "event" => "expired").increment(n as u64);
        Ok(n)
    }

    async fn assign(
        &self,
        groups: Vec<Vec<Arc<Ticket>>>,
        now: i64,
        report: &mut TickReport,
    ) -> Result<Vec<Formed>, MatchError> {
        let inner = &self.inner;
        let mut rooms = inner.registry.rooms().await?;
        let now_s = now / 1000;
        let mut formed = Vec::with_capacity(groups.len());
        for tickets in groups {
            let Some(first) = tickets.first() else {
                continue;
            };
            let (mode, poi_id) = (first.mode, first.poi_id.clone());
            // Spread sessions: the server with the most room takes the next.
            let Some(server) = rooms
                .iter_mut()
                .filter(|r| r.room > 0)
                .max_by_key(|r| r.room)
            else {
                report.deferred_groups += 1;
                continue;
            };
            server.room -= 1;
            let players: Vec<String> = tickets.iter().flat_map(|t| t.members().cloned()).collect();
            let session_id = uuid::Uuid::new_v4().to_string();
            let session_token = inner.key.mint_session(SessionClaims {
                sid: session_id.clone(),
                players: players.clone(),
                server: server.info.id.clone(),
                mode: mode.as_str().to_owned(),
                poi_id,
                exp: now_s + inner.cfg.session_token_ttl_s,
                iat: now_s,
                typ: "session".into(),
            });
            formed.push(Formed {
                session: SessionRec {
                    id: session_id.clone(),
                    players: players.clone(),
                    server_id: server.info.id.clone(),
                    expires_ms: now.saturating_add(ms(inner.cfg.session_max)),
                },
                event: HubEvent::Matched {
                    session_id,
                    players,
                    server_url: server.info.ws_url.clone(),
                    session_token,
                    tickets: tickets.iter().map(|t| part(t)).collect(),
                },
                tickets,
            });
        }
        if report.deferred_groups > 0 {
            metrics::counter!("geogame_lobby_unassigned_total")
                .increment(report.deferred_groups as u64);
            let last = inner.last_no_room_warn_ms.load(Ordering::Relaxed);
            if now - last >= 10_000 {
                inner.last_no_room_warn_ms.store(now, Ordering::Relaxed);
                tracing::warn!(
                    groups = report.deferred_groups,
                    live_servers = rooms.len(),
                    "no game server has room; tickets stay queued"
                );
            }
        }
        Ok(formed)
    }

    fn record(&self, f: &Formed, now: i64) {
        let inner = &self.inner;
        let mut waited_ms = Vec::with_capacity(f.session.players.len());
        for t in &f.tickets {
            let waited = (now - t.created_ms).max(0);
            metrics::histogram!("geogame_lobby_time_to_match_seconds")
                .record(waited as f64 / 1000.0);
            waited_ms.extend(std::iter::repeat_n(waited, t.size()));
        }
        metrics::counter!("geogame_lobby_tickets_total", "event" => "matched")
            .increment(f.tickets.len() as u64);
        if !inner.state.shares_events() {
            inner.hub.deliver(&f.event);
        }
        let Some(first) = f.tickets.first() else {
            return;
        };
        (inner.on_match)(&MatchRecord {
            session_id: f.session.id.clone(),
            mode: first.mode,
            poi_id: first.poi_id.clone(),
            players: f.session.players.clone(),
            server_id: f.session.server_id.clone(),
            formed_at_ms: now,
            waited_ms,
        });
    }
}

fn part(t: &Ticket) -> TicketPart {
    TicketPart {
        ticket_id: t.id.clone(),
        members: t.members().cloned().collect(),
    }
}

fn phase(name: &'static str, since: Instant) {
    metrics::histogram!("geogame_lobby_tick_seconds", "phase" => name)
        .record(since.elapsed().as_secs_f64());
}
