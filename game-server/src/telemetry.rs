//! Prometheus metrics: one recorder per process, real histogram buckets.

use std::sync::OnceLock;

use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets for latencies in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder on first use and returns
/// its handle. Several servers in one process (tests, `geogame up`) share
/// it. `None` when another recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => {
                    spawn_upkeep(h.clone());
                    Some(h)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "prometheus recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// Histogram samples wait in per-metric buckets until an upkeep pass folds
/// them into the exported buckets. Without it they would pile up in memory
/// whenever nobody scrapes `/metrics` (about 1 MB per 100,000 replies), so
/// a background thread runs it every few seconds.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started");
    }
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Renders the metrics in Prometheus text format.
pub fn render() -> String {
    prometheus().map(|h| h.render()).unwrap_or_default()
}

/// The play message types, as `ClientMessage::kind` names them, plus
/// `invalid` for frames that do not decode.
const MESSAGE_KINDS: [&str; 11] = [
    "location",
    "catch",
    "spin",
    "attack",
    "ping",
    "collection",
    "join_session",
    "raid_catch",
    "leave_session",
    "hello",
    "invalid",
];

/// `geogame_messages_total` and `geogame_update_to_reply_seconds` of one
/// message type.
struct MessageMetrics {
    kind: &'static str,
    count: Counter,
    latency: Histogram,
}

static MESSAGES: OnceLock<Vec<MessageMetrics>> = OnceLock::new();

/// The per-message metrics, registered once. The macros build a labelled
/// key (an allocation and a registry lookup) on every call, which came to
/// about 3% of the server's CPU at saturation.
fn message_metrics(kind: &str) -> Option<&'static MessageMetrics> {
    MESSAGES
        .get_or_init(|| {
            // The recorder first, so the handles are its own.
            let _ = prometheus();
            MESSAGE_KINDS
                .iter()
                .map(|&kind| MessageMetrics {
                    kind,
                    count: metrics::counter!("geogame_messages_total", "type" => kind),
                    latency: metrics::histogram!("geogame_update_to_reply_seconds", "type" => kind),
                })
                .collect()
        })
        .iter()
        .find(|m| m.kind == kind)
}

/// Counts one play message of type `kind`.
pub(crate) fn count_message(kind: &'static str) {
    match message_metrics(kind) {
        Some(m) => m.count.increment(1),
        None => metrics::counter!("geogame_messages_total", "type" => kind).increment(1),
    }
}

/// Records how long a play message of type `kind` took to answer.
pub(crate) fn record_reply(kind: &'static str, seconds: f64) {
    match message_metrics(kind) {
        Some(m) => m.latency.record(seconds),
        None => {
            metrics::histogram!("geogame_update_to_reply_seconds", "type" => kind).record(seconds)
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::play::ClientMessage;

    use super::*;

    #[test]
    fn every_play_message_type_has_registered_metrics() {
        let frames = [
            r#"{"type":"hello","token":"t"}"#,
            r#"{"type":"location","seq":1,"lat":1.0,"lon":2.0}"#,
            r#"{"type":"catch","seq":1,"creature_id":"c"}"#,
            r#"{"type":"spin","seq":1,"poi_id":"p"}"#,
            r#"{"type":"collection","seq":1}"#,
            r#"{"type":"join_session","seq":1,"session_token":"t"}"#,
            r#"{"type":"attack","seq":1}"#,
            r#"{"type":"raid_catch","seq":1}"#,
            r#"{"type":"leave_session","seq":1}"#,
            r#"{"type":"ping","seq":1}"#,
        ];
        for f in frames {
            let kind = ClientMessage::decode(f).unwrap().kind();
            assert!(message_metrics(kind).is_some(), "{kind} is not registered");
        }
        assert!(message_metrics("invalid").is_some());
        assert!(message_metrics("unheard_of").is_none());
    }
}
