//! Patrol's host agent: runs probes on their intervals, keeps their samples in numbered batches
//! (in memory and in the disk spool) until the collector acknowledges them, and streams them
//! over gRPC. A reload swaps probes and settings without touching the backlog.
//!
//! The same code runs as the `patrol-agent` daemon and inside `patrol-collector --local-agent`.
//! Never depends on the collector.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patrol_proto::Sample;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub mod config;
pub mod docs;
pub mod drops;
pub mod inventory;
pub mod logging;
pub mod outbox;
mod probes;
pub mod scheduler;
pub mod spool;
pub mod stream;
pub mod telemetry;

pub use config::{AgentConfig, ConfigError, Settings};
use drops::{DropReason, Drops};
use outbox::Outbox;
use spool::Spool;
use spool::record::RecordHeader;

/// State shared by the probe tasks and the stream task.
pub struct Shared {
    pub(crate) outbox: Mutex<Outbox>,
    /// Wakes the stream task when a new batch is queued or more may be sent.
    pub(crate) notify: Arc<Notify>,
    /// Wakes everyone waiting in [`Agent::wait_for`]: something in the stats changed.
    pub(crate) progress: Arc<Notify>,
    pub(crate) stats: Stats,
    /// Sequence numbers are unique within an epoch; the spool keeps it across restarts.
    pub(crate) epoch: u64,
    pub(crate) drops: Arc<Drops>,
    pub(crate) spool: Option<Spool>,
    pub(crate) reload_failures: AtomicU64,
    /// The inventory's latest facts, for the stream to send.
    pub(crate) facts: Mutex<inventory::Slot>,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub connected: AtomicBool,
    pub connects: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batches_acked: AtomicU64,
    /// Batches and samples queued by this process.
    pub batches_queued: AtomicU64,
    pub samples_queued: AtomicU64,
}

impl Shared {
    /// Queues one round from `source` (a probe's type, or `agent` for its own counters):
    /// non-finite values are dropped and counted, the rest become numbered batches, written
    /// to the spool and kept in memory within its bound.
    pub(crate) fn push(&self, source: &str, mut samples: Vec<Sample>) {
        self.drops.keep_finite(source, &mut samples);
        if samples.is_empty() {
            return;
        }
        let Ok(mut o) = self.outbox.lock() else {
            return;
        };
        let on_disk = match &self.spool {
            Some(spool) => {
                o.prune_through(spool.state.dropped_through.load(Ordering::Relaxed));
                spool.state.durable_through.load(Ordering::Relaxed)
            }
            None => 0,
        };
        let created_ms = patrol_proto::model::now_ms();
        let mut body = Vec::new();
        for seq in o.push(&samples) {
            let Some(batch) = o.get(seq) else { continue };
            let points = batch.points.len();
            tracing::debug!(seq, points, source, "batch queued");
            self.stats.batches_queued.fetch_add(1, Ordering::Relaxed);
            self.stats
                .samples_queued
                .fetch_add(points as u64, Ordering::Relaxed);
            if let Some(spool) = &self.spool {
                spool::body::encode(batch, o.interner(), &mut body);
                let header = RecordHeader {
                    epoch: self.epoch,
                    seq,
                    created_ms,
                    points: points as u32,
                };
                let mut frame = Vec::with_capacity(spool::record::framed_len(body.len()));
                spool::record::encode(&header, &body, &mut frame);
                spool.append(header, frame);
            }
        }
        let shed = o.bound(on_disk);
        drop(o);
        if shed.dropped_batches > 0 {
            self.drops.count(
                DropReason::BacklogFull,
                shed.dropped_points,
                shed.dropped_batches,
            );
            if let Some(spool) = &self.spool {
                spool
                    .state
                    .memory_dropped_through
                    .fetch_max(shed.dropped_through, Ordering::Relaxed);
            }
        }
        self.notify.notify_one();
        self.progress.notify_waiters();
    }

    /// Applies a cumulative acknowledgement to memory and spool.
    pub(crate) fn ack(&self, seq: u64) -> usize {
        let n = self.outbox.lock().map(|mut o| o.ack(seq)).unwrap_or(0);
        if let Some(spool) = &self.spool {
            spool.ack(seq);
        }
        n
    }
}

/// A point-in-time view of the agent's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStats {
    pub connected: bool,
    pub connects: u64,
    pub batches_sent: u64,
    pub batches_acked: u64,
    /// Unacknowledged batches in memory.
    pub pending_batches: usize,
    pub pending_points: usize,
    /// Points dropped because memory was full and they were not on disk.
    pub dropped_points: u64,
    pub next_seq: u64,
    /// Unacknowledged batches in the spool (0 without one).
    pub spool_pending_batches: u64,
    /// Samples dropped for any reason (`patrol_agent_dropped_samples_total`, all reasons).
    pub dropped_samples: u64,
    /// How many times the inventory's facts changed (0: none gathered yet).
    pub facts_changes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Probe(#[from] patrol_probes::ProbeError),
    #[error(transparent)]
    Spool(#[from] spool::SpoolError),
}

/// Why a reload was refused (the agent keeps running on what it had).
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0} cannot change while the agent runs: restart it to apply")]
    NeedsRestart(&'static str),
    #[error("probe '{kind}': {error}")]
    Probe {
        kind: &'static str,
        error: patrol_probes::ProbeError,
    },
}

/// What a successful reload changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloaded {
    pub probes_added: usize,
    pub probes_removed: usize,
    pub probes_kept: usize,
    /// The collector connection settings changed: the stream reconnects.
    pub reconnect: bool,
}

/// A running agent. Dropping it does not stop the tasks: call [`Agent::shutdown`].
pub struct Agent {
    shared: Arc<Shared>,
    settings: watch::Sender<Arc<Settings>>,
    shutdown: watch::Sender<bool>,
    probes: Mutex<probes::Running>,
    stream_task: Option<JoinHandle<()>>,
    telemetry_task: Option<JoinHandle<()>>,
    inventory_task: Option<JoinHandle<()>>,
}

impl Agent {
    /// Opens the spool, builds every probe (failing on a bad probe config) and starts probes
    /// and stream.
    pub fn start(settings: Settings) -> Result<Agent, AgentError> {
        let ctx = patrol_probes::BuildContext::new(&settings.state_dir);
        let built = scheduler::build_all(&settings.probes, &ctx)?;
        let drops = Arc::new(Drops::default());
        let notify = Arc::new(Notify::new());
        let progress = Arc::new(Notify::new());
        let (spool, epoch, next_seq) = match &settings.spool {
            Some(s) => {
                let opened = Spool::open(
                    s,
                    Arc::clone(&drops),
                    [Arc::clone(&notify), Arc::clone(&progress)],
                    patrol_proto::model::now_ms(),
                    new_epoch,
                )?;
                let epoch = opened.spool.epoch();
                (Some(opened.spool), epoch, opened.next_seq)
            }
            None => (None, new_epoch(), 1),
        };
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::starting_at(
                settings.batch.max_points,
                settings.batch.max_pending_points,
                next_seq,
            )),
            notify,
            progress,
            stats: Stats::default(),
            epoch,
            drops,
            spool,
            reload_failures: AtomicU64::new(0),
            facts: Mutex::default(),
        });
        let (shutdown, rx) = watch::channel(false);
        let running =
            probes::Running::start(settings.probes.iter().cloned().zip(built), &shared, &rx);
        let settings = Arc::new(settings);
        let (settings_tx, settings_rx) = watch::channel(Arc::clone(&settings));
        let inventory_task = Some(tokio::spawn(inventory::run(
            settings_rx.clone(),
            Arc::clone(&shared),
            rx.clone(),
        )));
        let stream_task = tokio::spawn(stream::run(settings_rx, Arc::clone(&shared), rx.clone()));
        let telemetry_task = settings
            .self_metrics
            .then(|| tokio::spawn(report_self(Arc::clone(&shared), rx)));
        Ok(Agent {
            shared,
            settings: settings_tx,
            shutdown,
            probes: Mutex::new(running),
            stream_task: Some(stream_task),
            telemetry_task,
            inventory_task,
        })
    }

    /// Queues samples as if a probe had produced them (used by the collector's own checks and
    /// by tests that need exact, known samples).
    pub fn push(&self, samples: &[Sample]) {
        self.shared.push("push", samples.to_vec());
    }

    /// The batch-numbering epoch (kept across restarts by the spool).
    pub fn epoch(&self) -> u64 {
        self.shared.epoch
    }

    /// The inventory's latest facts, as the stream sends them (`None` before the first
    /// gathering, or with `[inventory] enabled = false`).
    pub fn facts(&self) -> Option<Arc<patrol_proto::v1::Facts>> {
        self.shared.facts_after(0).map(|(_, f)| f)
    }

    /// Applies new settings without a restart: probes that changed are rebuilt (unchanged
    /// ones keep running, with their state), limits take effect, and the stream reconnects
    /// only when the connection settings changed. The backlog (memory and spool) is kept.
    /// On error nothing changed.
    pub fn reload(&self, new: Settings) -> Result<Reloaded, ReloadError> {
        let result = self.try_reload(new);
        if result.is_err() {
            self.count_reload_failure();
        }
        self.report_now();
        result
    }

    fn try_reload(&self, new: Settings) -> Result<Reloaded, ReloadError> {
        let old = self.settings.borrow().clone();
        if new.agent_id != old.agent_id {
            return Err(ReloadError::NeedsRestart("agent_id"));
        }
        if new.state_dir != old.state_dir {
            return Err(ReloadError::NeedsRestart("state_dir"));
        }
        if new.spool.as_ref().map(|s| &s.dir) != old.spool.as_ref().map(|s| &s.dir) {
            return Err(ReloadError::NeedsRestart("[spool] enabled and dir"));
        }
        let ctx = patrol_probes::BuildContext::new(&new.state_dir);
        let Ok(mut running) = self.probes.lock() else {
            return Err(ReloadError::NeedsRestart("probes (internal lock poisoned)"));
        };
        let (probes_added, probes_removed, probes_kept) =
            running.apply(&new.probes, &ctx, &self.shared, &self.shutdown.subscribe())?;
        if let Ok(mut o) = self.shared.outbox.lock() {
            o.set_limits(new.batch.max_points, new.batch.max_pending_points);
        }
        if let (Some(spool), Some(s)) = (&self.shared.spool, &new.spool) {
            spool.set_limits(s.limits);
        }
        let reconnect = old.connection_differs(&new);
        self.settings.send_replace(Arc::new(new));
        Ok(Reloaded {
            probes_added,
            probes_removed,
            probes_kept,
            reconnect,
        })
    }

    /// Counts a reload that failed before it reached [`Agent::reload`] (a config file that
    /// does not parse or check).
    pub fn count_reload_failure(&self) {
        self.shared.reload_failures.fetch_add(1, Ordering::Relaxed);
        self.report_now();
    }

    /// Queues the agent's own counters at once (when it reports them).
    fn report_now(&self) {
        if self.settings.borrow().self_metrics {
            self.shared.push("agent", telemetry::samples(&self.shared));
        }
    }

    pub fn stats(&self) -> AgentStats {
        let s = &self.shared.stats;
        let (pending_batches, pending_points, dropped_points, next_seq) = self
            .shared
            .outbox
            .lock()
            .map(|o| {
                (
                    o.pending_batches(),
                    o.pending_points(),
                    o.dropped_points(),
                    o.next_seq(),
                )
            })
            .unwrap_or_default();
        AgentStats {
            connected: s.connected.load(Ordering::Relaxed),
            connects: s.connects.load(Ordering::Relaxed),
            batches_sent: s.batches_sent.load(Ordering::Relaxed),
            batches_acked: s.batches_acked.load(Ordering::Relaxed),
            pending_batches,
            pending_points,
            dropped_points,
            next_seq,
            spool_pending_batches: self
                .shared
                .spool
                .as_ref()
                .map(|s| s.state.pending_batches.load(Ordering::Relaxed))
                .unwrap_or(0),
            dropped_samples: self.shared.drops.total(),
            facts_changes: self.shared.facts.lock().map(|f| f.generation).unwrap_or(0),
        }
    }

    /// Waits until `done` holds for the agent's stats (checked at each connect, ack,
    /// disconnect and queued round), or `within` passes; returns whether it held.
    pub async fn wait_for(
        &self,
        within: Duration,
        mut done: impl FnMut(&AgentStats) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            // Registered before the check, so a change between check and wait is not missed.
            let changed = self.shared.progress.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.stats()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.stats());
            }
        }
    }

    /// Stops the probes, gives the stream up to `drain` to deliver what is pending, then stops.
    /// With the spool, what is still unacknowledged stays on disk for the next start (the drain
    /// only waits while the collector is connected); without it, it is dropped and counted.
    pub async fn shutdown(mut self, drain: Duration) {
        let deadline = tokio::time::Instant::now() + drain;
        // Probes first, so nothing new is queued while draining.
        if let Ok(mut running) = self.probes.lock() {
            running.stop_all();
        }
        if let Some(t) = self.telemetry_task.take() {
            t.abort();
        }
        if let Some(t) = self.inventory_task.take() {
            t.abort();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let spooled = self.shared.spool.is_some();
        self.wait_for(left, |s| {
            s.pending_batches == 0 && s.spool_pending_batches == 0 || (spooled && !s.connected)
        })
        .await;
        let _ = self.shutdown.send(true);
        if let Some(t) = self.stream_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
        let stats = self.stats();
        let unacked = stats.pending_batches as u64;
        if !spooled && unacked > 0 {
            self.shared
                .drops
                .count(DropReason::Shutdown, stats.pending_points as u64, unacked);
        }
        let shared = Arc::clone(&self.shared);
        let _ = tokio::task::spawn_blocking(move || {
            if let Some(spool) = &shared.spool {
                spool.close();
            }
        })
        .await;
        let stats = self.stats();
        let s = &self.shared.stats;
        tracing::info!(
            epoch = self.shared.epoch,
            queued_batches = s.batches_queued.load(Ordering::Relaxed),
            queued_samples = s.samples_queued.load(Ordering::Relaxed),
            acked_batches = stats.batches_acked,
            unacked_in_memory = stats.pending_batches,
            kept_in_spool = stats.spool_pending_batches,
            dropped_samples = stats.dropped_samples,
            "patrol-agent stopped"
        );
    }
}

/// Reports the agent's own counters every [`telemetry::EVERY`].
async fn report_self(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(telemetry::EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        shared.push("agent", telemetry::samples(&shared));
    }
}

/// Collects one round of every probe (for `--once`), with the agent's labels added. Saved
/// probe state (log positions) is read from `state_dir` but never written, so a `--once`
/// run beside the running agent neither consumes nor double-counts its log records.
pub async fn collect_once(settings: &Settings) -> Result<Vec<Sample>, AgentError> {
    let ctx = patrol_probes::BuildContext {
        state_dir: settings.state_dir.clone(),
        persist_state: false,
    };
    let probes = scheduler::build_all(&settings.probes, &ctx)?;
    let drops = Drops::default();
    let rounds = probes
        .into_iter()
        .map(|(kind, interval, mut probe)| async move {
            let mut failures = 0;
            let round =
                scheduler::collect_round(kind, interval, probe.as_mut(), &mut failures).await;
            (kind, round)
        });
    let mut all = Vec::new();
    for (kind, mut round) in futures::future::join_all(rounds).await {
        drops.keep_finite(kind, &mut round);
        all.extend(round);
    }
    for s in &mut all {
        s.labels.merge_missing(&settings.labels);
    }
    Ok(all)
}

/// A new batch-numbering epoch: the time in milliseconds, so a later epoch is a larger number
/// (the collector keeps the newest (epoch, seq) per agent). Never 0 (the collector reads 0 as
/// "no epoch recorded"), and within 63 bits for the collector's SQLite integer.
fn new_epoch() -> u64 {
    (patrol_proto::model::now_ms().max(1) as u64) & (i64::MAX as u64)
}
