//! Sample history: every sample the collector accepts, kept on local disk, queryable, and
//! forwarded to the TSDB a site already runs.
//!
//! - A write-ahead log ([`wal`]) takes each accepted sample first; a batch is acknowledged only
//!   once its samples are durable there (one fdatasync per group of requests).
//! - Each series fills a raw chunk (Gorilla encoding, [`codec`]) and a 1-minute aggregate chunk
//!   (min, max, sum, count, last) in memory ([`series`]); sealed chunks go to a SQLite
//!   database beside the incident store ([`chunks`]). A checkpoint seals what is old enough,
//!   removes log segments nothing needs any more, and applies retention and the disk cap.
//! - [`read`] returns a series' samples or minutes over a range; [`query`] evaluates the
//!   Prometheus-compatible subset; [`remote`] follows the log to Prometheus remote-write
//!   endpoints.
//!
//! Must never depend on: the incident store, the site, the channels or the collector. It
//! stores what it is given; the collector decides what to give it.

pub mod chunks;
pub mod codec;
pub mod config;
mod maintain;
mod open;
pub mod query;
pub mod read;
pub mod remote;
pub mod series;
pub mod stats;
pub mod wal;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use patrol_proto::Labels;
use tokio::sync::{mpsc, oneshot, watch};

pub use config::{HistoryConfig, QueryLimits, RemoteWriteConfig};
pub use wal::Pos;
pub use wal::record::Mark;

/// Requests that may wait for the log writer before appends are held back.
const QUEUE: usize = 1024;

/// One sample for [`History::append`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Series id from [`History::series`].
    pub series: u32,
    /// Milliseconds since the epoch.
    pub ts: i64,
    /// The value.
    pub value: f64,
}

/// Errors of the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// A file could not be created, read or written.
    #[error("history: {0}")]
    Io(#[from] std::io::Error),
    /// The chunk database failed.
    #[error("history chunk database: {0}")]
    Db(#[from] rusqlite::Error),
    /// The log writer is gone (the history is closing or it failed).
    #[error("history log writer is not running")]
    Closed,
    /// Writing the log failed; nothing of the request was kept.
    #[error("history log write failed: {0}")]
    Write(String),
    /// The configuration cannot work.
    #[error("{0}")]
    Config(String),
}

/// What a durable append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Appended {
    /// Samples kept.
    pub kept: usize,
    /// Samples dropped as not newer than their series' last one (a resent batch).
    pub older: usize,
}

pub(crate) enum Request {
    Append {
        samples: Vec<Sample>,
        mark: Option<Mark>,
        reply: oneshot::Sender<Result<Appended, HistoryError>>,
    },
    /// Start a new segment; answers with its index once every earlier request is applied.
    Rotate {
        reply: oneshot::Sender<Result<u64, HistoryError>>,
    },
}

/// What the threads and readers share.
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub wal_dir: PathBuf,
    pub db_path: PathBuf,
    pub cfg: HistoryConfig,
    pub table: RwLock<series::Table>,
    /// Series added since the writer last wrote definitions to the log.
    pub pending: Mutex<Vec<u32>>,
    /// Read connection to the chunk database.
    pub reader: Mutex<rusqlite::Connection>,
    pub stats: stats::Stats,
    /// Where the durable end of the log is (remote-write follows it).
    pub durable: watch::Sender<Pos>,
    /// The oldest segment each remote-write endpoint still needs, by name.
    pub floors: Mutex<std::collections::BTreeMap<String, u64>>,
    /// The newest durable mark of each source.
    pub marks: Mutex<std::collections::BTreeMap<String, (u64, u64)>>,
    /// Series removed by the last removal pass, kept until the next one: a sample that was
    /// already on its way (its sender had not seen the removal yet) brings its series back
    /// instead of being lost. Their definitions leave the database with the next pass.
    pub limbo: Mutex<Vec<Arc<series::Entry>>>,
    /// Bumped by every removal pass ([`History::removals`]).
    pub removals: std::sync::atomic::AtomicU64,
}

/// Records a durable mark: a later sequence of the same epoch, or any mark of a new epoch.
pub(crate) fn note_mark(marks: &mut std::collections::BTreeMap<String, (u64, u64)>, m: &Mark) {
    let e = marks.entry(m.source.clone()).or_insert((m.epoch, m.seq));
    if e.0 != m.epoch || e.1 < m.seq {
        *e = (m.epoch, m.seq);
    }
}

impl Shared {
    pub(crate) fn table(&self) -> std::sync::RwLockReadGuard<'_, series::Table> {
        self.table.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn sizes(&self) -> series::ChunkSizes {
        series::ChunkSizes {
            samples: self.cfg.chunk_samples,
            minutes: self.cfg.chunk_minutes,
        }
    }
}

/// Samples queued by [`History::submit`]; resolves once they are durable (or refused).
pub struct Pending(oneshot::Receiver<Result<Appended, HistoryError>>);

impl std::future::Future for Pending {
    type Output = Result<Appended, HistoryError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(HistoryError::Closed)))
    }
}

/// The history. Cheap to clone; the threads stop when the last clone is dropped, after
/// writing what is queued and flushing sealed chunks.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    maintainer: Option<(std::sync::mpsc::Sender<maintain::Wake>, JoinHandle<()>)>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The maintainer first: it holds a sender of the writer's queue (for rotations), so
        // the writer only sees its queue close once the maintainer is gone.
        if let Some((tx, h)) = self.maintainer.take() {
            let _ = tx.send(maintain::Wake::Stop);
            if h.join().is_err() {
                tracing::error!("history maintenance thread panicked");
            }
        }
        self.requests = None;
        if let Some(h) = self.writer.take()
            && h.join().is_err()
        {
            tracing::error!("history log writer panicked");
        }
    }
}

impl History {
    /// Opens (creating) the history in `dir`: loads the series and replays the log (damaged
    /// records are skipped, counted and logged with their file and offset), then starts the log
    /// writer and the maintenance thread.
    pub fn open(dir: &Path, cfg: HistoryConfig) -> Result<History, HistoryError> {
        let problems = cfg.check();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Err(HistoryError::Config(text.join("; ")));
        }
        let opened = open::open(dir, cfg)?;
        let shared = opened.shared;
        let (tx, rx) = mpsc::channel(QUEUE);
        let (wake_tx, wake_rx) = std::sync::mpsc::channel();
        let writer = {
            let shared = Arc::clone(&shared);
            let wake = wake_tx.clone();
            let appender = opened.appender;
            let last = opened.last_ts;
            std::thread::Builder::new()
                .name("patrol-history-wal".into())
                .spawn(move || writer::run(shared, rx, appender, last, wake))?
        };
        let maintainer = {
            let shared = Arc::clone(&shared);
            let requests = tx.clone();
            let db = opened.db;
            std::thread::Builder::new()
                .name("patrol-history-chunks".into())
                .spawn(move || maintain::run(shared, db, requests, wake_rx))?
        };
        Ok(History {
            inner: Arc::new(Inner {
                shared,
                requests: Some(tx),
                writer: Some(writer),
                maintainer: Some((wake_tx, maintainer)),
            }),
        })
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The id of series (name, labels), created when new. Call before appending its samples.
    pub fn series(&self, name: &str, labels: &Labels) -> u32 {
        let shared = &self.inner.shared;
        if let Some(id) = shared.table().find(name, labels) {
            return id;
        }
        let mut table = shared.table.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = table.find(name, labels) {
            return id;
        }
        let id = table.add(name, labels);
        shared.stats.series.set(table.live() as u64);
        // Pushed while the table is locked, so definitions reach the log in id order.
        shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
        id
    }

    /// Appends samples; returns once they are durable in the log. Samples not newer than their
    /// series' last one are dropped (that is what makes a resent batch harmless).
    pub async fn append(&self, samples: Vec<Sample>) -> Result<Appended, HistoryError> {
        self.submit(samples, None).await?.await
    }

    /// Queues samples for the log and returns what to await for their durability. Requests
    /// are written in the order they are queued, so a caller that must keep its own order
    /// queues in that order and awaits later.
    /// With a `mark`, the batch's position is logged with its samples ([`History::marks`]).
    pub async fn submit(
        &self,
        samples: Vec<Sample>,
        mark: Option<Mark>,
    ) -> Result<Pending, HistoryError> {
        let requests = self.inner.requests.as_ref().ok_or(HistoryError::Closed)?;
        let (reply, rx) = oneshot::channel();
        requests
            .send(Request::Append {
                samples,
                mark,
                reply,
            })
            .await
            .map_err(|_| HistoryError::Closed)?;
        Ok(Pending(rx))
    }

    /// Seals everything, writes it to the chunk database and removes log segments nothing
    /// needs, now (normally done every `checkpoint_interval`). Returns when done.
    pub fn checkpoint(&self) -> Result<(), HistoryError> {
        let Some((tx, _)) = &self.inner.maintainer else {
            return Err(HistoryError::Closed);
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        tx.send(maintain::Wake::Checkpoint(done_tx))
            .map_err(|_| HistoryError::Closed)?;
        done_rx.recv().map_err(|_| HistoryError::Closed)?
    }

    /// The newest durable mark of each source (what the history holds of each agent).
    pub fn marks(&self) -> Vec<Mark> {
        self.inner
            .shared
            .marks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(source, &(epoch, seq))| Mark {
                source: source.clone(),
                epoch,
                seq,
            })
            .collect()
    }

    /// The figures the history keeps.
    pub fn stats(&self) -> &stats::Stats {
        &self.inner.shared.stats
    }

    /// The configuration in force.
    pub fn config(&self) -> &HistoryConfig {
        &self.inner.shared.cfg
    }

    /// The directory the history lives in.
    pub fn dir(&self) -> &Path {
        &self.inner.shared.dir
    }

    /// How many removal passes removed series so far. A caller that keeps series ids looks
    /// them up again ([`History::series`]) when this changed since it got them: a removed
    /// series' id is never reused, and samples sent with it are not kept once the series has
    /// been gone for a whole checkpoint interval.
    pub fn removals(&self) -> u64 {
        self.inner
            .shared
            .removals
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Series known, and the bytes their in-memory chunks hold.
    pub fn memory(&self) -> (usize, usize) {
        let table = self.inner.shared.table();
        let bytes = table.all().map(|e| e.head().bytes()).sum();
        (table.live(), bytes)
    }
}
