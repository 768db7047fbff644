//! Two matchmaker processes on one Redis: every ticket matched exactly
//! once, none lost, pushes reach sockets held by the other process, and a
//! leader that stops hands over.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use matchmaker::{Backend, Lobby, MatchConfig, MatchRecord, Registry};
use protocol::lobby::{Mode, QueueRequest};

use crate::common::*;

pub(crate) fn cfg() -> MatchConfig {
    MatchConfig {
        tick: Duration::from_millis(20),
        lease_ttl: Duration::from_millis(300),
        lobby_wait: Duration::from_millis(300),
        pvp_gap_per_s: 50.0,
        pvp_max_gap: 100,
        ..MatchConfig::default()
    }
}

/// Ticket `i` of the mixed workload: solo raids at two POIs, raid parties
/// of three, and pvp players of scattered levels (use a multiple of 8
/// tickets so the pvp players pair up). Returns the owner, the
/// request, and every player it covers.
pub(crate) fn workload(tag: &str, i: usize) -> (String, QueueRequest, Vec<String>) {
    let owner = format!("{tag}-{i:04}");
    let (mode, poi, party) = match i % 4 {
        0 => (Mode::Raid, Some(POI), vec![]),
        1 => (
            Mode::Raid,
            Some(POI2),
            vec![format!("{owner}-f1"), format!("{owner}-f2")],
        ),
        2 => (Mode::Pvp, None, vec![]),
        _ => (Mode::Raid, Some(POI2), vec![]),
    };
    let (lat, lon) = poi.map_or((POI.1, POI.2), |p| (p.1, p.2));
    let req = QueueRequest {
        seq: None,
        mode,
        poi_id: poi.map(|p| p.0.to_owned()),
        lat,
        lon,
        level: Some(((i * 7) % 60) as u32),
        party: party.clone(),
    };
    let mut members = vec![owner.clone()];
    members.extend(party);
    (owner, req, members)
}

/// Asserts that every expected player is in exactly one recorded session
/// and that parties share theirs.
pub(crate) fn assert_exactly_once(records: &[MatchRecord], tickets: &[Vec<String>]) {
    let mut session_of: HashMap<&str, &str> = HashMap::new();
    let mut ids = HashSet::new();
    for r in records {
        assert!(ids.insert(r.session_id.as_str()), "session recorded twice");
        assert!(r.players.len() <= 20);
        for p in &r.players {
            let prev = session_of.insert(p.as_str(), r.session_id.as_str());
            assert!(prev.is_none(), "player {p} matched twice");
        }
    }
    let expected: usize = tickets.iter().map(Vec::len).sum();
    assert_eq!(
        session_of.len(),
        expected,
        "every ticket matched, none extra"
    );
    for members in tickets {
        let s = session_of.get(members[0].as_str()).expect("ticket lost");
        for m in members {
            assert_eq!(session_of.get(m.as_str()), Some(s), "party split");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lobbies_on_one_redis_match_1000_tickets_exactly_once() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix();
    let cfg = cfg();
    let registry = Registry::redis(&url, &prefix, &cfg).await.unwrap();
    let heartbeat = keep_alive(registry.clone(), server("gs-1", 100_000));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let backend = || Backend::Redis {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let a = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;
    let b = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;

    // Some players watch from sockets on b while their tickets go in
    // through a, so pushes must cross processes.
    let mut watchers = Vec::new();
    for i in (0..200).step_by(10) {
        let (owner, _, _) = workload("s", i);
        watchers.push((owner.clone(), b.login(&owner).await));
    }
    let mut tickets = Vec::new();
    let mut handles = Vec::new();
    for i in 0..1000 {
        let (owner, req, members) = workload("s", i);
        tickets.push(members);
        let lobby: Lobby = if i % 2 == 0 {
            a.lobby.clone()
        } else {
            b.lobby.clone()
        };
        handles.push(tokio::spawn(async move { lobby.queue(&owner, &req).await }));
    }
    for h in handles {
        h.await.unwrap().unwrap();
    }
    let all_matched = eventually(Duration::from_secs(20), async || {
        let n: usize = a
            .matches()
            .iter()
            .chain(b.matches().iter())
            .map(|m| m.players.len())
            .sum();
        n == tickets.iter().map(Vec::len).sum::<usize>()
    })
    .await;
    let mut records = a.matches();
    records.extend(b.matches());
    assert!(all_matched, "only {} sessions after 20 s", records.len());
    assert_exactly_once(&records, &tickets);
    assert_eq!(a.lobby.open_tickets().await.unwrap(), 0);
    assert_eq!(b.lobby.sessions_running().await.unwrap(), records.len());
    for (owner, c) in &mut watchers {
        let m = c.match_found().await;
        assert!(m.players.contains(owner));
        key().verify_session(&m.session_token).unwrap();
    }
    a.stop().await;
    b.stop().await;
    heartbeat.abort();
    redis_cleanup(&url, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_leader_stops_the_other_lobby_takes_over() {
    let Some(url) = redis_url().await else { return };
    let prefix = unique_prefix();
    let cfg = cfg();
    let registry = Registry::redis(&url, &prefix, &cfg).await.unwrap();
    let heartbeat = keep_alive(registry.clone(), server("gs-1", 100_000));
    let backend = || Backend::Redis {
        url: url.clone(),
        prefix: prefix.clone(),
    };
    let a = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;
    let b = TestLobby::start_with(cfg.clone(), backend(), registry.clone()).await;
    let mut tickets = Vec::new();
    for i in 0..200 {
        let (owner, req, members) = workload("h1", i);
        a.lobby.queue(&owner, &req).await.unwrap();
        tickets.push(members);
    }
    assert!(
        eventually(Duration::from_secs(10), async || a
            .lobby
            .open_tickets()
            .await
            .unwrap()
            == 0)
        .await
    );
    // The leader (whichever it is) dies without giving up its lease; the
    // survivor must take over once the lease runs out.
    let (crashed, survivor) = if a.matches().len() >= b.matches().len() {
        (a, b)
    } else {
        (b, a)
    };
    let mut records = crashed.matches();
    crashed.run.abort();
    for i in 0..200 {
        let (owner, req, members) = workload("h2", i);
        survivor.lobby.queue(&owner, &req).await.unwrap();
        tickets.push(members);
    }
    assert!(
        eventually(Duration::from_secs(10), async || survivor
            .lobby
            .open_tickets()
            .await
            .unwrap()
            == 0)
        .await
    );
    records.extend(survivor.matches());
    assert_exactly_once(&records, &tickets);
    survivor.stop().await;
    heartbeat.abort();
    redis_cleanup(&url, &prefix).await;
}
