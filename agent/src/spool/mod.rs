//! The agent's disk spool: every batch is written to an append-only log of checksummed
//! records, so a batch survives a collector outage, a slow collector and an agent restart
//! until the collector acknowledges it.
//!
//! - [`record`]: one batch framed as `len | crc32c | header | body`;
//! - [`segment`]: one segment file, scanned and cut back to its last intact record on open;
//! - [`head`]: the durable epoch / acknowledged / reserved pointer;
//! - [`log`]: the ordered segments, trimmed by acknowledgements, `max_bytes` and `max_age`;
//! - [`body`]: a batch as a self-contained protobuf body;
//! - [`writer`]: the thread that owns the log (group commit, acks, trims, replay reads).
//!
//! Only one agent may use a spool directory: it is locked (`lock`, advisory `flock`) while
//! the agent runs.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use crate::drops::Drops;

pub mod body;
pub mod head;
pub mod log;
pub mod record;
pub mod segment;
mod writer;

pub use log::{Limits, Stored};
use record::RecordHeader;

/// Checked `[spool]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SpoolSettings {
    pub dir: PathBuf,
    pub limits: Limits,
    /// Most samples per second sent while working through a backlog.
    pub catch_up_rate: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {dir}: cannot create or lock it: {source}")]
    Lock { dir: String, source: std::io::Error },
    #[error(
        "spool {0} is in use by another patrol-agent (two agents must not share a spool: give each its own state_dir)"
    )]
    Busy(String),
    #[error("spool: {0}")]
    Log(#[from] log::LogError),
    #[error("spool writer has stopped")]
    Stopped,
}

/// What the writer publishes for the agent, lock-free.
#[derive(Debug, Default)]
pub struct SpoolState {
    /// Sequence numbers below this one are durably reserved (may be sent).
    pub reserved: AtomicU64,
    /// Every record up to this sequence number is on disk (fsynced).
    pub durable_through: AtomicU64,
    /// The spool trimmed (dropped) batches up to this sequence number.
    pub dropped_through: AtomicU64,
    /// The in-memory backlog dropped batches up to this number before they reached the disk:
    /// the writer skips them, so a dropped batch never comes back.
    pub memory_dropped_through: AtomicU64,
    pub pending_batches: AtomicU64,
    pub bytes: AtomicU64,
    /// Damaged records or files cut off or removed when the spool was opened.
    pub repairs: AtomicU64,
    /// Failed writes, syncs and removals.
    pub errors: AtomicU64,
}

/// The running spool: a handle to its writer thread.
pub struct Spool {
    tx: mpsc::Sender<writer::Cmd>,
    pub state: Arc<SpoolState>,
    thread: Mutex<Option<JoinHandle<()>>>,
    epoch: u64,
    dir: PathBuf,
    // Held for the agent's life: the flock goes with the file.
    _lock: File,
}

/// Where the spool was found on open.
#[derive(Debug)]
pub struct Opened {
    pub spool: Spool,
    /// The sequence number the next batch gets.
    pub next_seq: u64,
    pub pending_batches: u64,
}

impl Spool {
    /// Locks and opens the spool, reporting repairs and drops (logged and counted), and starts
    /// its writer thread. `[send, progress]`: the first is notified (one waiter) when more may
    /// be sent (a reservation), the second (all waiters) when the spool's figures changed.
    pub fn open(
        settings: &SpoolSettings,
        drops: Arc<Drops>,
        wake: [Arc<Notify>; 2],
        now_ms: i64,
        new_epoch: impl FnOnce() -> u64,
    ) -> Result<Opened, SpoolError> {
        let lock = lock(&settings.dir)?;
        let (log, next_seq, report) =
            log::SegmentLog::open(&settings.dir, settings.limits, now_ms, new_epoch)?;
        let state = Arc::new(SpoolState::default());
        for r in &report.repairs {
            tracing::warn!(file = %r.file.display(), offset = r.offset, bytes = r.bytes,
                reason = %r.reason, "spool: cut off what could not be read (a write torn by a crash, or damage)");
        }
        state
            .repairs
            .store(report.repairs.len() as u64, Ordering::Relaxed);
        if let Some(why) = &report.lost {
            tracing::error!(dir = %settings.dir.display(), reason = %why,
                "spool: previous state lost; starting a new epoch");
        }
        for d in &report.dropped {
            writer::count_trim(&drops, d);
        }
        let epoch = log.epoch();
        state.reserved.store(log.reserved(), Ordering::Relaxed);
        let on_disk = log.pending_range().map(|(_, last)| last).unwrap_or(0);
        state.durable_through.store(on_disk, Ordering::Relaxed);
        state
            .pending_batches
            .store(report.pending_batches, Ordering::Relaxed);
        state.bytes.store(log.bytes(), Ordering::Relaxed);
        tracing::info!(dir = %settings.dir.display(), epoch, next_seq,
            pending_batches = report.pending_batches, bytes = log.bytes(), "spool opened");
        let (tx, rx) = mpsc::channel();
        let w = writer::Writer::new(log, rx, Arc::clone(&state), drops, wake);
        let thread = std::thread::Builder::new()
            .name("patrol-spool".into())
            .spawn(move || w.run())
            .map_err(|source| SpoolError::Lock {
                dir: settings.dir.display().to_string(),
                source,
            })?;
        Ok(Opened {
            spool: Spool {
                tx,
                state,
                thread: Mutex::new(Some(thread)),
                epoch,
                dir: settings.dir.clone(),
                _lock: lock,
            },
            next_seq,
            pending_batches: report.pending_batches,
        })
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Queues a framed record for writing (group-committed by the writer).
    pub fn append(&self, header: RecordHeader, frame: Vec<u8>) {
        let _ = self.tx.send(writer::Cmd::Append { header, frame });
    }

    pub fn ack(&self, seq: u64) {
        let _ = self.tx.send(writer::Cmd::Ack(seq));
    }

    pub fn set_limits(&self, limits: Limits) {
        let _ = self.tx.send(writer::Cmd::Limits(limits));
    }

    /// Up to `max` unacknowledged spooled batches above `after` and below `before`, in order.
    pub async fn read(
        &self,
        after: u64,
        before: u64,
        max: usize,
    ) -> Result<Vec<Stored>, SpoolError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(writer::Cmd::Read {
                after,
                before,
                max,
                reply,
            })
            .map_err(|_| SpoolError::Stopped)?;
        rx.await.map_err(|_| SpoolError::Stopped)
    }

    /// Writes everything queued, syncs, saves the head and stops the writer. Blocks.
    pub fn close(&self) {
        let (done, wait) = std::sync::mpsc::channel();
        if self.tx.send(writer::Cmd::Close(done)).is_ok() {
            let _ = wait.recv_timeout(Duration::from_secs(10));
        }
        if let Some(t) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.dir)
            .field("epoch", &self.epoch)
            .finish()
    }
}

fn lock(dir: &Path) -> Result<File, SpoolError> {
    let err = |source| SpoolError::Lock {
        dir: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))
        .map_err(err)?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(SpoolError::Busy(dir.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(err(e)),
    }
}

#[cfg(test)]
mod log_tests;
