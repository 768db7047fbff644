//! [`EventSink`]: the game's non-blocking handle for best-effort events.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::event::Event;
use tokio::sync::mpsc;

/// Counter of events the sink had to drop (queue full or pipeline stopped).
pub const DROPPED_METRIC: &str = "geogame_events_dropped_total";

/// Where game code sends best-effort events (location and latency samples,
/// spawns, despawns, protocol errors, session start and end).
///
/// [`EventSink::emit`] never blocks and never fails: it puts the event in a
/// bounded queue, and when the queue is full (the writer cannot keep up, or
/// the backend is down) the event is dropped and counted in
/// `geogame_events_dropped_total`, so the game loop is never slowed down
/// by analytics. Events a player was told about (catch, spin, match) do
/// NOT go through here: they go through the SQL outbox (see the crate
/// docs), which loses nothing.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Event>,
    dropped: Arc<AtomicU64>,
}

impl EventSink {
    /// A sink with a queue of `capacity` events, and the receiving end of
    /// that queue. The pipelines use this; tests of code that emits events
    /// can use it to see what was emitted.
    pub fn bounded(capacity: usize) -> (EventSink, mpsc::Receiver<Event>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (
            EventSink {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    /// Queues `e` for the pipeline, or drops and counts it when the queue
    /// is full or the pipeline has stopped.
    pub fn emit(&self, e: Event) {
        if self.tx.try_send(e).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(DROPPED_METRIC).increment(1);
        }
    }

    /// How many events this sink (and its clones) dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The shared drop counter, so that the pipeline can also count events
    /// lost after they were queued (a batch still unwritten at the shutdown
    /// deadline).
    pub(crate) fn dropped_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::event::EventKind;

    fn ev(i: u32) -> Event {
        Event::new(format!("e{i}"), 0, EventKind::Location, "s".into())
    }

    #[test]
    fn full_queue_drops_and_counts() {
        let (sink, mut rx) = EventSink::bounded(2);
        for i in 0..5 {
            sink.emit(ev(i));
        }
        assert_eq!(sink.dropped(), 3);
        assert_eq!(rx.try_recv().unwrap().event_id, "e0");
        assert_eq!(rx.try_recv().unwrap().event_id, "e1");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn clones_share_the_counter_and_closed_queue_counts() {
        let (sink, rx) = EventSink::bounded(4);
        let other = sink.clone();
        drop(rx);
        sink.emit(ev(1));
        other.emit(ev(2));
        assert_eq!(sink.dropped(), 2);
        assert_eq!(other.dropped(), 2);
    }
}
