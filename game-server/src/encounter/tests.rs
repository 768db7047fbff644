//! Unit tests of the raid rules: plain calls with a fixed clock and fixed
//! rolls, no database, token key, event sink or hub.

use super::*;

const T0: i64 = 1_000_000;
const RULES: RaidRules = RaidRules {
    hp_per_member: 40,
    duration_ms: 1_000,
};

/// What storing a catch gave, as the I/O layer hands it over.
type Stored = Result<CatchEnd, &'static str>;

fn req<'a>(
    player: &'a str,
    conn: u64,
    players: usize,
    current: Option<&'a str>,
) -> JoinRequest<'a, u64> {
    JoinRequest {
        session_id: "s",
        poi_id: Some("cafe"),
        players,
        player_id: player,
        conn,
        current,
    }
}

/// Raid `s` with members `a` (connection 1) and `b` (connection 2): the
/// boss has 80 hp and time runs out at `T0 + 1_000`.
fn two() -> Sessions<u64> {
    let mut s = Sessions::default();
    s.join(req("a", 1, 2, None), RULES, T0).unwrap();
    s.join(req("b", 2, 2, None), RULES, T0).unwrap();
    s
}

fn event(player: &str, action: &str, damage: Option<u32>, boss_hp: u32) -> ServerMessage {
    ServerMessage::SessionEvent {
        session_id: "s".into(),
        player_id: player.into(),
        action: action.into(),
        damage,
        boss_hp,
    }
}

fn ended(outcome: SessionOutcome) -> ServerMessage {
    ServerMessage::SessionEnded {
        session_id: "s".into(),
        outcome,
    }
}

fn push(to: &[u64], msg: ServerMessage) -> Push<u64> {
    Push {
        to: to.to_vec(),
        msg,
    }
}

/// The pushes with their recipients sorted, as a map gives them in any order.
fn sorted(fx: &Effects<u64>) -> Vec<Push<u64>> {
    let mut pushes = fx.pushes.clone();
    for p in &mut pushes {
        p.to.sort_unstable();
    }
    pushes
}

fn by(player: &str, action: SessionAction) -> (Option<String>, SessionAction) {
    (Some(player.into()), action)
}

#[test]
fn refusals_keep_their_codes_and_messages() {
    let cases = [
        (
            Refusal::NotInSession,
            ErrorCode::NotFound,
            "not in a session",
        ),
        (
            Refusal::InAnotherSession,
            ErrorCode::Conflict,
            "already in another session; leave it first",
        ),
        (Refusal::Gone, ErrorCode::NotFound, "the session is over"),
        (Refusal::Over, ErrorCode::Conflict, "the session is over"),
        (
            Refusal::BossStanding,
            ErrorCode::Conflict,
            "the boss has not fallen",
        ),
        (
            Refusal::CatchTried,
            ErrorCode::Conflict,
            "one catch attempt per member",
        ),
    ];
    for (r, code, message) in cases {
        assert_eq!((r.code(), r.to_string().as_str()), (code, message));
    }
}

#[test]
fn join_creates_the_boss_with_hp_per_member_times_players() {
    // Every server must pick the same boss for a session.
    assert_eq!(boss_for("s"), ("Mossback", Rarity::Rare));
    let mut s = Sessions::default();
    let j = s.join(req("a", 1, 3, None), RULES, T0).unwrap();
    let boss = BossView {
        species: "Mossback".into(),
        rarity: protocol::play::Rarity::Rare,
        hp: 120,
        max_hp: 120,
    };
    assert_eq!(j.boss, boss);
    assert_eq!(j.members, ["a"]);
    assert_eq!(j.ends_at_s, (T0 + 1_000) / 1000);
    assert_eq!(
        j.effects.pushes,
        [push(&[], event("a", "joined", None, 120))]
    );
    assert_eq!(j.effects.actions, [by("a", SessionAction::Joined)]);
    assert!(!j.effects.ended);

    // The raid is made once: a later join sees the same boss and end time
    // and is announced to the earlier member only.
    let mut j = s.join(req("b", 2, 5, None), RULES, T0 + 9_000).unwrap();
    j.members.sort();
    assert_eq!((j.boss, j.members), (boss, vec!["a".into(), "b".into()]));
    assert_eq!(j.ends_at_s, (T0 + 1_000) / 1000);
    assert_eq!(
        j.effects.pushes,
        [push(&[1], event("b", "joined", None, 120))]
    );
    assert_eq!(s.count(), 1);

    // A token naming nobody still gives the boss one member's hp.
    let mut s = Sessions::default();
    assert_eq!(
        s.join(req("a", 1, 0, None), RULES, T0).unwrap().boss.max_hp,
        40
    );
}

#[test]
fn a_second_session_is_refused_with_conflict() {
    let mut s = two();
    let other = JoinRequest {
        session_id: "t",
        ..req("a", 1, 2, Some("s"))
    };
    assert_eq!(s.join(other, RULES, T0), Err(Refusal::InAnotherSession));
    assert_eq!(s.count(), 1, "a refused join creates no raid");

    // Joining the current session again replaces the member's connection.
    let j = s.join(req("a", 7, 2, Some("s")), RULES, T0).unwrap();
    assert_eq!(j.effects.pushes[0].to, [2]);
    let hit = s.attack(Some("s"), "b", 10, T0).unwrap();
    assert_eq!(hit.effects.pushes[0].to, [7]);
}

#[test]
fn a_raid_that_is_over_does_not_hold_its_members_back_from_the_next() {
    let mut s = two();
    assert!(s.attack(Some("s"), "a", 80, T0).unwrap().effects.ended);
    let next = JoinRequest {
        session_id: "t",
        ..req("a", 1, 2, Some("s"))
    };
    let joined = s.join(next, RULES, T0 + 5).expect("the won raid lets a go");
    assert_eq!(joined.members, ["a"]);
    // They left the old one: a new socket resumes the new raid, not the old.
    let (sid, _) = s.resume("a", 9).unwrap();
    assert_eq!(sid, "t");
    // A raid that never existed here (forgotten after its linger) holds
    // nobody either.
    let later = JoinRequest {
        session_id: "u",
        ..req("b", 2, 2, Some("gone"))
    };
    assert!(s.join(later, RULES, T0 + 6).is_ok());
}

#[test]
fn attack_deals_the_roll_capped_at_hp_and_tells_only_the_others() {
    let mut s = two();
    let hit = s.attack(Some("s"), "a", 30, T0).unwrap();
    assert_eq!((hit.damage, hit.boss_hp), (30, 50));
    assert_eq!(
        hit.effects.pushes,
        [push(&[2], event("a", "attack", Some(30), 50))]
    );
    assert_eq!(
        hit.effects.actions,
        [by("a", SessionAction::Attack { damage: 30 })]
    );
    assert!(!hit.effects.ended);

    let hit = s.attack(Some("s"), "b", 70, T0).unwrap();
    assert_eq!((hit.damage, hit.boss_hp), (50, 0));
    assert_eq!(
        hit.effects.pushes[0],
        push(&[1], event("b", "attack", Some(50), 0))
    );
}

#[test]
fn victory_ends_the_session_once_and_says_so() {
    let mut s = two();
    let hit = s.attack(Some("s"), "a", 80, T0 + 10).unwrap();
    assert!(hit.effects.ended);
    let attack = push(&[2], event("a", "attack", Some(80), 0));
    let end = push(&[1, 2], ended(SessionOutcome::Victory));
    assert_eq!(sorted(&hit.effects), [attack, end]);
    let actions = [
        by("a", SessionAction::Attack { damage: 80 }),
        by("a", SessionAction::Victory),
    ];
    assert_eq!(hit.effects.actions, actions);

    // Neither another attack nor the clock ends it a second time.
    assert_eq!(s.attack(Some("s"), "b", 10, T0 + 20), Err(Refusal::Over));
    assert!(s.tick(T0 + 1_000).is_empty());
    // It lingers from the victory on, then is forgotten.
    s.tick(T0 + 10 + LINGER_MS);
    assert_eq!(s.count(), 1);
    s.tick(T0 + 11 + LINGER_MS);
    assert_eq!(s.count(), 0);
}

#[test]
fn raid_catch_waits_for_victory_allows_one_try_and_is_undone_on_storage_failure() {
    let mut s = two();
    assert_eq!(
        s.begin_raid_catch(Some("s"), "a"),
        Err(Refusal::BossStanding)
    );
    s.attack(Some("s"), "a", 80, T0).unwrap();

    let t = s.begin_raid_catch(Some("s"), "b").unwrap();
    assert_eq!((t.creature_id.as_str(), t.player_id.as_str()), ("s:b", "b"));
    assert_eq!((t.species, t.rarity), ("Mossback", Rarity::Rare));
    assert_eq!(t.poi_id.as_deref(), Some("cafe"));
    assert_eq!(s.begin_raid_catch(Some("s"), "b"), Err(Refusal::CatchTried));

    // A storage failure undoes the attempt and tells nobody.
    let fx = s.finish_raid_catch(&t, &Stored::Err("disk full"));
    assert!(fx.pushes.is_empty() && fx.actions.is_empty() && !fx.ended);
    let t = s.begin_raid_catch(Some("s"), "b").unwrap();
    let fx = s.finish_raid_catch(&t, &Stored::Ok(CatchEnd::Caught));
    assert_eq!(fx.pushes, [push(&[1], event("b", "caught", None, 0))]);
    assert_eq!(fx.actions, [by("b", SessionAction::Caught)]);
    assert_eq!(s.begin_raid_catch(Some("s"), "b"), Err(Refusal::CatchTried));

    // Each member has an attempt of their own; one the store already held
    // reads as fled to the others.
    let t = s.begin_raid_catch(Some("s"), "a").unwrap();
    let fx = s.finish_raid_catch(&t, &Stored::Ok(CatchEnd::Gone));
    assert_eq!(fx.pushes, [push(&[2], event("a", "fled", None, 0))]);
    assert_eq!(fx.actions, [by("a", SessionAction::Fled)]);
}

#[test]
fn leave_tells_the_remaining_members() {
    let mut s = two();
    s.join(req("c", 3, 3, None), RULES, T0).unwrap();
    let fx = s.leave("s", "b");
    assert_eq!(sorted(&fx), [push(&[1, 3], event("b", "left", None, 80))]);
    assert!(fx.actions.is_empty() && !fx.ended);
    let hit = s.attack(Some("s"), "a", 10, T0).unwrap();
    assert_eq!(hit.effects.pushes[0].to, [3], "who left hears no more");
    assert!(s.leave("forgotten", "a").pushes.is_empty());
}

#[test]
fn tick_times_out_at_ends_at_once_and_forgets_after_the_linger() {
    let mut s = two();
    assert!(s.tick(T0 + 999).is_empty());
    let out = s.tick(T0 + 1_000);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].session_id, "s");
    assert!(out[0].ended);
    assert_eq!(
        sorted(&out[0]),
        [push(&[1, 2], ended(SessionOutcome::Timeout))]
    );
    assert_eq!(out[0].actions, [(None, SessionAction::Timeout)]);
    assert!(s.tick(T0 + 1_001).is_empty(), "a session times out once");
    assert_eq!(
        s.begin_raid_catch(Some("s"), "a"),
        Err(Refusal::BossStanding)
    );

    s.tick(T0 + 1_000 + LINGER_MS);
    assert_eq!(s.count(), 1, "still lingering");
    s.tick(T0 + 1_001 + LINGER_MS);
    assert_eq!(s.count(), 0);
}

#[test]
fn attack_after_the_end_is_refused() {
    let mut s = two();
    assert_eq!(s.attack(None, "a", 10, T0), Err(Refusal::NotInSession));
    s.tick(T0 + 1_000);
    assert_eq!(s.attack(Some("s"), "a", 10, T0 + 1_000), Err(Refusal::Over));
    s.tick(T0 + 1_001 + LINGER_MS);
    assert_eq!(s.attack(Some("s"), "a", 10, T0), Err(Refusal::Gone));
}

#[test]
fn join_after_the_end_is_refused() {
    let mut s = two();
    s.tick(T0 + 1_000);
    assert_eq!(s.join(req("c", 3, 2, None), RULES, T0), Err(Refusal::Gone));
    let again = req("a", 1, 2, Some("s"));
    assert_eq!(s.join(again, RULES, T0), Err(Refusal::Gone));
}

#[test]
fn a_member_who_drops_keeps_the_seat_and_comes_back_on_a_new_socket() {
    let mut s = two();
    s.attack(Some("s"), "a", 10, T0).unwrap();
    s.drop_conn("s", "a", 1, T0 + 100);
    // While a is away, only b hears the fight.
    let hit = s.attack(Some("s"), "b", 10, T0 + 200).unwrap();
    assert!(hit.effects.pushes.iter().all(|p| p.to.is_empty()));
    // Back within the grace on socket 7: the boss is as the others left it.
    let (sid, joined) = s.resume("a", 7).unwrap();
    assert_eq!(sid, "s");
    assert_eq!(joined.boss.hp, 60);
    assert_eq!(
        joined.effects.pushes,
        vec![push(&[2], event("a", "joined", None, 60))]
    );
    let mut members = joined.members.clone();
    members.sort();
    assert_eq!(members, ["a", "b"]);
    let hit = s.attack(Some("s"), "b", 10, T0 + 300).unwrap();
    assert_eq!(hit.effects.pushes[0].to, vec![7]);
}

#[test]
fn a_stale_socket_dropping_after_the_takeover_changes_nothing() {
    let mut s = two();
    // The new socket (7) resumed while the old one (1) was still seated.
    let (_, joined) = s.resume("a", 7).unwrap();
    assert!(joined.effects.pushes.is_empty(), "a never left");
    s.drop_conn("s", "a", 1, T0 + 10);
    let hit = s.attack(Some("s"), "b", 10, T0 + 20).unwrap();
    assert_eq!(hit.effects.pushes[0].to, vec![7]);
}

#[test]
fn a_member_away_past_the_grace_has_left() {
    let mut s = Sessions::default();
    let long = RaidRules {
        duration_ms: 10 * RESUME_GRACE_MS,
        ..RULES
    };
    s.join(req("a", 1, 2, None), long, T0).unwrap();
    s.join(req("b", 2, 2, None), long, T0).unwrap();
    s.drop_conn("s", "a", 1, T0);
    assert!(
        s.tick(T0 + RESUME_GRACE_MS).is_empty(),
        "still within the grace"
    );
    let fx = s.tick(T0 + RESUME_GRACE_MS + 1);
    assert_eq!(fx.len(), 1);
    assert_eq!(fx[0].pushes, vec![push(&[2], event("a", "left", None, 80))]);
    assert!(s.resume("a", 7).is_none());
    // An explicit leave is final at once.
    s.leave("s", "b");
    assert!(s.resume("b", 8).is_none());
}
