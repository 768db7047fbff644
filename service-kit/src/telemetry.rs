//! The process's one Prometheus recorder, with real histogram buckets.
//!
//! Every service of a process shares it (several run in one process under
//! `geogame up` and in tests), so it is installed on first use and never
//! twice. Histograms are exported as buckets, not summaries, so that
//! Prometheus can aggregate them across processes.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets for every `*_seconds` histogram: 100 µs (a reply) to 2 min (a
/// lobby wait).
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0, 120.0,
];

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder on first use and returns its handle; `None` when
/// another recorder was installed first.
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
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

/// Histogram samples wait in per-metric buffers until an upkeep pass folds
/// them into the exported buckets. Without it they would pile up in memory
/// whenever nobody scrapes `/metrics` (about 1 MB per 100,000 replies), so a
/// background thread runs it every few seconds; a thread rather than a
/// task, because the recorder outlives any one runtime.
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

/// The metrics in Prometheus text format.
pub fn render() -> String {
    prometheus().map(|h| h.render()).unwrap_or_default()
}

/// `GET /metrics`: the rendered text with Prometheus's content type.
pub async fn metrics_handler() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_histograms_are_exported_as_buckets() {
        // Regression: the analytics service once installed a recorder of its
        // own without buckets, so its latencies came out as summaries.
        assert!(prometheus().is_some(), "the recorder installs");
        metrics::histogram!("service_kit_test_seconds").record(0.003);
        let h = prometheus().unwrap();
        h.run_upkeep();
        let text = render();
        assert!(
            text.contains("service_kit_test_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(!text.contains("quantile="), "no summaries: {text}");
    }
}
