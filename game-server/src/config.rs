//! Game server settings, with the contract's defaults.

use std::time::Duration;

/// Login failures for one email that make it 429 (`accounts.rs`) …
pub(crate) const LOGIN_MAX_FAILURES: usize = 5;
/// … within this window.
pub(crate) const LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Emails whose failures are remembered at once: a flood of made-up
/// emails cannot grow memory past it.
pub(crate) const LOGIN_TRACKED_EMAILS: usize = 100_000;
/// Client addresses tracked for the per-address sign-in limit.
pub(crate) const SIGN_IN_TRACKED_ADDRESSES: usize = 100_000;

/// OpenStreetMap's standard tiles; a page draws a plain map without them.
pub const DEFAULT_TILE_URL: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// Everything a game server can be tuned by. `Default` gives the
/// contract's defaults and sane bounds.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// This server's id, sent in `welcome` and used for session tokens.
    pub server_id: String,
    /// The WebSocket URL players reach this server at (for the lobby).
    pub public_ws_url: String,
    /// How many play sockets this server holds at once; one more gets 503
    /// `unavailable` ("server is full"), so a balancer or the client tries
    /// another server.
    pub capacity: usize,
    /// Raster map tiles for the web pages (`{z}/{x}/{y}` template), or none.
    pub tile_url: Option<String>,
    /// The lobby's WebSocket URL given to the web pages; none means
    /// `/v1/lobby` on the page's own origin.
    pub lobby_url: Option<String>,
    /// How many shared sessions (raids) this server hosts at once; the
    /// lobby's registry counts room in sessions.
    pub session_capacity: u32,
    /// Creatures and POIs within this radius are sent in `nearby`.
    pub view_radius_m: f64,
    /// A catch must be thrown from within this distance.
    pub catch_range_m: f64,
    /// A spin must be made from within this distance.
    pub spin_range_m: f64,
    /// A player within this distance of a POI counts as a visit.
    pub visit_radius_m: f64,
    /// The same POI counts as one visit per player within this window.
    pub visit_window: Duration,
    /// Seconds before the same player can spin the same POI again.
    pub spin_cooldown_s: i64,
    /// Lifetime of a player (access) token, guest or account. Short: an
    /// account renews it with its refresh token, a guest by signing in
    /// again with its device id; an open socket is not cut when it lapses.
    pub token_ttl_s: i64,
    /// Password sign-ins (`register` and `login`) one client address may
    /// attempt per minute; zero for no limit.
    pub sign_ins_per_address: usize,
    /// Sign-ins (guest, register, login, refresh) worked on at once; one
    /// more is shed with 503 and `Retry-After`, so a storm of arrivals
    /// queues at the clients instead of in the server.
    pub max_pending_sign_ins: usize,
    /// Play sockets between their `hello` and the end of their arrival
    /// (token check, standing, takeover) at once; one more is closed with
    /// 1013 (try again later).
    pub max_pending_hellos: usize,
    /// While the runtime runs timers later than this (it is saturated),
    /// new sign-ins and hellos are shed as above; zero never sheds on lag.
    pub shed_lag: Duration,
    /// Proxies (load balancers) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The first frame must arrive within this time.
    pub hello_timeout: Duration,
    /// A socket with no frame at all for this long is closed.
    pub idle_timeout: Duration,
    /// Interval of WebSocket pings to keep NATs open and detect dead peers.
    pub ping_interval: Duration,
    /// Largest text frame accepted, in bytes; larger gets close 1009.
    pub max_frame_bytes: usize,
    /// Sustained messages per second allowed per connection.
    pub rate_per_s: f64,
    /// Burst of messages allowed above the sustained rate.
    pub rate_burst: f64,
    /// Messages refused with `rate_limited` before the socket is closed
    /// with 1008.
    pub flood_strikes: u32,
    /// Frames queued for one connection's pushes before it is deemed not
    /// to read and is disconnected.
    pub send_queue: usize,
    /// A write that takes longer than this means the client does not read.
    pub write_timeout: Duration,
    /// Fastest plausible movement, m/s (a fast car on a highway).
    pub max_speed_mps: f64,
    /// Distance forgiven on every fix for GPS noise, in m.
    pub jitter_allowance_m: f64,
    /// How long actions are refused after impossible movement, by how far
    /// the jump went.
    pub jump_cooldowns: crate::movement::CooldownTable,
    /// Above this speed (m/s; about the fastest cycling), catches and
    /// spins need the player to confirm they are a passenger.
    pub passenger_speed_mps: f64,
    /// The strike ladder for repeated impossible movement.
    pub strike_ladder: crate::strikes::StrikeLadder,
    /// A player's location is logged to analytics at most once per this
    /// long (zero: every update). It is a time, not a share of updates, so
    /// that a client sending faster does not multiply the analytics writes.
    pub location_log_every: Duration,
    /// Length of a world tick (placement and despawn timers).
    pub tick: Duration,
    /// How long shutdown waits for sockets to close before giving up.
    pub drain_timeout: Duration,
    /// Seconds of warning players get before a shutdown closes their socket.
    pub shutdown_notice_s: u32,
    /// Raid boss hit points per member at the start.
    pub boss_hp_per_member: u32,
    /// A raid ends with `timeout` after this long.
    pub session_duration: Duration,
    /// Chance that a creature flees from a throw, by rarity tier
    /// (common, uncommon, rare, epic, legendary).
    pub flee_chance: [f64; 5],
}

impl ServerConfig {
    /// The flee chance of a creature of `rarity`.
    pub fn flee_chance(&self, rarity: spawner::Rarity) -> f64 {
        let i = match rarity {
            spawner::Rarity::Common => 0,
            spawner::Rarity::Uncommon => 1,
            spawner::Rarity::Rare => 2,
            spawner::Rarity::Epic => 3,
            spawner::Rarity::Legendary => 4,
        };
        self.flee_chance[i]
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            server_id: "gs-1".into(),
            public_ws_url: "ws://127.0.0.1:8080/v1/play".into(),
            capacity: 20_000,
            tile_url: Some(DEFAULT_TILE_URL.to_owned()),
            lobby_url: None,
            session_capacity: 500,
            view_radius_m: 200.0,
            catch_range_m: 50.0,
            spin_range_m: 40.0,
            visit_radius_m: 40.0,
            visit_window: Duration::from_secs(30 * 60),
            spin_cooldown_s: 300,
            token_ttl_s: 3600,
            sign_ins_per_address: 30,
            max_pending_sign_ins: 2048,
            max_pending_hellos: 1024,
            shed_lag: Duration::from_millis(50),
            trusted_proxies: Vec::new(),
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            ping_interval: Duration::from_secs(30),
            max_frame_bytes: protocol::MAX_FRAME_BYTES,
            rate_per_s: 20.0,
            rate_burst: 40.0,
            flood_strikes: 20,
            send_queue: 256,
            write_timeout: Duration::from_secs(5),
            max_speed_mps: 70.0,
            jitter_allowance_m: 50.0,
            jump_cooldowns: crate::movement::CooldownTable::default(),
            passenger_speed_mps: 10.5,
            strike_ladder: crate::strikes::StrikeLadder::default(),
            location_log_every: Duration::from_secs(10),
            tick: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(8),
            shutdown_notice_s: 1,
            boss_hp_per_member: 300,
            session_duration: Duration::from_secs(180),
            flee_chance: [0.05, 0.1, 0.2, 0.3, 0.4],
        }
    }
}
