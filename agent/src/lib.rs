//! Patrol's host agent: runs probes on their intervals, keeps their samples in numbered batches
//! until the collector acknowledges them, and streams them over gRPC.
//!
//! The same code runs as the `patrol-agent` daemon and inside `patrol-collector --local-agent`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use patrol_proto::Sample;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub mod config;
pub mod outbox;
pub mod scheduler;
pub mod stream;

pub use config::{AgentConfig, ConfigError, Settings};
use outbox::Outbox;

/// State shared by the probe tasks and the stream task.
pub struct Shared {
    pub(crate) outbox: Mutex<Outbox>,
    /// Wakes the stream task when a new batch is queued.
    pub(crate) notify: Notify,
    /// Wakes everyone waiting in [`Agent::wait_for`]: something in the stats changed.
    pub(crate) progress: Notify,
    pub(crate) stats: Stats,
    /// Sequence numbers restart with each epoch (a restarted agent has a new one).
    pub(crate) epoch: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub connected: AtomicBool,
    pub connects: AtomicU64,
    pub batches_sent: AtomicU64,
    pub batches_acked: AtomicU64,
}

impl Shared {
    fn push(&self, samples: &[Sample]) {
        if samples.is_empty() {
            return;
        }
        if let Ok(mut o) = self.outbox.lock() {
            o.push(samples);
        }
        self.notify.notify_one();
        self.progress.notify_waiters();
    }
}

/// A point-in-time view of the agent's delivery state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentStats {
    pub connected: bool,
    pub connects: u64,
    pub batches_sent: u64,
    pub batches_acked: u64,
    pub pending_batches: usize,
    pub pending_points: usize,
    pub dropped_points: u64,
    pub next_seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(transparent)]
    Probe(#[from] patrol_probes::ProbeError),
}

/// A running agent. Dropping it does not stop the tasks: call [`Agent::shutdown`].
pub struct Agent {
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Agent {
    /// Builds every probe (failing on a bad probe config) and starts probes and stream.
    pub fn start(settings: Settings) -> Result<Agent, AgentError> {
        let ctx = patrol_probes::BuildContext::new(&settings.state_dir);
        let probes = scheduler::build_all(&settings.probes, &ctx)?;
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(
                settings.batch.max_points,
                settings.batch.max_pending_points,
            )),
            notify: Notify::new(),
            progress: Notify::new(),
            stats: Stats::default(),
            epoch: new_epoch(),
        });
        let (shutdown, rx) = watch::channel(false);
        let mut tasks = Vec::new();
        for (kind, interval, probe) in probes {
            tasks.push(tokio::spawn(scheduler::run_probe(
                kind,
                interval,
                probe,
                Arc::clone(&shared),
                rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(stream::run(
            Arc::new(settings),
            Arc::clone(&shared),
            rx,
        )));
        Ok(Agent {
            shared,
            shutdown,
            tasks,
        })
    }

    /// Queues samples as if a probe had produced them (used by the collector's own checks and
    /// by tests that need exact, known samples).
    pub fn push(&self, samples: &[Sample]) {
        self.shared.push(samples);
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
    pub async fn shutdown(mut self, drain: Duration) {
        let deadline = tokio::time::Instant::now() + drain;
        // Probes first, so nothing new is queued while draining.
        let stream_task = self.tasks.pop();
        let probe_tasks = std::mem::take(&mut self.tasks);
        for t in &probe_tasks {
            t.abort();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.wait_for(left, |s| s.pending_batches == 0).await;
        let _ = self.shutdown.send(true);
        if let Some(t) = stream_task {
            let _ = tokio::time::timeout(Duration::from_secs(1), t).await;
        }
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
    let rounds = probes
        .into_iter()
        .map(|(kind, interval, mut probe)| async move {
            let mut failures = 0;
            scheduler::collect_round(kind, interval, probe.as_mut(), &mut failures).await
        });
    let mut all: Vec<Sample> = futures::future::join_all(rounds)
        .await
        .into_iter()
        .flatten()
        .collect();
    for s in &mut all {
        s.labels.merge_missing(&settings.labels);
    }
    Ok(all)
}

fn new_epoch() -> u64 {
    // Never 0 (the collector reads 0 as "no epoch recorded"), and 63 bits so it fits the
    // collector's SQLite integer.
    (rand::random::<u64>() >> 1).max(1)
}
