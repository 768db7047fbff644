//! The recorder's tests: shards, intervals and the steady state.

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn shards_merge_into_totals() {
    let stats = Stats::new(4, Duration::from_secs(60)).unwrap();
    let t0 = Instant::now();
    for p in 0..8 {
        let r = stats.recorder(p);
        r.sent(Kind::Location, Duration::from_micros(5));
        r.reply(Kind::Location, t0, t0 + ms(10 + p as u64));
    }
    stats.recorder(1).error(Some(Kind::Catch), "too_fast");
    stats.recorder(2).error(Some(Kind::Catch), "too_fast");
    stats
        .recorder(3)
        .timeout(Kind::Spin, t0, t0 + Duration::from_secs(5));
    let t = stats.totals().unwrap();
    let loc = &t.latency[0];
    assert_eq!(loc.len(), 8);
    assert_eq!(t.counts[0].sent, 8);
    assert_eq!(t.counts[0].received, 8);
    assert!((loc.value_at_quantile(0.5) as i64 - 13_000).abs() < 1_100);
    assert_eq!(t.errors, vec![(Some(Kind::Catch), "too_fast", 2)]);
    assert_eq!(t.counts[Kind::Spin as usize].timeouts, 1);
    assert!(t.latency[Kind::Spin as usize].max() >= 4_990_000);
}

#[test]
fn interval_is_reset_after_each_take() {
    let stats = Stats::new(2, Duration::from_secs(60)).unwrap();
    let t0 = Instant::now();
    stats.recorder(0).reply(Kind::Location, t0, t0 + ms(3));
    stats.recorder(1).reply(Kind::Location, t0, t0 + ms(7));
    stats.recorder(1).reply(Kind::Catch, t0, t0 + ms(7));
    assert_eq!(stats.take_interval().unwrap().location.len(), 2);
    assert_eq!(stats.take_interval().unwrap().location.len(), 0);
    assert_eq!(stats.totals().unwrap().latency[0].len(), 2);
}

#[test]
fn steady_state_counts_only_requests_scheduled_after_the_ramp() {
    let stats = Stats::new(2, Duration::from_secs(60)).unwrap();
    let t0 = Instant::now();
    let ramp_end = t0 + Duration::from_secs(10);
    stats.set_steady_from(ramp_end);
    let r = stats.recorder(0);
    // During the ramp: slow, and left out of the steady state.
    r.reply(Kind::Location, t0, t0 + ms(900));
    r.timeout(Kind::Location, t0 + ms(5), t0 + Duration::from_secs(5));
    // After it: fast replies, plus a timeout that must count.
    for i in 0..98 {
        let at = ramp_end + ms(i);
        r.reply(Kind::Location, at, at + ms(2));
    }
    let late = ramp_end + ms(200);
    r.timeout(Kind::Location, late, late + Duration::from_secs(5));
    r.reply(Kind::Catch, ramp_end, ramp_end + ms(40));
    let t = stats.totals().unwrap();
    assert_eq!(t.latency[0].len(), 101);
    assert_eq!(t.steady_location.len(), 99);
    assert!(t.steady_location.max() >= 4_990_000, "the timeout counts");
    assert!(t.steady_location.value_at_quantile(0.5) < 2_100);
}
