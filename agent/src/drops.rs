//! Every sample the agent gives up on is counted by reason and logged: the first time a reason
//! drops anything, one warning; after that at most one a minute per reason, with the totals.
//! Reported as `patrol_agent_dropped_samples_total{reason}` (see [`crate::telemetry`]).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use patrol_proto::Sample;

/// Why samples were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// In-memory backlog past `max_pending_points` and the oldest batches not on disk.
    BacklogFull,
    /// Spool past `max_bytes`: the oldest segments went.
    SpoolFull,
    /// Spooled batches older than `max_age`.
    SpoolExpired,
    /// Unacknowledged at the end of the shutdown drain with no spool to keep them.
    Shutdown,
    /// NaN or ±Inf values, which are no measurement.
    NonFinite,
    /// A spooled record that no longer read back intact.
    SpoolDamaged,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::BacklogFull,
        DropReason::SpoolFull,
        DropReason::SpoolExpired,
        DropReason::Shutdown,
        DropReason::NonFinite,
        DropReason::SpoolDamaged,
    ];

    /// The `reason` label.
    pub fn label(self) -> &'static str {
        match self {
            DropReason::BacklogFull => "backlog_full",
            DropReason::SpoolFull => "spool_full",
            DropReason::SpoolExpired => "spool_expired",
            DropReason::Shutdown => "shutdown",
            DropReason::NonFinite => "non_finite",
            DropReason::SpoolDamaged => "spool_damaged",
        }
    }

    fn fix(self) -> &'static str {
        match self {
            DropReason::BacklogFull => {
                "the collector is away or slow and the backlog is full: enable [spool] or raise [batch] max_pending_points"
            }
            DropReason::SpoolFull => {
                "the spool reached max_bytes: raise [spool] max_bytes or bring the collector back"
            }
            DropReason::SpoolExpired => {
                "spooled batches passed [spool] max_age before the collector took them"
            }
            DropReason::Shutdown => {
                "batches were not acknowledged within the shutdown drain and no spool keeps them"
            }
            DropReason::NonFinite => {
                "a probe reported NaN or an infinite value, which is no measurement"
            }
            DropReason::SpoolDamaged => {
                "a spooled record no longer reads back intact (disk damage?)"
            }
        }
    }

    fn index(self) -> usize {
        match self {
            DropReason::BacklogFull => 0,
            DropReason::SpoolFull => 1,
            DropReason::SpoolExpired => 2,
            DropReason::Shutdown => 3,
            DropReason::NonFinite => 4,
            DropReason::SpoolDamaged => 5,
        }
    }
}

/// How often a reason may warn again after its first warning.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Distinct (probe, metric) pairs remembered for the non-finite log; past it, no new lines.
const MAX_NON_FINITE_KEYS: usize = 1024;

#[derive(Default)]
pub struct Drops {
    samples: [AtomicU64; 6],
    warned: Mutex<[Option<Instant>; 6]>,
    non_finite_seen: Mutex<HashSet<(String, String)>>,
}

impl Drops {
    /// Counts `samples` dropped for `reason`, and warns if this reason has not warned lately.
    pub fn count(&self, reason: DropReason, samples: u64, batches: u64) {
        if samples == 0 && batches == 0 {
            return;
        }
        let i = reason.index();
        let total = self.samples[i].fetch_add(samples, Ordering::Relaxed) + samples;
        let now = Instant::now();
        let due = self.warned.lock().is_ok_and(|mut w| {
            let due = w[i].is_none_or(|t| now.duration_since(t) >= WARN_EVERY);
            if due {
                w[i] = Some(now);
            }
            due
        });
        if due {
            tracing::warn!(
                reason = reason.label(),
                samples,
                batches,
                total_samples = total,
                "dropping samples: {}",
                reason.fix()
            );
        }
    }

    pub fn get(&self, reason: DropReason) -> u64 {
        self.samples[reason.index()].load(Ordering::Relaxed)
    }

    pub fn total(&self) -> u64 {
        self.samples.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// Removes NaN and ±Inf samples of `source` (a probe's type), counting them and logging
    /// each (probe, metric) the first time.
    pub fn keep_finite(&self, source: &str, samples: &mut Vec<Sample>) {
        let before = samples.len();
        samples.retain(|s| {
            if s.value.is_finite() {
                return true;
            }
            self.log_non_finite(source, s);
            false
        });
        let dropped = (before - samples.len()) as u64;
        if dropped > 0 {
            self.samples[DropReason::NonFinite.index()].fetch_add(dropped, Ordering::Relaxed);
        }
    }

    fn log_non_finite(&self, source: &str, s: &Sample) {
        let Ok(mut seen) = self.non_finite_seen.lock() else {
            return;
        };
        if seen.len() >= MAX_NON_FINITE_KEYS || seen.contains(&(source.to_owned(), s.name.clone()))
        {
            return;
        }
        seen.insert((source.to_owned(), s.name.clone()));
        tracing::warn!(probe = source, metric = %s.name, value = %s.value,
            "dropping a non-finite sample (logged once per probe and metric; counted in patrol_agent_dropped_samples_total{{reason=\"non_finite\"}})");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_proto::Labels;

    #[test]
    fn non_finite_values_are_dropped_and_counted() {
        let d = Drops::default();
        let s = |v| Sample::new("m", Labels::new(), v, 1);
        let mut v = vec![
            s(1.0),
            s(f64::INFINITY),
            s(f64::NAN),
            s(f64::NEG_INFINITY),
            s(2.0),
        ];
        d.keep_finite("host", &mut v);
        assert_eq!(
            v.iter().map(|s| s.value).collect::<Vec<_>>(),
            vec![1.0, 2.0]
        );
        assert_eq!(d.get(DropReason::NonFinite), 3);
        assert_eq!(d.total(), 3);
    }

    #[test]
    fn counts_add_up_by_reason() {
        let d = Drops::default();
        d.count(DropReason::SpoolFull, 10, 2);
        d.count(DropReason::SpoolFull, 5, 1);
        d.count(DropReason::Shutdown, 7, 1);
        assert_eq!(d.get(DropReason::SpoolFull), 15);
        assert_eq!(d.get(DropReason::Shutdown), 7);
        assert_eq!(d.get(DropReason::BacklogFull), 0);
    }
}
