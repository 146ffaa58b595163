//! A tailed log whose records feed a counter, with the read position and the counts saved
//! together in one state file: after a restart every record is counted once relative to the
//! saved counts. The piece each log probe (WebLogic, log_pattern, Oracle alert log) builds on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{PollOutcome, Record, TailError, TailSpec, TailState, TailStats, Tailer, state};

/// What a probe counts in its log's records.
pub trait Counter: Serialize + DeserializeOwned + Default + Send {
    fn count(&mut self, record: Record<'_>);
}

#[derive(Serialize, Deserialize)]
struct Saved<C> {
    tail: TailState,
    counts: C,
}

/// A [`Tailer`] plus the counts made from its records.
#[derive(Debug)]
pub struct CountedLog<C> {
    tailer: Tailer,
    counts: C,
    /// `None`: state is never written (a `--once` run).
    state_path: Option<PathBuf>,
    /// Failed saves of the state file, as `*_state_errors_total`.
    pub save_failures: u64,
}

impl<C: Counter> CountedLog<C> {
    /// Resumes from the state saved at `state_path` (if readable), writing it back after each
    /// poll when `persist`.
    pub fn open(spec: TailSpec, state_path: PathBuf, persist: bool) -> Self {
        let saved = match state::load::<Saved<C>>(&state_path) {
            Ok(saved) => saved,
            Err(e) => {
                tracing::warn!(error = %e, "starting this log afresh");
                None
            }
        };
        let (tail, counts) = match saved {
            Some(s) => (Some(s.tail), s.counts),
            None => (None, C::default()),
        };
        Self {
            tailer: Tailer::new(spec, tail),
            counts,
            state_path: persist.then_some(state_path),
            save_failures: 0,
        }
    }

    /// Reads and counts up to `budget` bytes of new records, then saves position and counts.
    /// A failed save is logged and counted; the counts stay in memory and the next poll
    /// saves again.
    pub fn poll(&mut self, budget: u64) -> Result<PollOutcome, TailError> {
        let counts = &mut self.counts;
        let mut outcome = self.tailer.poll(budget, &mut |r| counts.count(r))?;
        if self.state_path.is_none() && !outcome.more {
            // A one-shot run has no next quiet round to close the last record: a second poll
            // that finds nothing new does it now.
            let more = self.tailer.poll(budget, &mut |r| counts.count(r))?;
            outcome.bytes += more.bytes;
        }
        if let Some(path) = &self.state_path {
            let saved = Saved {
                tail: self.tailer.state(),
                counts: &self.counts,
            };
            if let Err(e) = state::save(path, &saved) {
                self.save_failures += 1;
                if self.save_failures == 1 || self.save_failures.is_multiple_of(100) {
                    tracing::warn!(error = %e, failures = self.save_failures,
                        "cannot save the log read position; a restart would count again what was read since the last save");
                }
            }
        }
        Ok(outcome)
    }

    pub fn counts(&self) -> &C {
        &self.counts
    }

    pub fn counts_mut(&mut self) -> &mut C {
        &mut self.counts
    }

    pub fn stats(&self) -> TailStats {
        self.tailer.stats()
    }

    pub fn spec(&self) -> &TailSpec {
        self.tailer.spec()
    }
}

/// A log shared between the probe (which reports its counts) and the blocking thread that
/// reads it, so a round cut short by the agent's timeout loses nothing: the read finishes and
/// the next round reports it.
pub type SharedLog<C> = Arc<Mutex<CountedLog<C>>>;

/// Locks a shared log. A panic while holding the lock cannot leave the counts half-updated in
/// a way that matters more than stopping the probe would, so poisoning is ignored.
pub fn lock<C>(log: &Mutex<CountedLog<C>>) -> MutexGuard<'_, CountedLog<C>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`CountedLog::poll`] on a blocking thread; errors as text for the probe's status line.
pub async fn poll_blocking<C: Counter + 'static>(
    log: &SharedLog<C>,
    budget: u64,
) -> Result<PollOutcome, String> {
    let log = Arc::clone(log);
    tokio::task::spawn_blocking(move || lock(&log).poll(budget))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// The tailer's own counters as samples named `{prefix}_...`, e.g. `weblogic_log_rotations_total`.
pub fn stats_samples(
    prefix: &str,
    labels: &patrol_proto::Labels,
    stats: TailStats,
    save_failures: u64,
    now_ms: i64,
    out: &mut Vec<patrol_proto::Sample>,
) {
    for (suffix, value) in [
        ("rotations_total", stats.rotations),
        ("truncations_total", stats.truncations),
        ("oversized_records_total", stats.oversized),
        ("lost_files_total", stats.lost),
        ("state_errors_total", save_failures),
    ] {
        out.push(patrol_proto::Sample::new(
            format!("{prefix}_{suffix}"),
            labels.clone(),
            value as f64,
            now_ms,
        ));
    }
}
