//! The matching rules as pure functions: which open tickets form a session
//! right now. No I/O, so both backends share it and benches can time it.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::lobby::Mode;

use crate::MatchConfig;
use crate::model::Ticket;

/// Groups the open, unexpired tickets into the sessions that should start
/// at `now_ms`. Tickets that should keep waiting appear in no group.
///
/// Every ticket appears in at most one group, whole (parties are never
/// split), and no raid group holds more than `raid_max` players.
pub(crate) fn plan(
    cfg: &MatchConfig,
    tickets: &[Arc<Ticket>],
    now_ms: i64,
) -> Vec<Vec<Arc<Ticket>>> {
    // A BTreeMap keeps the pool order stable from tick to tick, so that
    // when servers run out of room the same pools go first.
    let mut pools: BTreeMap<(bool, Option<&str>), Vec<&Arc<Ticket>>> = BTreeMap::new();
    for t in tickets {
        pools
            .entry((t.mode == Mode::Pvp, t.poi_id.as_deref()))
            .or_default()
            .push(t);
    }
    let mut out = Vec::new();
    for ((pvp, _), pool) in pools {
        if pvp {
            plan_pvp(cfg, pool, now_ms, &mut out);
        } else {
            plan_raid(cfg, pool, now_ms, &mut out);
        }
    }
    out
}

/// One raid lobby (one POI): first come, first served, packed first-fit so
/// that a party that does not fit waits for the next group instead of
/// being split.
fn plan_raid(
    cfg: &MatchConfig,
    mut pool: Vec<&Arc<Ticket>>,
    now_ms: i64,
    out: &mut Vec<Vec<Arc<Ticket>>>,
) {
    pool.sort_by(|a, b| {
        a.created_ms
            .cmp(&b.created_ms)
            .then_with(|| a.id.cmp(&b.id))
    });
    let wait_ms = i64::try_from(cfg.lobby_wait.as_millis()).unwrap_or(i64::MAX);
    let mut taken = vec![false; pool.len()];
    let mut start = 0;
    loop {
        while start < pool.len() && taken[start] {
            start += 1;
        }
        let Some(first) = pool.get(start) else { break };
        let mut group = Vec::new();
        let mut size = 0;
        for (i, t) in pool.iter().enumerate().skip(start) {
            if taken[i] || size + t.size() > cfg.raid_max {
                continue;
            }
            group.push(i);
            size += t.size();
            if size == cfg.raid_max {
                break;
            }
        }
        // The lobby's wait runs from its oldest ticket.
        let waited = now_ms.saturating_sub(first.created_ms) >= wait_ms;
        let starts = size >= cfg.raid_max || (waited && size >= cfg.raid_min);
        if !starts || group.is_empty() {
            break;
        }
        for &i in &group {
            taken[i] = true;
        }
        out.push(group.into_iter().map(|i| Arc::clone(pool[i])).collect());
    }
}

/// One pvp pool: sorted by level, neighbours pair when their level gap is
/// within what the longer-waiting of the two accepts.
fn plan_pvp(
    cfg: &MatchConfig,
    mut pool: Vec<&Arc<Ticket>>,
    now_ms: i64,
    out: &mut Vec<Vec<Arc<Ticket>>>,
) {
    pool.sort_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then_with(|| a.created_ms.cmp(&b.created_ms))
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut i = 0;
    while i + 1 < pool.len() {
        let (a, b) = (pool[i], pool[i + 1]);
        let allowed = cfg
            .pvp_gap(now_ms - a.created_ms)
            .max(cfg.pvp_gap(now_ms - b.created_ms));
        if a.level.abs_diff(b.level) <= allowed {
            out.push(vec![Arc::clone(a), Arc::clone(b)]);
            i += 2;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn t(
        id: &str,
        mode: Mode,
        poi: Option<&str>,
        party: usize,
        level: u32,
        at: i64,
    ) -> Arc<Ticket> {
        Arc::new(Ticket {
            id: id.into(),
            owner: format!("{id}-owner"),
            party: (0..party).map(|i| format!("{id}-f{i}")).collect(),
            mode,
            poi_id: poi.map(str::to_owned),
            level,
            created_ms: at,
            expires_ms: at + 120_000,
        })
    }

    fn raid(id: &str, party: usize, at: i64) -> Arc<Ticket> {
        t(id, Mode::Raid, Some("p"), party, 1, at)
    }

    fn ids(groups: &[Vec<Arc<Ticket>>]) -> Vec<Vec<&str>> {
        groups
            .iter()
            .map(|g| g.iter().map(|t| t.id.as_str()).collect())
            .collect()
    }

    #[test]
    fn a_full_raid_starts_at_once_and_the_rest_waits() {
        let cfg = MatchConfig::default();
        let tickets: Vec<_> = (0..25)
            .map(|i| raid(&format!("t{i:02}"), 0, 1000 + i))
            .collect();
        let groups = plan(&cfg, &tickets, 1100);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].len(), 20);
        assert_eq!(groups[0][0].id, "t00", "oldest first");
    }

    #[test]
    fn a_small_raid_starts_only_when_its_wait_is_up() {
        let cfg = MatchConfig::default();
        let tickets = vec![raid("a", 0, 0), raid("b", 0, 10_000), raid("c", 0, 20_000)];
        assert!(plan(&cfg, &tickets, 29_999).is_empty());
        assert_eq!(ids(&plan(&cfg, &tickets, 30_000)), [["a", "b", "c"]]);
    }

    #[test]
    fn a_lone_player_never_starts_a_raid() {
        let cfg = MatchConfig::default();
        assert!(plan(&cfg, &[raid("a", 0, 0)], 1_000_000).is_empty());
    }

    #[test]
    fn parties_are_never_split_and_groups_never_overflow() {
        let cfg = MatchConfig::default();
        // 15 + 4 = 19; the party of 6 does not fit, the solo fills it to 20.
        let tickets = vec![
            raid("a", 14, 0),
            raid("b", 3, 1),
            raid("c", 5, 2),
            raid("d", 0, 3),
        ];
        let groups = plan(&cfg, &tickets, 10);
        assert_eq!(ids(&groups), [["a", "b", "d"]]);
        let groups = plan(&cfg, &tickets[2..3], 40_000);
        assert_eq!(
            ids(&groups),
            [["c"]],
            "a party of 6 may raid alone after the wait"
        );
    }

    #[test]
    fn pools_are_per_poi() {
        let cfg = MatchConfig {
            raid_max: 2,
            ..MatchConfig::default()
        };
        let tickets = vec![
            t("a", Mode::Raid, Some("x"), 0, 1, 0),
            t("b", Mode::Raid, Some("y"), 0, 1, 0),
        ];
        assert!(plan(&cfg, &tickets, 10).is_empty());
    }

    #[test]
    fn pvp_pairs_close_levels_and_widens_with_waiting() {
        let cfg = MatchConfig {
            pvp_base_gap: 2,
            pvp_gap_per_s: 1.0,
            pvp_max_gap: 50,
            lobby_wait: Duration::from_secs(30),
            ..MatchConfig::default()
        };
        let pvp = |id: &str, level: u32, at: i64| t(id, Mode::Pvp, None, 0, level, at);
        let tickets = vec![
            pvp("a", 10, 0),
            pvp("b", 11, 0),
            pvp("c", 30, 0),
            pvp("d", 40, 0),
        ];
        assert_eq!(ids(&plan(&cfg, &tickets, 0)), [["a", "b"]]);
        // After 8 s the gap is 10: c (30) and d (40) pair.
        assert_eq!(ids(&plan(&cfg, &tickets[2..], 7_999)).len(), 0);
        assert_eq!(ids(&plan(&cfg, &tickets[2..], 8_000)), [["c", "d"]]);
    }
}
