//! Players, catches, spins and collections.

use std::collections::{BTreeMap, BTreeSet};

use protocol::event::EventKind;
use store::CaughtCreature;

use crate::harness::{Fixture, event};

fn creature(player: &str, id: &str, caught_at: i64) -> CaughtCreature {
    CaughtCreature {
        player_id: player.to_string(),
        creature_id: id.to_string(),
        species: format!("species-of-{id}"),
        rarity: "rare".to_string(),
        poi_id: Some("poi-1".to_string()),
        lat: 52.52,
        lon: 13.405,
        caught_at,
    }
}

fn items(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

pub(crate) async fn device_maps_to_one_player(f: &mut Fixture) {
    let a = f.db.player_for_device("device-a").await.unwrap();
    let again = f.db.player_for_device("device-a").await.unwrap();
    let b = f.db.player_for_device("device-b").await.unwrap();
    assert_eq!(a, again);
    assert_ne!(a, b);
    assert!(a.starts_with("p_") && a.len() == 34, "{a}");
    f.reopen().await;
    assert_eq!(f.db.player_for_device("device-a").await.unwrap(), a);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 2);
}

pub(crate) async fn concurrent_first_sight_agrees(f: &mut Fixture) {
    let calls = (0..20).map(|_| {
        let db = f.db.clone();
        tokio::spawn(async move { db.player_for_device("shared-device").await.unwrap() })
    });
    let mut ids = BTreeSet::new();
    for call in calls {
        ids.insert(call.await.unwrap());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 1);
}

pub(crate) async fn a_batch_gives_a_repeated_device_one_id(f: &mut Fixture) {
    let known = f.db.player_for_device("known").await.unwrap();
    let devices: Vec<String> = ["new-1", "known", "new-2", "new-1"]
        .iter()
        .map(|d| d.to_string())
        .collect();
    let ids = f.db.players_for_devices(&devices).await.unwrap();
    assert_eq!(ids.len(), 4);
    assert_eq!(ids[1], known, "a known device keeps its id");
    assert_eq!(ids[0], ids[3], "one device named twice gets one id");
    assert_ne!(ids[0], ids[2]);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 3);
    assert!(f.db.players_for_devices(&[]).await.unwrap().is_empty());
}

pub(crate) async fn sign_ins_are_written_in_batches_and_survive_a_restart(f: &mut Fixture) {
    let sign_ins = store::Arrivals::start(f.db.clone());
    // 400 sign-ins at once: 200 devices, each twice, racing.
    let calls: Vec<_> = (0..400)
        .map(|i| {
            let s = sign_ins.clone();
            tokio::spawn(async move {
                let device = format!("storm-{}", i % 200);
                (device.clone(), s.player_for_device(&device).await.unwrap())
            })
        })
        .collect();
    let mut by_device = BTreeMap::new();
    for call in calls {
        let (device, id) = call.await.unwrap();
        let first = by_device.entry(device).or_insert_with(|| id.clone());
        assert_eq!(*first, id, "both sign-ins of a device agree");
    }
    assert_eq!(by_device.len(), 200);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 200);
    let batches = sign_ins.sign_in_batches();
    assert!(
        (1..=100).contains(&batches),
        "400 concurrent sign-ins took {batches} transactions"
    );
    // Answered means durable: the ids are there after a restart.
    drop(sign_ins);
    f.reopen().await;
    for (device, id) in &by_device {
        assert_eq!(f.db.player_for_device(device).await.unwrap(), *id);
    }
}

pub(crate) async fn a_failed_sign_in_batch_answers_every_caller(f: &mut Fixture) {
    let sign_ins = store::Arrivals::start(f.db.clone());
    let before = sign_ins.player_for_device("before").await.unwrap();
    // A trigger makes every insert fail, as a full disk would.
    if f.pg_url().is_some() {
        f.exec(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql",
        )
        .await;
        f.exec(
            "CREATE TRIGGER refuse BEFORE INSERT ON players FOR EACH ROW EXECUTE FUNCTION refuse()",
        )
        .await;
    } else {
        f.exec("CREATE TRIGGER refuse BEFORE INSERT ON players BEGIN SELECT RAISE(ABORT, 'refused'); END")
            .await;
    }
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let s = sign_ins.clone();
            tokio::spawn(async move { s.player_for_device(&format!("d{i}")).await })
        })
        .collect();
    for call in calls {
        let e = call.await.unwrap().unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
    }
    // A known device still signs in, and the writer outlives the failure.
    assert_eq!(sign_ins.player_for_device("before").await.unwrap(), before);
    if f.pg_url().is_some() {
        f.exec("DROP TRIGGER refuse ON players").await;
    } else {
        f.exec("DROP TRIGGER refuse").await;
    }
    assert!(sign_ins.player_for_device("after").await.is_ok());
    assert_eq!(f.scalar("SELECT COUNT(*) FROM players").await, 2);
}

pub(crate) async fn catch_is_stored_once(f: &mut Fixture) {
    let first = creature("p1", "c1", 100);
    let winner_events = [event(EventKind::Catch, 1), event(EventKind::Catch, 2)];
    assert!(f.db.record_catch(&first, &winner_events).await.unwrap());

    let second = creature("p2", "c1", 101);
    let loser_events = [event(EventKind::Catch, 3)];
    assert!(!f.db.record_catch(&second, &loser_events).await.unwrap());

    // The loser wrote nothing: the creature stays with p1 and the outbox
    // holds only the winner's events.
    assert_eq!(f.db.collection("p1").await.unwrap().0, vec![first]);
    assert!(f.db.collection("p2").await.unwrap().0.is_empty());
    let outbox: Vec<_> =
        f.db.outbox_batch(10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
    assert_eq!(outbox, winner_events.to_vec());
}

pub(crate) async fn fifty_concurrent_catches_one_winner(f: &mut Fixture) {
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let db = f.db.clone();
            tokio::spawn(async move {
                let c = creature(&format!("player-{i}"), "contested", 1000 + i);
                let e = [event(EventKind::Catch, i)];
                db.record_catch(&c, &e).await.unwrap()
            })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM catches").await, 1);
    assert_eq!(f.scalar("SELECT COUNT(*) FROM outbox").await, 1);
}

pub(crate) async fn catch_survives_reopen(f: &mut Fixture) {
    let c = creature("p1", "durable", 5);
    assert!(
        f.db.record_catch(&c, &[event(EventKind::Catch, 5)])
            .await
            .unwrap()
    );
    f.reopen().await;
    assert_eq!(f.db.collection("p1").await.unwrap().0, vec![c.clone()]);
    assert_eq!(f.db.outbox_batch(10).await.unwrap().len(), 1);
    assert!(!f.db.record_catch(&c, &[]).await.unwrap());
}

pub(crate) async fn collection_is_oldest_first_with_items(f: &mut Fixture) {
    let late = creature("p1", "late", 300);
    let early = CaughtCreature {
        poi_id: None,
        ..creature("p1", "early", 100)
    };
    let middle = creature("p1", "middle", 200);
    let other = creature("p2", "other", 150);
    for c in [&late, &early, &middle, &other] {
        assert!(f.db.record_catch(c, &[]).await.unwrap());
    }
    let spun = items(&[("ball", 3), ("berry", 1), ("nothing", 0)]);
    assert!(
        f.db.try_spin("p1", "poi-a", 1000, 300, &spun, &[])
            .await
            .unwrap()
    );
    assert!(
        f.db.try_spin("p1", "poi-b", 1000, 300, &items(&[("ball", 2)]), &[])
            .await
            .unwrap()
    );

    let (creatures, counts) = f.db.collection("p1").await.unwrap();
    assert_eq!(creatures, vec![early, middle, late]);
    let expected: BTreeMap<String, u64> = [("ball".to_string(), 5), ("berry".to_string(), 1)]
        .into_iter()
        .collect();
    assert_eq!(counts, expected);

    let (creatures, counts) = f.db.collection("p2").await.unwrap();
    assert_eq!(creatures, vec![other]);
    assert!(counts.is_empty());
    assert_eq!(
        f.db.collection("nobody").await.unwrap(),
        (vec![], BTreeMap::new())
    );
}

pub(crate) async fn spin_respects_cooldown(f: &mut Fixture) {
    let grant = items(&[("ball", 2)]);
    let e1 = event(EventKind::Spin, 1);
    assert!(
        f.db.try_spin("p1", "poi", 1000, 300, &grant, std::slice::from_ref(&e1))
            .await
            .unwrap()
    );
    // Inside the cooldown: refused, and neither items nor events change.
    let refused = event(EventKind::Spin, 2);
    assert!(
        !f.db
            .try_spin("p1", "poi", 1299, 300, &grant, &[refused])
            .await
            .unwrap()
    );
    assert_eq!(f.db.collection("p1").await.unwrap().1["ball"], 2);
    let outbox: Vec<_> =
        f.db.outbox_batch(10)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect();
    assert_eq!(outbox, vec![e1]);
    // Another POI and another player have their own cooldowns.
    assert!(
        f.db.try_spin("p1", "other-poi", 1001, 300, &grant, &[])
            .await
            .unwrap()
    );
    assert!(
        f.db.try_spin("p2", "poi", 1001, 300, &grant, &[])
            .await
            .unwrap()
    );
    // Once the cooldown has passed, the spin is granted again, and the
    // cooldown restarts from the new spin.
    assert!(
        f.db.try_spin("p1", "poi", 1300, 300, &grant, &[])
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .try_spin("p1", "poi", 1599, 300, &grant, &[])
            .await
            .unwrap()
    );
    assert_eq!(f.db.collection("p1").await.unwrap().1["ball"], 6);
    assert_eq!(f.db.collection("p2").await.unwrap().1["ball"], 2);
    assert_eq!(
        f.scalar("SELECT last_at FROM spins WHERE player_id = 'p1' AND poi_id = 'poi'")
            .await,
        1300
    );
}

pub(crate) async fn concurrent_spins_one_grant(f: &mut Fixture) {
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let db = f.db.clone();
            tokio::spawn(async move {
                let grant = items(&[("ball", 1)]);
                db.try_spin("p1", "poi", 5000, 60, &grant, &[])
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut granted = 0;
    for t in tasks {
        granted += u64::from(t.await.unwrap());
    }
    assert_eq!(granted, 1);
    assert_eq!(f.db.collection("p1").await.unwrap().1["ball"], 1);
}
