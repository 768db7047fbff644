//! The generator's own resource use (CPU time, resident memory), read from
//! `/proc` on Linux; None elsewhere.

use std::time::Duration;

/// Clock ticks per second of `/proc/*/stat` times (USER_HZ), fixed at 100
/// by the Linux ABI on every mainstream architecture.
const USER_HZ: f64 = 100.0;

/// User plus system CPU time used by this process so far.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may contain spaces and parentheses; fields are
    // counted from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / USER_HZ))
}

fn status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kib: u64 = line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resident set size now, in bytes.
pub fn rss_bytes() -> Option<u64> {
    status_kib("VmRSS:")
}

/// Peak resident set size so far, in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:")
}

/// The host's 1-minute load average: other work competing for the cores
/// skews a benchmark, so reports record it.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn linux_reports_cpu_and_memory() {
        // Burn a little CPU so the counter is not trivially zero.
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        assert!(x > 0);
        assert!(cpu_time().unwrap() > Duration::ZERO);
        let rss = rss_bytes().unwrap();
        assert!(rss > 100 * 1024);
        assert!(peak_rss_bytes().unwrap() >= rss);
        assert!(load_average().unwrap() >= 0.0);
    }
}
