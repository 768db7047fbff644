//! Flag validation: every flag's range, the URL forms and the defaults.

use super::*;
use crate::config::{Cli, Command};
use clap::Parser;

fn args(extra: &[&str]) -> Result<Config, ConfigError> {
    let mut argv = vec![
        "load-test",
        "--url",
        "http://127.0.0.1:8080/",
        "--players",
        "10",
        "--rate",
        "2",
        "--duration",
        "5",
    ];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().run.validate(7)
}

#[test]
fn contract_flags_build_a_config() {
    let c = args(&[
        "--ramp",
        "2",
        "--out",
        "r.json",
        "--plot",
        "p.svg",
        "--slo-p99-ms",
        "100",
    ])
    .unwrap();
    assert_eq!(
        c.target,
        Target::Game {
            http_base: "http://127.0.0.1:8080".into(),
            ws_base: "ws://127.0.0.1:8080".into()
        }
    );
    assert_eq!((c.players, c.rate), (10, 2.0));
    assert_eq!(c.duration, Duration::from_secs(5));
    assert_eq!(c.ramp, Duration::from_secs(2));
    assert_eq!(c.slo_p99_ms, Some(100.0));
    assert_eq!(c.period(), Duration::from_millis(500));
    assert_eq!(c.region, Region::DEMO);
    assert_eq!(c.device_prefix, "loadtest-7");
}

#[test]
fn bad_values_get_named_errors() {
    assert!(matches!(
        args(&["--ramp", "9"]),
        Err(ConfigError::OutOfRange { flag: "--ramp", .. })
    ));
    assert!(matches!(
        args(&["--catch-share", "1.5"]),
        Err(ConfigError::OutOfRange {
            flag: "--catch-share",
            ..
        })
    ));
    assert!(matches!(
        args(&["--region", "47,-122"]),
        Err(ConfigError::Region(_))
    ));
    assert!(matches!(
        args(&["--region", "95,-122,100"]),
        Err(ConfigError::Region(_))
    ));
    assert!(matches!(
        args(&["--max-in-flight", "0"]),
        Err(ConfigError::OutOfRange { .. })
    ));
    let e = args(&["--slo-p99-ms=-1"]).unwrap_err();
    assert_eq!(e.to_string(), "--slo-p99-ms must be above 0 (got -1)");
}

#[test]
fn tls_urls_give_tls_bases_and_calibrate_needs_no_url() {
    assert_eq!(
        parse_url("https://x:1/").unwrap(),
        ("https://x:1".to_owned(), "wss://x:1".to_owned())
    );
    assert_eq!(
        parse_url("wss://x:1").unwrap(),
        ("https://x:1".to_owned(), "wss://x:1".to_owned())
    );
    assert!(matches!(parse_url("ftp://x"), Err(ConfigError::Url { .. })));
    let raw = Cli::try_parse_from([
        "load-test",
        "--calibrate",
        "--players",
        "1",
        "--rate",
        "1",
        "--duration",
        "1",
    ])
    .unwrap();
    assert_eq!(raw.run.validate(0).unwrap().target, Target::Calibrate);
    let raw = Cli::try_parse_from([
        "load-test",
        "--players",
        "1",
        "--rate",
        "1",
        "--duration",
        "1",
    ])
    .unwrap();
    assert_eq!(
        raw.run.validate(0),
        Err(ConfigError::Missing("--url (unless --calibrate)"))
    );
}

#[test]
fn echo_server_subcommand_needs_no_run_flags() {
    let cli = Cli::try_parse_from(["load-test", "echo-server", "--listen", "127.0.0.1:0"]).unwrap();
    assert!(
        matches!(cli.command, Some(Command::EchoServer { ref listen }) if listen == "127.0.0.1:0")
    );
    assert!(Cli::try_parse_from(["load-test", "--players", "1"]).is_err());
}

#[test]
fn world_files_load_points_and_refuse_junk() {
    let dir = std::env::temp_dir().join(format!("load-test-world-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.geojson");
    std::fs::write(
        &good,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[-122.03,47.61]},"properties":{"id":"a"}},
          {"type":"Feature","id":"b","geometry":{"type":"Point","coordinates":[-122.04,47.62]},"properties":{}},
          {"type":"Feature","geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},"properties":{"id":"c"}}]}"#,
    )
    .unwrap();
    let w = load_world(&good).unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(
        (w[0].id.as_str(), w[0].pos),
        ("a", LatLon::new(47.61, -122.03))
    );
    assert_eq!(w[1].id, "b");
    let bad = dir.join("bad.geojson");
    std::fs::write(&bad, r#"{"type":"FeatureCollection","features":[]}"#).unwrap();
    assert!(matches!(load_world(&bad), Err(ConfigError::World { .. })));
    assert!(matches!(
        load_world(&dir.join("missing")),
        Err(ConfigError::World { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn region_parses_with_spaces() {
    let r = parse_region("47.6, -122.03, 800").unwrap();
    // A southern-hemisphere region starts with a minus sign.
    let c = args(&["--region", "-33.86,151.21,500"]).unwrap();
    assert_eq!(c.region.center, LatLon::new(-33.86, 151.21));
    assert_eq!(r.center, LatLon::new(47.6, -122.03));
    assert_eq!(r.radius_m, 800.0);
}
