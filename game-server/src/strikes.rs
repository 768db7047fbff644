//! The strike ladder for repeated impossible movement, as Niantic's
//! three-strike policy does it: a first strike is a warning (rare
//! creatures are hidden from the player for a while), a second suspends
//! the player for some days, a third bans them. Strikes older than the
//! window, and lifted ones, do not count. Plain data in, a standing out;
//! the I/O is in `arrival.rs`, `nearby.rs` and `admin.rs`.

use std::time::Duration;

use protocol::ErrorCode;
use store::StrikeRow;

/// The ladder's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct StrikeLadder {
    /// Strikes older than this no longer count.
    pub window: Duration,
    /// After the first strike, rare and rarer creatures are hidden from
    /// the player this long.
    pub warning_hides_rare_for: Duration,
    /// The second strike suspends the player this long.
    pub suspension: Duration,
    /// How many strikes ban the player.
    pub ban_at: usize,
}

impl Default for StrikeLadder {
    fn default() -> Self {
        StrikeLadder {
            window: Duration::from_secs(90 * 86_400),
            warning_hides_rare_for: Duration::from_secs(86_400),
            suspension: Duration::from_secs(7 * 86_400),
            ban_at: 3,
        }
    }
}

/// Where a player stands on the ladder at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Plays as usual.
    Clear,
    /// Plays, but rare creatures are hidden until `until_ms`.
    Warned { until_ms: i64 },
    /// May not play until `until_ms`.
    Suspended { until_ms: i64 },
    /// May not play.
    Banned,
    /// The player's data was erased: the id is gone for good.
    Erased,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl StrikeLadder {
    /// The standing at `now_ms` given a player's strikes (any order).
    pub(crate) fn standing(&self, strikes: &[StrikeRow], now_ms: i64) -> Standing {
        let since = now_ms.saturating_sub(ms(self.window));
        let mut counted: Vec<i64> = strikes
            .iter()
            .filter(|s| s.lifted_at_ms.is_none() && s.at_ms >= since)
            .map(|s| s.at_ms)
            .collect();
        counted.sort_unstable();
        let latest = counted.last().copied().unwrap_or(0);
        match counted.len() {
            0 => Standing::Clear,
            n if n >= self.ban_at.max(1) => Standing::Banned,
            1 => {
                let until_ms = latest.saturating_add(ms(self.warning_hides_rare_for));
                if until_ms > now_ms {
                    Standing::Warned { until_ms }
                } else {
                    Standing::Clear
                }
            }
            _ => {
                let until_ms = latest.saturating_add(ms(self.suspension));
                if until_ms > now_ms {
                    Standing::Suspended { until_ms }
                } else {
                    Standing::Clear
                }
            }
        }
    }
}

impl Standing {
    /// The standing of a player with `strikes`, or erased.
    pub(crate) fn of(
        ladder: &StrikeLadder,
        strikes: &[StrikeRow],
        erased: bool,
        now_ms: i64,
    ) -> Standing {
        if erased {
            Standing::Erased
        } else {
            ladder.standing(strikes, now_ms)
        }
    }

    /// The close code of a socket the standing refuses.
    pub(crate) fn close_code(self) -> u16 {
        match self {
            Standing::Erased => protocol::close::ERASED,
            _ => protocol::close::POLICY,
        }
    }

    /// Why the player may not play, for the `error` they are sent (its
    /// code and message); none when they may.
    pub(crate) fn refusal(self) -> Option<(ErrorCode, String)> {
        let suspended = |why: String| Some((ErrorCode::Suspended, why));
        match self {
            Standing::Clear | Standing::Warned { .. } => None,
            Standing::Suspended { until_ms } => suspended(format!(
                "suspended for repeated impossible movement until {} (unix s)",
                until_ms / 1000
            )),
            Standing::Banned => suspended("banned for repeated impossible movement".into()),
            Standing::Erased => Some((
                ErrorCode::Unauthorized,
                "this player's data was erased; sign in again as a new player".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn strike(at_ms: i64, lifted: bool) -> StrikeRow {
        StrikeRow {
            id: at_ms,
            player_id: "p".into(),
            at_ms,
            reason: "teleport".into(),
            actor: "server".into(),
            lifted_at_ms: lifted.then_some(at_ms + 1),
        }
    }

    #[test]
    fn warning_then_suspension_then_ban_and_lifted_or_old_strikes_do_not_count() {
        let l = StrikeLadder::default();
        let t = 100 * DAY;
        assert_eq!(l.standing(&[], t), Standing::Clear);
        assert_eq!(
            l.standing(&[strike(t, false)], t + 1),
            Standing::Warned { until_ms: t + DAY }
        );
        assert_eq!(
            l.standing(&[strike(t, false)], t + DAY + 1),
            Standing::Clear,
            "the warning passes"
        );
        let two = [strike(t - DAY, false), strike(t, false)];
        assert_eq!(
            l.standing(&two, t + 1),
            Standing::Suspended {
                until_ms: t + 7 * DAY
            }
        );
        assert_eq!(
            l.standing(&two, t + 8 * DAY),
            Standing::Clear,
            "served the suspension"
        );
        let three = [
            strike(t - 2 * DAY, false),
            strike(t - DAY, false),
            strike(t, false),
        ];
        assert_eq!(l.standing(&three, t + 1), Standing::Banned);
        // A lifted strike steps the player back down.
        let lifted = [strike(t - DAY, false), strike(t, true)];
        assert_eq!(
            l.standing(&lifted, t + 1),
            Standing::Clear,
            "one old warning left, long passed"
        );
        // Strikes past the 90-day window are forgotten.
        let old = [
            strike(t - 200 * DAY, false),
            strike(t - 150 * DAY, false),
            strike(t, false),
        ];
        assert_eq!(
            l.standing(&old, t + 1),
            Standing::Warned { until_ms: t + DAY }
        );
        let (code, why) = Standing::Banned.refusal().unwrap();
        assert_eq!(code, ErrorCode::Suspended);
        assert!(why.contains("banned"));
        let (_, why) = Standing::Suspended { until_ms: 5_000 }.refusal().unwrap();
        assert!(why.contains("until 5"));
        assert_eq!(Standing::Warned { until_ms: 1 }.refusal(), None);
        // An erased player is refused whatever their strikes, as unknown.
        assert_eq!(Standing::of(&l, &old, true, t), Standing::Erased);
        assert_eq!(Standing::of(&l, &[], false, t), Standing::Clear);
        let (code, why) = Standing::Erased.refusal().unwrap();
        assert_eq!(code, ErrorCode::Unauthorized);
        assert!(why.contains("erased"));
    }
}
