//! The lobby's record of the sessions it forms: one `match_formed` event
//! per player, written to the store's outbox, so that the relay carries it
//! to analytics the same way in both deployments (the embedded relay in
//! SQLite, or the outbox relay to the Redis stream when scaled out).

use std::time::Duration;

use protocol::event::{Event, EventKind};
use service_kit::Backoff;

use crate::engine::OnMatch;
use crate::model::MatchRecord;

/// Attempts at writing one match's events before they are given up.
const ATTEMPTS: usize = 8;

/// The analytics events of one formed match: one per player, so activity
/// reports count every member. Their ids derive from the session and the
/// player, so writing them twice (a retry, a commit in doubt) stores each
/// once.
pub fn match_events(m: &MatchRecord, origin: &str) -> Vec<Event> {
    m.players
        .iter()
        .map(|player| {
            let mut ev = Event::new(
                format!("match:{}:{player}", m.session_id),
                m.formed_at_ms,
                EventKind::MatchFormed,
                origin.to_owned(),
            );
            ev.player_id = Some(player.clone());
            ev.session_id = Some(m.session_id.clone());
            ev.poi_id = m.poi_id.clone();
            ev.outcome = Some(m.mode.as_str().into());
            ev
        })
        .collect()
}

/// An [`OnMatch`] that writes each match's events to `db`'s outbox,
/// retrying with backoff while the database is unavailable.
pub fn outbox_log(db: store::Db, origin: String) -> OnMatch {
    std::sync::Arc::new(move |m: &MatchRecord| {
        let events = match_events(m, &origin);
        let db = db.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            for _ in 0..ATTEMPTS {
                match db.enqueue_events(&events).await {
                    Ok(()) => return,
                    Err(e) if e.is_unavailable() => {
                        tracing::warn!(error = %e, "match not logged yet; retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "match not logged");
                        return;
                    }
                }
            }
            metrics::counter!("geogame_lobby_match_log_lost_total").increment(1);
            tracing::error!("match not logged: the database stayed unavailable");
        });
    })
}

#[cfg(test)]
mod tests {
    use protocol::lobby::Mode;

    use super::*;

    fn record() -> MatchRecord {
        MatchRecord {
            session_id: "s-1".into(),
            mode: Mode::Raid,
            poi_id: Some("cafe".into()),
            players: vec!["a".into(), "b".into()],
            server_id: "gs-1".into(),
            formed_at_ms: 1_000,
            waited_ms: vec![5, 7],
        }
    }

    #[test]
    fn one_event_per_player_with_stable_ids() {
        let evs = match_events(&record(), "lobby-1");
        assert_eq!(evs.len(), 2);
        assert!(evs.iter().all(|e| e.kind == EventKind::MatchFormed));
        assert_eq!(evs[0].player_id.as_deref(), Some("a"));
        assert_eq!(evs[1].session_id.as_deref(), Some("s-1"));
        assert_eq!(evs[1].poi_id.as_deref(), Some("cafe"));
        assert_eq!(evs[0].outcome.as_deref(), Some("raid"));
        assert_eq!(evs[0].at_ms, 1_000);
        // The same match gives the same ids, so a retry is idempotent.
        let again = match_events(&record(), "lobby-2");
        assert_eq!(evs[0].event_id, again[0].event_id);
        assert_ne!(evs[0].event_id, evs[1].event_id);
    }

    #[tokio::test]
    async fn a_formed_match_lands_in_the_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let db = store::Db::open_sqlite(&dir.path().join("m.db"))
            .await
            .unwrap();
        let log = outbox_log(db.clone(), "lobby-1".into());
        log(&record());
        log(&record());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let rows = db.outbox_batch(10).await.unwrap();
            if rows.len() == 2 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "outbox has {rows:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
