//! Integration tests: the load tester against a test server with known
//! delays, stalls and a movement check, over real sockets on port 0, and the
//! binary's exit codes.

mod common;

use std::time::Duration;

use common::{Behaviour, TEST_REGION, TestServer};
use load_test::config::{Target, parse_url};
use load_test::{Config, Report};

fn config(server: &TestServer, players: usize, rate: f64, secs: f64) -> Config {
    let (http_base, ws_base) = parse_url(&server.url()).unwrap();
    let mut cfg = Config::new(
        Target::Game { http_base, ws_base },
        players,
        rate,
        Duration::from_secs_f64(secs),
    );
    cfg.region = TEST_REGION;
    cfg.device_prefix = "test".into();
    cfg
}

async fn run(cfg: Config) -> Report {
    load_test::run(cfg, std::future::pending(), |_| {})
        .await
        .unwrap()
}

/// The tests in this file measure latency to the millisecond, and two of
/// them burn CPU (sixty walkers, half an hour of simulated time). On a
/// two-core machine, running them side by side doubles the measured
/// delays, so each test holds this lock for its whole run. It is a tokio
/// lock so that a failed test does not poison the others.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn within(v: f64, lo: f64, hi: f64, what: &str) {
    assert!((lo..=hi).contains(&v), "{what} = {v}, expected {lo}..={hi}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixed_delay_shows_in_every_percentile_and_the_report_has_its_shape() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        delay: Duration::from_millis(20),
        match_delay: Duration::from_millis(300),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = config(&server, 20, 20.0, 3.0);
    cfg.mix.catch_share = 0.2;
    cfg.mix.spin_share = 0.2;
    cfg.mix.lobby_share = 0.5;
    let report = run(cfg).await;

    let loc = &report.latency_ms.location;
    // 20 ms of server delay, plus at most a few ms of timer rounding on both sides.
    within(loc.p50, 20.0, 26.0, "location p50");
    within(loc.p90, 20.0, 28.0, "location p90");
    within(loc.p99, 20.0, 40.0, "location p99");
    assert!(loc.max < 80.0, "max {}", loc.max);
    assert_eq!(loc.count, loc.received);
    assert_eq!(loc.sent, loc.received, "every location got its nearby");
    assert_eq!(
        server
            .seen
            .locations
            .load(std::sync::atomic::Ordering::Relaxed),
        loc.sent
    );
    // 20 players x 20/s x 3 s, give or take the phase of the first send.
    within(report.sent as f64, 1150.0, 1210.0, "sent");
    assert_eq!((report.errors, report.timeouts, report.skipped), (0, 0, 0));
    assert_eq!(report.connected, 20);

    let catch = &report.latency_ms.catch;
    assert!(catch.count > 20, "catches: {}", catch.count);
    within(catch.p50, 20.0, 26.0, "catch p50");
    assert_eq!(report.outcomes["catch"]["caught"], catch.received);
    let spin = &report.latency_ms.spin;
    assert!(spin.count > 0, "no spin happened");
    within(spin.p50, 20.0, 26.0, "spin p50");
    let m = &report.latency_ms.match_;
    assert!(m.count > 0, "no match: {:?}", report.latency_ms.queue);
    // queued after 20 ms, match_found 300 ms later.
    within(m.p50, 320.0, 330.0, "match p50");
    within(report.latency_ms.queue.p50, 20.0, 26.0, "queue p50");
    // Matched players join their raid and fight until the boss falls (at
    // the third attack here), and queue again only well after it ended: so
    // within this run each lobby player queued once and no ticket clashed
    // with a running raid.
    let seen = &server.seen;
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&seen.joins), m.received, "one join per match");
    assert!(
        load(&seen.attacks) >= 3 * m.received,
        "attacks {}",
        load(&seen.attacks)
    );
    assert_eq!(load(&seen.queues), report.latency_ms.queue.sent);
    assert_eq!(
        report.latency_ms.queue.sent,
        report.latency_ms.queue.received
    );

    let v = serde_json::to_value(&report).unwrap();
    for key in [
        "players",
        "duration_s",
        "sent",
        "received",
        "errors",
        "timeouts",
        "errors_by_code",
        "series",
        "generator",
    ] {
        assert!(v.get(key).is_some(), "report lacks {key}");
    }
    // No ramp: the steady state is the whole run.
    assert_eq!(v["location_after_ramp_ms"]["count"], loc.count);
    assert!(v["location_after_ramp_ms"]["p99"].as_f64().unwrap() >= 20.0);
    for kind in ["location", "catch", "spin", "match"] {
        for field in ["count", "p50", "p90", "p99", "p999", "max"] {
            assert!(
                v["latency_ms"][kind][field].is_number(),
                "latency_ms.{kind}.{field}"
            );
        }
    }
    assert_eq!(v["players"], 20);
    assert_eq!(v["duration_s"], 3.0);
    let series = v["series"].as_array().unwrap();
    assert!(series.len() >= 3, "{} series points", series.len());
    assert!(
        series
            .iter()
            .any(|p| p["location"]["p50"].as_f64().unwrap() >= 20.0)
    );
    assert!(v["generator"]["send_lag_ms"]["p99"].is_number());
}

/// The server stops answering for 2 s in the middle of a 4 s run. An
/// open-loop generator keeps sending through the stall and measures from
/// the scheduled time, so half the samples carry up to 2 s of waiting: the
/// stall must reach p90 and the max (a closed-loop one would show a single
/// slow sample per player).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_stall_shows_at_p90_and_max() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        delay: Duration::from_millis(2),
        stall: Some((Duration::from_millis(1300), Duration::from_secs(2))),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = config(&server, 10, 20.0, 4.0);
    cfg.mix.lobby_share = 0.0;
    let report = run(cfg).await;
    let loc = &report.latency_ms.location;
    assert!(
        loc.p90 >= 1000.0,
        "p90 {} ms does not show the stall",
        loc.p90
    );
    within(loc.max, 1800.0, 2300.0, "max");
    assert!(loc.p50 < 1000.0, "p50 {}", loc.p50);
    assert_eq!(report.timeouts, 0);
    // The per-second series shows when it happened.
    assert!(report.series.iter().any(|p| p.location.max >= 1800.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_requests_are_timeouts_and_count_in_the_percentiles() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        ignore_locations: true,
        ..Behaviour::default()
    })
    .await;
    let mut cfg = config(&server, 4, 10.0, 1.0);
    cfg.mix.catch_share = 0.0;
    cfg.mix.spin_share = 0.0;
    cfg.mix.lobby_share = 0.0;
    cfg.timeout = Duration::from_millis(400);
    cfg.slo_p99_ms = Some(100.0);
    let report = run(cfg).await;
    let loc = &report.latency_ms.location;
    assert_eq!(loc.received, 0);
    assert_eq!(loc.timeouts, loc.sent);
    assert_eq!(report.timeouts, loc.sent);
    assert_eq!(report.errors_by_code["timeout"], loc.sent);
    assert!(
        loc.p50 >= 400.0,
        "timeouts must weigh at least the timeout: {}",
        loc.p50
    );
    assert!(report.slo_missed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_hellos_are_connection_failures() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        refuse_hello: true,
        ..Behaviour::default()
    })
    .await;
    let report = run(config(&server, 3, 5.0, 0.5)).await;
    assert_eq!(report.connected, 0);
    assert_eq!(report.connect_failures["hello_unauthorized"], 3);
    assert_eq!(report.errors, 3);
}

/// Every player drops its socket once mid-run (no close frame) and comes
/// back with the same token, and the server holds each resume's welcome
/// for 500 ms: every drop resumes, the resume time shows the wait, and the
/// slots that fell while offline are not sent late (they would put half a
/// second into the location latency).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_players_resume_and_their_time_offline_is_not_latency() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        delay: Duration::from_millis(20),
        resume_delay: Duration::from_millis(500),
        ..Behaviour::default()
    })
    .await;
    let mut cfg = config(&server, 20, 10.0, 6.0);
    cfg.mix.drop_share = 1.0;
    cfg.mix.lobby_share = 0.0;
    let report = run(cfg).await;
    let r = report.resume.as_ref().expect("a resume section");
    assert_eq!((r.dropped, r.resumed), (20, 20), "{r:?}");
    assert!(r.failures.is_empty(), "{r:?}");
    assert_eq!(r.resume_ms.count, 20);
    within(r.resume_ms.p50, 500.0, 800.0, "resume p50 ms");
    assert!(
        r.offline_slots >= 20 * 4,
        "about 5 slots each fell offline: {r:?}"
    );
    let seen = &server.seen;
    assert_eq!(
        seen.play_hellos.load(std::sync::atomic::Ordering::Relaxed),
        40
    );
    assert_eq!(
        seen.ended_without_close
            .load(std::sync::atomic::Ordering::Relaxed),
        20,
        "each drop ended its socket with no close frame"
    );
    assert_eq!(report.errors, 0, "{:?}", report.errors_by_code);
    assert_eq!(report.disconnected, 0);
    within(
        report.latency_ms.location.p99,
        19.0,
        150.0,
        "location p99 ms",
    );
    assert!(
        report
            .summary_table()
            .contains("resume: 20 dropped, 20 back")
    );
    // Without --drop-share there is no section.
    let plain = run(config(&server, 2, 5.0, 1.0)).await;
    assert!(plain.resume.is_none());
}

/// Walkers (a third driving, a third cycling) against a server that flags
/// anything faster than 50 m/s beyond 15 m of GPS noise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walkers_never_trip_the_movement_check() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour::default()).await;
    let mut cfg = config(&server, 60, 10.0, 3.0);
    cfg.region = load_test::geo::Region::DEMO;
    cfg.mix.drive_share = 0.34;
    cfg.mix.cycle_share = 0.33;
    cfg.seed = 11;
    let report = run(cfg).await;
    let seen = &server.seen;
    let locations = seen.locations.load(std::sync::atomic::Ordering::Relaxed);
    assert!(locations > 1000, "only {locations} location updates");
    assert_eq!(
        seen.violations.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(!report.errors_by_code.contains_key("too_fast"));
    // Someone did drive: the fastest 0.5 s+ leg was faster than any walker.
    let fastest = seen
        .max_speed_mmps
        .load(std::sync::atomic::Ordering::Relaxed) as f64
        / 1000.0;
    within(fastest, 6.0, 20.0, "fastest observed speed m/s");
}

/// The same check over a long run in paused (simulated) time: half an hour
/// of walking, cycling and driving at 1 update/s.
#[tokio::test(start_paused = true)]
async fn walkers_never_trip_the_movement_check_over_half_an_hour_of_simulated_time() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour::default()).await;
    let mut cfg = config(&server, 12, 1.0, 1800.0);
    cfg.region = load_test::geo::Region::DEMO;
    cfg.mix.drive_share = 0.5;
    cfg.mix.cycle_share = 0.25;
    cfg.mix.lobby_share = 0.0;
    cfg.timeout = Duration::from_secs(60);
    cfg.seed = 3;
    let report = run(cfg).await;
    let locations = server
        .seen
        .locations
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(locations > 12 * 1500, "only {locations} location updates");
    assert_eq!(
        server
            .seen
            .violations
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert!(!report.errors_by_code.contains_key("too_fast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_drives_the_in_process_echo_server() {
    let _serial = SERIAL.lock().await;
    let cfg = Config::new(Target::Calibrate, 10, 50.0, Duration::from_secs(1));
    let report = run(cfg).await;
    assert_eq!(report.target_kind, "echo");
    assert!(report.sent >= 450, "sent {}", report.sent);
    assert_eq!(report.received, report.sent);
    assert_eq!(report.errors, 0);
    assert!(report.latency_ms.location.p50 < 20.0);
    assert!(report.generator.send_lag_ms.count >= report.sent);
}

// ---- the binary ----

async fn binary(args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_load-test"))
        .args(args)
        .output()
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_sets_the_exit_code_and_outputs_are_written() {
    let _serial = SERIAL.lock().await;
    let server = common::start(Behaviour {
        delay: Duration::from_millis(20),
        ..Behaviour::default()
    })
    .await;
    let dir = std::env::temp_dir().join(format!("load-test-slo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("report.json");
    let plot = dir.join("latency.svg");
    let url = server.url();
    let common = [
        "--url",
        url.as_str(),
        "--players",
        "5",
        "--rate",
        "10",
        "--duration",
        "1.5",
        "--region",
        "47.6162,-122.0326,300",
    ];

    let mut args = common.to_vec();
    let (out_s, plot_s) = (out.to_str().unwrap(), plot.to_str().unwrap());
    args.extend(["--slo-p99-ms", "5", "--out", out_s, "--plot", plot_s]);
    let (code, stdout, stderr) = binary(&args).await;
    assert_eq!(code, 1, "20 ms replies miss a 5 ms SLO\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("SLO location p99 <= 5 ms: MISSED"),
        "{stdout}"
    );
    assert!(stdout.contains("location"), "{stdout}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(json["slo"]["met"], false);
    assert!(json["latency_ms"]["location"]["p50"].as_f64().unwrap() >= 20.0);
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("latency distribution"),
        "{}",
        &svg[..100.min(svg.len())]
    );

    let mut args = common.to_vec();
    args.extend(["--slo-p99-ms", "1000"]);
    let (code, stdout, _) = binary(&args).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("met"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_and_connection_errors_exit_2() {
    let _serial = SERIAL.lock().await;
    let (code, _, stderr) = binary(&[
        "--url",
        "http://127.0.0.1:1",
        "--players",
        "0",
        "--rate",
        "1",
        "--duration",
        "1",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--players must be between 1 and 1000000"),
        "{stderr}"
    );
    let (code, _, _) = binary(&["--players", "1"]).await;
    assert_eq!(code, 2, "missing required flags is a usage error");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, _, stderr) = binary(&[
        "--url",
        &url,
        "--players",
        "2",
        "--rate",
        "1",
        "--duration",
        "0.5",
        "--connect-timeout",
        "2",
    ])
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no player could connect"), "{stderr}");
    let (code, stdout, _) = binary(&["--help"]).await;
    assert_eq!(code, 0);
    assert!(
        stdout.contains("--slo-p99-ms") && stdout.contains("echo-server"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_server_subcommand_serves_the_generator() {
    let _serial = SERIAL.lock().await;
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_load-test"))
        .args(["echo-server", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .to_owned();
    let cfg = Config::new(
        Target::Echo { ws_url: url },
        5,
        20.0,
        Duration::from_secs(1),
    );
    let report = run(cfg).await;
    assert!(report.sent >= 90);
    assert_eq!(report.received, report.sent);
    assert_eq!(report.errors, 0);
    child.kill().await.unwrap();
}
