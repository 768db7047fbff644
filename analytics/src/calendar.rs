//! Day numbers to calendar dates, for the daily reports (UTC, proleptic
//! Gregorian), without pulling in a date library for one conversion.

/// Formats day `days` since 1970-01-01 as `YYYY-MM-DD`.
pub(crate) fn ymd(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The civil date of a day number, after Howard Hinnant's `civil_from_days`:
/// shift the epoch to 0000-03-01 so leap days fall at the end of a year,
/// then split into 400-year eras.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(-1), "1969-12-31");
        assert_eq!(ymd(11_016), "2000-02-29");
        assert_eq!(ymd(11_017), "2000-03-01");
        // 2026-11-22 is 1_795_305_600 s after the epoch.
        assert_eq!(ymd(1_795_305_600 / 86_400), "2026-11-22");
    }

    #[test]
    fn matches_a_day_by_day_walk_of_the_calendar() {
        // An independent walk: month lengths with the Gregorian leap rule.
        let (mut y, mut m, mut d) = (1970i64, 1u32, 1u32);
        for day in 0..150_000 {
            assert_eq!(civil_from_days(day), (y, m, d), "day {day}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }
}
