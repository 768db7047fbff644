//! Erasure, location retention and operator revocation.

use protocol::event::{Event, EventKind};
use store::{AuditEntry, CaughtCreature, Role};

use crate::harness::{Fixture, event};

fn audit(action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at: 1,
        actor: "ops".into(),
        action: action.into(),
        target: target.into(),
        detail: String::new(),
    }
}

fn played(kind: EventKind, at_ms: i64, player: &str, poi: Option<&str>) -> Event {
    let mut e = event(kind, at_ms);
    e.player_id = Some(player.into());
    e.poi_id = poi.map(str::to_owned);
    e.lat = Some(47.6);
    e.lon = Some(-122.0);
    e
}

pub(crate) async fn erasure_keeps_counts_and_removes_what_names_the_player(f: &mut Fixture) {
    let db = &f.db;
    let gone = db.player_for_device("device-gone").await.unwrap();
    let stays = db.player_for_device("device-stays").await.unwrap();
    db.create_account("gone@example.com", &gone, "$argon2id$fake", 1)
        .await
        .unwrap()
        .unwrap();
    let caught = CaughtCreature {
        player_id: gone.clone(),
        creature_id: "c1".into(),
        species: "pidge".into(),
        rarity: "common".into(),
        poi_id: None,
        lat: 47.6,
        lon: -122.0,
        caught_at: 2,
    };
    assert!(db.record_catch(&caught, &[]).await.unwrap());
    let mut events = Vec::new();
    for (who, hour) in [(&gone, 0), (&gone, 0), (&gone, 1), (&stays, 0)] {
        let at = 1_700_000_000_000 + hour * 3_600_000;
        events.push(played(EventKind::Location, at, who, None));
        events.push(played(EventKind::Visit, at, who, Some("cafe")));
    }
    db.insert_events(&events).await.unwrap();
    let distinct = "SELECT COUNT(DISTINCT player_id) FROM events";
    let visits = "SELECT COUNT(DISTINCT player_id || ':' || poi_id || ':' || (at_ms / 3600000)) \
                  FROM events WHERE kind = 'visit'";
    let (players, visit_count) = (f.scalar(distinct).await, f.scalar(visits).await);
    assert_eq!((players, visit_count), (2, 3));

    let e = db
        .erase_player(&gone, "erased_x", 5, &audit("player.erase", &gone))
        .await
        .unwrap();
    assert_eq!(e.events_pseudonymised, 6);
    // Device sign-in, account, catch.
    assert_eq!(e.rows_deleted, 3);
    // The counts stay; nothing names the player or says where they were.
    assert_eq!(f.scalar(distinct).await, players);
    assert_eq!(f.scalar(visits).await, visit_count);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM events").await, 8);
    let named = format!("SELECT COUNT(*) FROM events WHERE player_id = '{gone}'");
    assert_eq!(f.scalar(&named).await, 0);
    let placed = "SELECT COUNT(*) FROM events WHERE player_id = 'erased_x' AND lat IS NOT NULL";
    assert_eq!(f.scalar(placed).await, 0);
    let kept =
        format!("SELECT COUNT(*) FROM events WHERE player_id = '{stays}' AND lat IS NOT NULL");
    assert_eq!(f.scalar(&kept).await, 2);
    assert!(db.account("gone@example.com").await.unwrap().is_none());
    assert!(db.collection(&gone).await.unwrap().0.is_empty());
    // The same device signs in as a new player; the old id is refused.
    assert_ne!(db.player_for_device("device-gone").await.unwrap(), gone);
    assert!(db.standing_facts(&gone).await.unwrap().1);
    assert!(!db.standing_facts(&stays).await.unwrap().1);
    // The batched read agrees, player by player, in order.
    db.add_strike(&stays, 7, "teleport", "server", None)
        .await
        .unwrap();
    let arrivals = store::Arrivals::start(db.clone());
    let batch = [stays.clone(), "nobody".to_owned(), gone.clone()];
    let facts = db.standing_facts_of(&batch).await.unwrap();
    assert_eq!(facts.len(), 3);
    assert_eq!((facts[0].0.len(), facts[0].1), (1, false));
    assert_eq!(facts[0].0[0].reason, "teleport");
    assert_eq!((facts[1].0.len(), facts[1].1), (0, false));
    assert_eq!((facts[2].0.len(), facts[2].1), (0, true));
    for (player, expected) in batch.iter().zip(&facts) {
        assert_eq!(arrivals.standing_facts(player).await.unwrap(), *expected);
    }
    assert!(arrivals.standing_batches() >= 1);
    // Erasing again finds nothing and writes nothing.
    let again = db
        .erase_player(&gone, "erased_y", 6, &audit("player.erase", &gone))
        .await
        .unwrap();
    assert!(!again.found());
    let audited = "SELECT COUNT(*) FROM audit WHERE action = 'player.erase'";
    assert_eq!(f.scalar(audited).await, 1);
}

pub(crate) async fn old_locations_expire_in_batches(f: &mut Fixture) {
    let mut events: Vec<Event> = (0..7)
        .map(|i| played(EventKind::Location, 1_000 + i, "p", None))
        .collect();
    events.push(played(EventKind::Catch, 1_000, "p", None));
    events.push(played(EventKind::Location, 9_000, "p", None));
    f.db.insert_events(&events).await.unwrap();
    let mut batches = Vec::new();
    loop {
        let n = f.db.expire_locations(5_000, 3).await.unwrap();
        batches.push(n);
        if n < 3 {
            break;
        }
    }
    assert_eq!(batches, [3, 3, 1]);
    let left = "SELECT COUNT(*) FROM events WHERE kind = 'location'";
    assert_eq!(f.scalar(left).await, 1, "the recent location stays");
    let catches = "SELECT COUNT(*) FROM events WHERE kind = 'catch'";
    assert_eq!(f.scalar(catches).await, 1, "other events stay");
}

pub(crate) async fn revoked_operator_token_stops_working(f: &mut Fixture) {
    let db = &f.db;
    let hash = store::token_hash("gop_secret");
    db.put_operator("ana", &Role::Analyst, &hash, &audit("operator.put", "ana"))
        .await
        .unwrap();
    assert!(db.operator_for_token("gop_secret").await.unwrap().is_some());
    assert!(
        db.revoke_operator("ana", &audit("operator.revoke", "ana"))
            .await
            .unwrap()
    );
    assert!(db.operator_for_token("gop_secret").await.unwrap().is_none());
    assert!(
        !db.revoke_operator("ana", &audit("operator.revoke", "ana"))
            .await
            .unwrap()
    );
    let audited = "SELECT COUNT(*) FROM audit WHERE action = 'operator.revoke'";
    assert_eq!(
        f.scalar(audited).await,
        1,
        "a revoke of nobody is not audited"
    );
}
