//! The play loop's own metrics, registered once on the process's recorder
//! (`service_kit::telemetry`).

use std::sync::OnceLock;

use metrics::{Counter, Histogram};

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
            let _ = service_kit::telemetry::prometheus();
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
