//! Phase two of configuration: checks every raw flag and builds the
//! validated [`Config`], with an error that names the flag.

use std::path::Path;
use std::time::Duration;

use super::{Config, Mix, RunArgs, Target, TargetKind, default_threads};
use crate::geo::{LatLon, Region};
use crate::walker::WorldPoi;

/// Why the flags do not make a valid run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A required flag is missing.
    #[error("{0} is required")]
    Missing(&'static str),
    /// A number is out of range.
    #[error("{flag} must be {expected} (got {got})")]
    OutOfRange {
        /// The flag.
        flag: &'static str,
        /// The allowed range, in words.
        expected: &'static str,
        /// What was given.
        got: String,
    },
    /// The URL cannot be used.
    #[error("bad --url {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The world file cannot be used.
    #[error("bad --world {path}: {reason}")]
    World {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The region is malformed.
    #[error(
        "bad --region {0:?}: expected LAT,LON,RADIUS_M with -90<=LAT<=90, -180<=LON<=180, 0<RADIUS_M<=100000"
    )]
    Region(String),
}

fn range(flag: &'static str, v: f64, ok: bool, expected: &'static str) -> Result<f64, ConfigError> {
    if ok && v.is_finite() {
        Ok(v)
    } else {
        Err(ConfigError::OutOfRange {
            flag,
            expected,
            got: v.to_string(),
        })
    }
}

fn share(flag: &'static str, v: f64) -> Result<f64, ConfigError> {
    range(flag, v, (0.0..=1.0).contains(&v), "between 0 and 1")
}

fn secs(
    flag: &'static str,
    v: f64,
    min: f64,
    max: f64,
    expected: &'static str,
) -> Result<Duration, ConfigError> {
    range(flag, v, v >= min && v <= max, expected).map(Duration::from_secs_f64)
}

/// Splits a target URL into (http base, ws base): `http://` and `ws://`
/// give plain ones, `https://` and `wss://` TLS ones.
pub fn parse_url(url: &str) -> Result<(String, String), ConfigError> {
    let err = |reason| ConfigError::Url {
        url: url.to_owned(),
        reason,
    };
    let trimmed = url.trim().trim_end_matches('/');
    let (rest, tls) = if let Some(r) = trimmed.strip_prefix("http://") {
        (r, false)
    } else if let Some(r) = trimmed.strip_prefix("ws://") {
        (r, false)
    } else if let Some(r) = trimmed.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = trimmed.strip_prefix("wss://") {
        (r, true)
    } else {
        return Err(err("expected http://HOST:PORT or https://HOST:PORT"));
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(err("missing host"));
    }
    Ok(if tls {
        (format!("https://{rest}"), format!("wss://{rest}"))
    } else {
        (format!("http://{rest}"), format!("ws://{rest}"))
    })
}

/// Reads the Point features of a GeoJSON FeatureCollection as POIs; the id
/// is `properties.id`, else the feature's `id`.
pub fn load_world(path: &Path) -> Result<Vec<WorldPoi>, ConfigError> {
    let err = |reason: String| ConfigError::World {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
    let features = doc["features"]
        .as_array()
        .ok_or_else(|| err("not a FeatureCollection".to_owned()))?;
    let mut pois = Vec::with_capacity(features.len());
    for f in features {
        if f["geometry"]["type"] != "Point" {
            continue;
        }
        let coords = &f["geometry"]["coordinates"];
        let (Some(lon), Some(lat)) = (coords[0].as_f64(), coords[1].as_f64()) else {
            return Err(err("a Point without numeric coordinates".to_owned()));
        };
        if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
            return Err(err(format!("coordinates out of range: {lon},{lat}")));
        }
        let id = f["properties"]["id"].as_str().or_else(|| f["id"].as_str());
        let Some(id) = id else {
            return Err(err("a Point without properties.id".to_owned()));
        };
        pois.push(WorldPoi {
            id: id.to_owned(),
            pos: LatLon::new(lat, lon),
        });
    }
    if pois.is_empty() {
        return Err(err("no Point features".to_owned()));
    }
    Ok(pois)
}

/// Parses `LAT,LON,RADIUS_M`.
pub fn parse_region(s: &str) -> Result<Region, ConfigError> {
    let bad = || ConfigError::Region(s.to_owned());
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [lat, lon, radius_m] = parts[..] else {
        return Err(bad());
    };
    let ok = (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
        && radius_m > 0.0
        && radius_m <= 100_000.0;
    if !ok {
        return Err(bad());
    }
    Ok(Region {
        center: LatLon::new(lat, lon),
        radius_m,
    })
}

impl RunArgs {
    /// Phase two: checks every flag and builds the run configuration.
    /// `now_unix_ms` seeds the default device-id prefix.
    pub fn validate(&self, now_unix_ms: u128) -> Result<Config, ConfigError> {
        let players = self.players.ok_or(ConfigError::Missing("--players"))?;
        if players == 0 || players > 1_000_000 {
            return Err(ConfigError::OutOfRange {
                flag: "--players",
                expected: "between 1 and 1000000",
                got: players.to_string(),
            });
        }
        let rate = self.rate.ok_or(ConfigError::Missing("--rate"))?;
        let rate = range(
            "--rate",
            rate,
            rate > 0.0 && rate <= 100_000.0,
            "above 0 and at most 100000",
        )?;
        let duration = self.duration.ok_or(ConfigError::Missing("--duration"))?;
        let duration = secs(
            "--duration",
            duration,
            0.001,
            86_400.0,
            "between 0.001 and 86400 seconds",
        )?;
        let ramp = secs(
            "--ramp",
            self.ramp,
            0.0,
            duration.as_secs_f64(),
            "between 0 and --duration",
        )?;
        let target = if self.calibrate {
            Target::Calibrate
        } else {
            let url = self
                .url
                .as_deref()
                .ok_or(ConfigError::Missing("--url (unless --calibrate)"))?;
            let (http_base, ws_base) = parse_url(url)?;
            match self.target {
                TargetKind::Game => Target::Game { http_base, ws_base },
                TargetKind::Echo => Target::Echo { ws_url: ws_base },
            }
        };
        let mix = Mix {
            catch_share: share("--catch-share", self.catch_share)?,
            spin_share: share("--spin-share", self.spin_share)?,
            lobby_share: share("--lobby-share", self.lobby_share)?,
            cycle_share: share("--cycle-share", self.cycle_share)?,
            drive_share: share("--drive-share", self.drive_share)?,
            drop_share: share("--drop-share", self.drop_share)?,
            storm_share: share("--storm", self.storm)?,
            reconnect_storm_share: share("--reconnect-storm", self.reconnect_storm)?,
        };
        if (mix.storm_share > 0.0 || mix.reconnect_storm_share > 0.0) && duration <= ramp {
            range(
                "--storm / --reconnect-storm",
                duration.as_secs_f64(),
                false,
                "a --duration longer than --ramp",
            )?;
        }
        let storm_at = match self.storm_at {
            Some(at) => Some(
                range(
                    "--storm-at",
                    at,
                    at >= ramp.as_secs_f64() && at < duration.as_secs_f64(),
                    "at or after --ramp and before --duration",
                )
                .map(Duration::from_secs_f64)?,
            ),
            None => None,
        };
        let sum = mix.catch_share + mix.spin_share;
        range("--catch-share + --spin-share", sum, sum <= 1.0, "at most 1")?;
        let sum = mix.cycle_share + mix.drive_share;
        range(
            "--cycle-share + --drive-share",
            sum,
            sum <= 1.0,
            "at most 1",
        )?;
        if let Some(slo) = self.slo_p99_ms {
            range("--slo-p99-ms", slo, slo > 0.0, "above 0")?;
        }
        let count = |flag: &'static str, v: usize, max: usize, expected: &'static str| {
            if v == 0 || v > max {
                Err(ConfigError::OutOfRange {
                    flag,
                    expected,
                    got: v.to_string(),
                })
            } else {
                Ok(v)
            }
        };
        let threads = count(
            "--threads",
            self.threads.unwrap_or_else(default_threads),
            1024,
            "between 1 and 1024",
        )?;
        Ok(Config {
            target,
            players,
            rate,
            duration,
            ramp,
            out: self.out.clone(),
            plot: self.plot.clone(),
            slo_p99_ms: self.slo_p99_ms,
            seed: self.seed,
            region: match &self.region {
                Some(r) => parse_region(r)?,
                None => Region::DEMO,
            },
            world: match &self.world {
                Some(path) => load_world(path)?,
                None => Vec::new(),
            },
            mix,
            max_in_flight: count(
                "--max-in-flight",
                self.max_in_flight,
                1_000_000,
                "between 1 and 1000000",
            )?,
            timeout: secs(
                "--timeout",
                self.timeout,
                0.001,
                3600.0,
                "between 0.001 and 3600 seconds",
            )?,
            connect_timeout: secs(
                "--connect-timeout",
                self.connect_timeout,
                0.001,
                3600.0,
                "between 0.001 and 3600 seconds",
            )?,
            ca_certs: self.ca_certs.clone(),
            connect_concurrency: count(
                "--connect-concurrency",
                self.connect_concurrency,
                100_000,
                "between 1 and 100000",
            )?,
            threads,
            storm_at,
            progress_interval: secs(
                "--progress-interval",
                self.progress_interval,
                0.1,
                3600.0,
                "between 0.1 and 3600 seconds",
            )?,
            device_prefix: match &self.device_prefix {
                Some(p) if p.is_empty() || p.len() > 64 => {
                    return Err(ConfigError::OutOfRange {
                        flag: "--device-prefix",
                        expected: "1 to 64 characters",
                        got: p.clone(),
                    });
                }
                Some(p) => p.clone(),
                None => format!("loadtest-{now_unix_ms}"),
            },
            stats_shards: count(
                "--stats-shards",
                self.stats_shards,
                1024,
                "between 1 and 1024",
            )?,
            ws_read_buffer: count(
                "--ws-read-buffer",
                self.ws_read_buffer,
                16 * 1024 * 1024,
                "between 1 and 16777216",
            )?,
            coarse_timer: self.coarse_timer,
        })
    }
}

#[cfg(test)]
mod tests;
