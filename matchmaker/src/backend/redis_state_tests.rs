//! Tests of the Redis state store against a real Redis: the atomic claims.
use std::collections::HashSet;

use protocol::lobby::Mode;

use super::*;
use crate::model::TicketPart;

/// Redis for tests, or `None` (outside CI) when it is not running.
async fn redis_url() -> Option<String> {
    let url =
        std::env::var("GEOGAME_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    match connect(&url, Duration::from_secs(1)).await {
        Ok(_) => Some(url),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("redis unreachable in CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: redis unreachable at {url}: {e}");
            None
        }
    }
}

fn ticket(i: usize) -> Ticket {
    Ticket {
        id: format!("t{i:04}"),
        owner: format!("p{i:04}"),
        party: Vec::new(),
        mode: Mode::Pvp,
        poi_id: None,
        level: 1,
        created_ms: 0,
        expires_ms: i64::MAX,
    }
}

fn group(a: &Arc<Ticket>, b: &Arc<Ticket>, tag: &str) -> Formed {
    let sid = format!("{tag}-{}-{}", a.id, b.id);
    let players = vec![a.owner.clone(), b.owner.clone()];
    Formed {
        session: SessionRec {
            id: sid.clone(),
            players: players.clone(),
            server_id: "gs".into(),
            expires_ms: i64::MAX,
        },
        event: HubEvent::Matched {
            session_id: sid,
            players,
            server_url: "ws://gs".into(),
            session_token: "t".into(),
            tickets: vec![
                TicketPart {
                    ticket_id: a.id.clone(),
                    members: vec![a.owner.clone()],
                },
                TicketPart {
                    ticket_id: b.id.clone(),
                    members: vec![b.owner.clone()],
                },
            ],
        },
        tickets: vec![a.clone(), b.clone()],
    }
}

#[tokio::test]
async fn concurrent_overlapping_commits_claim_each_ticket_once() {
    let Some(url) = redis_url().await else { return };
    let prefix = format!("mmtest:{}", uuid::Uuid::new_v4());
    let cfg = MatchConfig::default();
    let a = RedisState::open(&url, &prefix, &cfg).await.unwrap();
    let b = RedisState::open(&url, &prefix, &cfg).await.unwrap();
    let n = 400;
    for i in 0..n {
        a.enqueue(&ticket(i)).await.unwrap();
    }
    let all: Vec<Arc<Ticket>> = (0..n).map(|i| Arc::new(ticket(i))).collect();
    // Two processes planned different, overlapping pairings.
    let plan_a: Vec<Formed> = (0..n / 2)
        .map(|i| group(&all[2 * i], &all[2 * i + 1], "a"))
        .collect();
    let plan_b: Vec<Formed> = (0..n / 2 - 1)
        .map(|i| group(&all[2 * i + 1], &all[2 * i + 2], "b"))
        .collect();
    let (ra, rb) = tokio::join!(a.commit(&plan_a), b.commit(&plan_b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut claimed = HashSet::new();
    let mut sessions = 0;
    for (f, ok) in plan_a.iter().zip(&ra).chain(plan_b.iter().zip(&rb)) {
        if *ok {
            sessions += 1;
            for t in &f.tickets {
                assert!(
                    claimed.insert(t.id.clone()),
                    "ticket {} matched twice",
                    t.id
                );
            }
        }
    }
    let open = a.open_tickets().await.unwrap();
    for t in &open {
        assert!(!claimed.contains(&t.id), "a matched ticket is still open");
    }
    assert_eq!(claimed.len() + open.len(), n, "no ticket lost");
    assert_eq!(b.sessions().await.unwrap().len(), sessions);
    assert!(sessions >= n / 4, "most pairs commit, got {sessions}");
    // Every matched player is now locked to its session, others are not.
    let mut con = a.con.clone();
    for t in &all {
        let lock: Option<String> = redis::cmd("GET")
            .arg(a.keys.lock(&t.owner))
            .query_async(&mut con)
            .await
            .unwrap();
        let lock = lock.unwrap_or_default();
        assert_eq!(
            lock.starts_with("s:"),
            claimed.contains(&t.id),
            "{}: {lock}",
            t.owner
        );
    }
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{{{prefix}}}*"))
        .query_async(&mut con)
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(keys)
        .query_async(&mut con)
        .await
        .unwrap();
}
