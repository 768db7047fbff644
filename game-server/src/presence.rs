//! Who holds each player's live socket on this server, and each player's
//! movement guard.
//!
//! A player has one live play socket: a new `hello` makes the new socket
//! the player's and closes the older one with 4001 (`replaced`), here or,
//! through a `Claimed` world message, on any other server.
//!
//! Movement is judged per player, not per socket: every socket a player
//! opens on this server shares one guard, which outlives the socket for
//! [`GUARD_RETAIN`], so a reconnect starts from the last accepted position
//! and a penalty keeps running. Scaled out, the guard's track also goes to
//! Redis (`sync`), and a server taking a player over adopts it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::hub::{ConnId, Outbox, lock};
use crate::movement::{MovementGuard, SharedGuard};

/// How long a player's guard is kept after their last socket closes.
pub(crate) const GUARD_RETAIN: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
pub(crate) struct Presence {
    live: Mutex<HashMap<String, Live>>,
    guards: Mutex<HashMap<String, Kept>>,
}

#[derive(Debug)]
struct Live {
    conn: ConnId,
    outbox: Arc<Outbox>,
}

#[derive(Debug)]
struct Kept {
    guard: SharedGuard,
    /// When the last socket using it let it go (or when it was made).
    since: Instant,
}

impl Presence {
    /// Makes `conn` the player's live socket on this server. The socket it
    /// replaces, if any, is told to close with 4001; returns whether there
    /// was one.
    pub(crate) fn claim(&self, player: &str, conn: ConnId, outbox: Arc<Outbox>) -> bool {
        let old = lock(&self.live).insert(player.to_owned(), Live { conn, outbox });
        match old {
            Some(old) if old.conn != conn => {
                old.outbox.replace();
                true
            }
            _ => false,
        }
    }

    /// Forgets `conn` as the player's live socket, unless a newer one has
    /// taken its place.
    pub(crate) fn release(&self, player: &str, conn: ConnId, now: Instant) {
        let mut live = lock(&self.live);
        if live.get(player).is_some_and(|l| l.conn == conn) {
            live.remove(player);
        }
        drop(live);
        if let Some(k) = lock(&self.guards).get_mut(player) {
            k.since = now;
        }
    }

    /// Another server took the player over: the socket here, if any, is
    /// closed with 4001. Returns whether there was one.
    pub(crate) fn taken_elsewhere(&self, player: &str) -> bool {
        match lock(&self.live).remove(player) {
            Some(l) => {
                l.outbox.replace();
                true
            }
            None => false,
        }
    }

    /// Closes the player's live socket here, if any, with `code` after
    /// `frame` (an error saying why). Returns whether there was one.
    pub(crate) fn close_player(&self, player: &str, code: u16, frame: String) -> bool {
        match lock(&self.live).get(player) {
            Some(l) => {
                l.outbox.push(frame.into());
                l.outbox.close_with(code);
                true
            }
            None => false,
        }
    }

    /// The player's guard, if this server keeps one.
    pub(crate) fn existing_guard(&self, player: &str) -> Option<SharedGuard> {
        lock(&self.guards).get(player).map(|k| k.guard.clone())
    }

    /// The player's guard, made with `make` the first time (or after it
    /// was pruned).
    pub(crate) fn guard(
        &self,
        player: &str,
        now: Instant,
        make: impl FnOnce() -> MovementGuard,
    ) -> SharedGuard {
        lock(&self.guards)
            .entry(player.to_owned())
            .or_insert_with(|| Kept {
                guard: SharedGuard::new(make()),
                since: now,
            })
            .guard
            .clone()
    }

    /// Drops the guards no socket has used for [`GUARD_RETAIN`]; returns
    /// how many are left.
    pub(crate) fn prune(&self, now: Instant) -> usize {
        let mut guards = lock(&self.guards);
        guards.retain(|_, k| {
            k.guard.in_use() || now.saturating_duration_since(k.since) < GUARD_RETAIN
        });
        guards.len()
    }

    /// Live sockets by player (tests).
    #[cfg(test)]
    fn live_count(&self) -> usize {
        lock(&self.live).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> MovementGuard {
        MovementGuard::new(
            70.0,
            50.0,
            crate::movement::CooldownTable::flat(Duration::from_secs(30)),
        )
    }

    #[test]
    fn a_second_claim_replaces_the_first_and_a_stale_release_keeps_the_new() {
        let p = Presence::default();
        let (a, b) = (Outbox::new(4), Outbox::new(4));
        assert!(!p.claim("p1", 1, a.clone()));
        assert!(p.claim("p1", 2, b.clone()));
        assert!(a.replaced() && !b.replaced());
        // The old socket's task ends after the new one claimed: the claim stays.
        p.release("p1", 1, Instant::now());
        assert_eq!(p.live_count(), 1);
        assert!(p.taken_elsewhere("p1"));
        assert!(b.replaced());
        assert_eq!(p.live_count(), 0);
        assert!(!p.taken_elsewhere("p1"));
    }

    #[test]
    fn sockets_of_one_player_share_a_guard_that_outlives_them_for_a_while() {
        let p = Presence::default();
        let t0 = Instant::now();
        let g1 = p.guard("p1", t0, guard);
        g1.observe(47.6, -122.0, None, t0);
        drop(g1);
        p.release("p1", 1, t0);
        // A reconnect: the same guard, judged from the last fix.
        let g2 = p.guard("p1", t0, || unreachable!("kept"));
        assert_eq!(g2.position(), Some((47.6, -122.0)));
        assert_eq!(p.prune(t0 + GUARD_RETAIN * 2), 1, "in use");
        drop(g2);
        assert_eq!(p.prune(t0 + GUARD_RETAIN / 2), 1);
        assert_eq!(p.prune(t0 + GUARD_RETAIN * 2), 0);
    }
}
