//! Batched reads and writes for arrivals: group commit for sign-ins, and
//! one read for many players' standing.
//!
//! A storm of arrivals (an event starting, a server restarting behind the
//! balancer) asks the same small questions thousands of times a second:
//! "which player is this device?" and "may this player play?". Asked one
//! by one, each first sign-in is its own durable transaction (one sync to
//! disk in SQLite's WAL with `synchronous=FULL`, one commit on
//! PostgreSQL: about 550 a second on a small machine), and every question
//! is a round trip to a database connection (on SQLite a hop to its
//! worker thread and back). [`Arrivals`] queues them instead, and one task
//! per kind answers what has queued with a few set-based statements:
//! while one batch runs, the next gathers, so under load a batch holds
//! everything that arrived meanwhile, and when idle a batch is one
//! request with no added wait. A caller is answered only once its batch is
//! done, a sign-in only once its new player is durable.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use crate::db::Db;
use crate::error::StoreError;
use crate::strikes::StrikeRow;

/// The most requests one batch answers, so that one transaction stays
/// short (a few milliseconds) and the SQLite writer is soon free for
/// catches.
const MAX_BATCH: usize = 1024;

/// One waiting request: its key, and where its answer goes.
type Waiting<K, V> = (K, oneshot::Sender<Result<V, StoreError>>);

/// A queue of requests answered in batches by one task.
struct Batcher<K, V> {
    queue: mpsc::UnboundedSender<Waiting<K, V>>,
    batches: Arc<AtomicU64>,
}

impl<K, V> Clone for Batcher<K, V> {
    fn clone(&self) -> Self {
        Batcher {
            queue: self.queue.clone(),
            batches: self.batches.clone(),
        }
    }
}

impl<K: Send + 'static, V: Send + 'static> Batcher<K, V> {
    /// Starts the task, which answers each batch of keys with `answer`
    /// (one value per key, in order) and ends with the last clone.
    fn start<F, Fut>(name: &'static str, mut answer: F) -> Self
    where
        F: FnMut(Vec<K>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<V>, StoreError>> + Send,
    {
        let (queue, mut rx) = mpsc::unbounded_channel::<Waiting<K, V>>();
        let batches = Arc::new(AtomicU64::new(0));
        let counted = batches.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let (keys, answers): (Vec<K>, Vec<_>) = batch.drain(..).unzip();
                let n = keys.len();
                metrics::histogram!("geogame_store_batch_size", "kind" => name).record(n as f64);
                let result = answer(keys).await;
                counted.fetch_add(1, Ordering::Relaxed);
                match result {
                    Ok(values) if values.len() == n => {
                        for (to, v) in answers.into_iter().zip(values) {
                            // A caller that gave up (its request was
                            // dropped) is fine: the work is done.
                            let _ = to.send(Ok(v));
                        }
                    }
                    Ok(_) => {
                        let e = StoreError::Corrupt(format!("a {name} batch lost answers"));
                        answers
                            .into_iter()
                            .for_each(|to| drop(to.send(Err(e.clone()))));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, batch = n, "{name} batch failed");
                        answers
                            .into_iter()
                            .for_each(|to| drop(to.send(Err(e.clone()))));
                    }
                }
            }
        });
        Batcher { queue, batches }
    }

    /// Queues `key` and waits for its answer.
    async fn call(&self, key: K) -> Result<V, StoreError> {
        let stopped = || StoreError::Unavailable("the store's batch task has stopped".into());
        let (to, answered) = oneshot::channel();
        self.queue.send((key, to)).map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

/// The batched arrival paths of one server. Cloning shares the queues.
#[derive(Clone)]
pub struct Arrivals {
    sign_ins: Batcher<String, String>,
    standings: Batcher<String, (Vec<StrikeRow>, bool)>,
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals").finish_non_exhaustive()
    }
}

impl Arrivals {
    /// Starts the batch tasks on the current Tokio runtime.
    pub fn start(db: Db) -> Arrivals {
        let for_sign_ins = db.clone();
        Arrivals {
            sign_ins: Batcher::start("sign_in", move |devices: Vec<String>| {
                let db = for_sign_ins.clone();
                async move { db.players_for_devices(&devices).await }
            }),
            standings: Batcher::start("standing", move |players: Vec<String>| {
                let db = db.clone();
                async move { db.standing_facts_of(&players).await }
            }),
        }
    }

    /// The player id of `device_id`, created on first sight (as
    /// [`Db::player_for_device`], batched with other sign-ins).
    pub async fn player_for_device(&self, device_id: &str) -> Result<String, StoreError> {
        self.sign_ins.call(device_id.to_owned()).await
    }

    /// `player_id`'s strikes and whether it was erased (as
    /// [`Db::standing_facts`], batched with other arrivals).
    pub async fn standing_facts(
        &self,
        player_id: &str,
    ) -> Result<(Vec<StrikeRow>, bool), StoreError> {
        self.standings.call(player_id.to_owned()).await
    }

    /// Sign-in batches written so far.
    pub fn sign_in_batches(&self) -> u64 {
        self.sign_ins.batches.load(Ordering::Relaxed)
    }

    /// Standing batches read so far.
    pub fn standing_batches(&self) -> u64 {
        self.standings.batches.load(Ordering::Relaxed)
    }
}
