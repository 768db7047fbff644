//! The outbox, the analytics sink and the embedded relay.

use protocol::event::{Event, EventKind};
use protocol::play::Rarity;
use store::{CaughtCreature, StoreError};

use crate::harness::{Fixture, event};

fn catch(id: &str) -> CaughtCreature {
    CaughtCreature {
        player_id: "p1".to_string(),
        creature_id: id.to_string(),
        species: "pidge".to_string(),
        rarity: "common".to_string(),
        poi_id: None,
        lat: 1.0,
        lon: 2.0,
        caught_at: 3,
    }
}

pub(crate) async fn outbox_batch_and_delete(f: &mut Fixture) {
    let events: Vec<Event> = (0..3).map(|i| event(EventKind::Catch, i)).collect();
    assert!(f.db.record_catch(&catch("c1"), &events).await.unwrap());
    let more = [event(EventKind::Spin, 10)];
    assert!(
        f.db.try_spin("p1", "poi", 100, 10, &Default::default(), &more)
            .await
            .unwrap()
    );

    let first = f.db.outbox_batch(2).await.unwrap();
    assert_eq!(
        first.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        events[..2].to_vec()
    );
    assert!(first[0].0 < first[1].0);
    let ids: Vec<i64> = first.iter().map(|(id, _)| *id).collect();
    f.db.outbox_delete(&ids).await.unwrap();
    f.db.outbox_delete(&ids).await.unwrap();
    f.db.outbox_delete(&[]).await.unwrap();

    let rest: Vec<Event> =
        f.db.outbox_batch(10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
    assert_eq!(rest, vec![events[2].clone(), more[0].clone()]);
    assert!(f.db.outbox_batch(0).await.unwrap().is_empty());
}

pub(crate) async fn insert_events_is_idempotent(f: &mut Fixture) {
    // More than one SQLite chunk, and not a multiple of it.
    let batch: Vec<Event> = (0..2500).map(|i| event(EventKind::Location, i)).collect();
    assert_eq!(f.db.insert_events(&batch).await.unwrap(), 2500);
    assert_eq!(f.db.insert_events(&batch).await.unwrap(), 0);
    assert_eq!(f.db.count_events().await.unwrap(), 2500);

    // A batch mixing stored ids, new ids and a duplicate within itself
    // counts only the new rows.
    let fresh = event(EventKind::Spawn, 1);
    let mixed = vec![batch[0].clone(), fresh.clone(), fresh, batch[2499].clone()];
    assert_eq!(f.db.insert_events(&mixed).await.unwrap(), 1);
    assert_eq!(f.db.count_events().await.unwrap(), 2501);
    assert_eq!(f.db.insert_events(&[]).await.unwrap(), 0);
}

pub(crate) async fn insert_events_stores_every_column(f: &mut Fixture) {
    let mut full = event(EventKind::Catch, 1_700_000_000_123);
    full.event_id = "full".to_string();
    full.player_id = Some("p1".to_string());
    full.session_id = Some("s1".to_string());
    full.creature_id = Some("c1".to_string());
    full.species = Some("pidge".to_string());
    full.rarity = Some(Rarity::Legendary);
    full.poi_id = Some("poi-9".to_string());
    full.lat = Some(-33.5);
    full.lon = Some(151.25);
    full.outcome = Some("caught".to_string());
    full.value = Some(12.5);
    let mut bare = event(EventKind::SessionStart, 5);
    bare.event_id = "bare".to_string();
    assert_eq!(f.db.insert_events(&[full, bare]).await.unwrap(), 2);

    let checks = [
        (
            "SELECT COUNT(*) FROM events WHERE event_id = 'full' AND v = 1 AND at_ms = 1700000000123 \
          AND kind = 'catch' AND server_id = 'srv-test' AND player_id = 'p1' AND session_id = 's1' \
          AND creature_id = 'c1' AND species = 'pidge' AND rarity = 'legendary' \
          AND poi_id = 'poi-9' AND lat = -33.5 AND lon = 151.25 AND outcome = 'caught' \
          AND value = 12.5",
            1,
        ),
        (
            "SELECT COUNT(*) FROM events WHERE event_id = 'bare' AND kind = 'session_start' \
          AND player_id IS NULL AND session_id IS NULL AND creature_id IS NULL AND species IS NULL \
          AND rarity IS NULL AND poi_id IS NULL AND lat IS NULL AND lon IS NULL \
          AND outcome IS NULL AND value IS NULL",
            1,
        ),
    ];
    for (sql, want) in checks {
        assert_eq!(f.scalar(sql).await, want, "{sql}");
    }
}

pub(crate) async fn relay_moves_exactly_once(f: &mut Fixture) {
    let mut all = Vec::new();
    for i in 0..7 {
        let events: Vec<Event> = (0..3)
            .map(|j| event(EventKind::Catch, i * 10 + j))
            .collect();
        assert!(
            f.db.record_catch(&catch(&format!("c{i}")), &events)
                .await
                .unwrap()
        );
        all.extend(events);
    }
    // One event was already delivered (a relay that crashed after the sink
    // committed but before the outbox delete): it must not be stored twice.
    assert_eq!(f.db.insert_events(&all[..1]).await.unwrap(), 1);

    let mut moved = 0;
    loop {
        let n = f.db.relay_outbox_locally(4).await.unwrap();
        assert!(n <= 4);
        if n == 0 {
            break;
        }
        moved += n;
    }
    assert_eq!(moved, 21);
    assert_eq!(f.db.count_events().await.unwrap(), 21);
    assert!(f.db.outbox_batch(100).await.unwrap().is_empty());
    assert_eq!(f.db.relay_outbox_locally(100).await.unwrap(), 0);
    assert_eq!(f.db.insert_events(&all).await.unwrap(), 0);
}

pub(crate) async fn corrupt_outbox_row_is_reported(f: &mut Fixture) {
    f.exec("INSERT INTO outbox (event_id, payload, created_ms) VALUES ('bad', 'not json', 0)")
        .await;
    let err = f.db.outbox_batch(10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    let err = f.db.relay_outbox_locally(10).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    // The failed relay rolled back: the row is still there for an operator.
    assert_eq!(f.scalar("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(f.db.count_events().await.unwrap(), 0);
}

pub(crate) async fn closed_pool_is_unavailable(f: &mut Fixture) {
    f.db.ping().await.unwrap();
    f.db.close().await;
    let err = f.db.ping().await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
    let err = f.db.record_catch(&catch("c"), &[]).await.unwrap_err();
    assert!(err.is_unavailable(), "{err:?}");
}

pub(crate) async fn enqueued_events_reach_the_sink_once(f: &mut Fixture) {
    // A match formed by the lobby has no row of its own to go with; its
    // events go through the outbox alone, and a retried write stores each
    // once.
    let events: Vec<Event> = (0..3).map(|i| event(EventKind::MatchFormed, i)).collect();
    f.db.enqueue_events(&events).await.unwrap();
    f.db.enqueue_events(&events).await.unwrap();
    f.db.enqueue_events(&[]).await.unwrap();
    let queued: Vec<Event> =
        f.db.outbox_batch(10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
    assert_eq!(queued, events);
    assert_eq!(f.db.relay_outbox_locally(10).await.unwrap(), 3);
    assert_eq!(f.db.count_events().await.unwrap(), 3);
}
