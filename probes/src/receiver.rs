//! Pieces shared by the probes that listen instead of poll (`syslog`, `snmp_trap`): a
//! listener started at the first collection and stopped with the probe, a device table with a
//! bound, counters with a per-interval part, and a log line rate limit for hostile input.
//!
//! Listeners bind at the first `collect`, not when the probe is built, so `patrol-agent --check`
//! (which builds every probe) never takes the agent's ports, and a bind that fails is a status
//! sample (`*_up 0`) retried every round rather than an agent that will not start.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The `device` label of senders beyond a probe's `max_devices`.
pub(crate) const OVERFLOW_DEVICE: &str = "_other";

/// Tasks that stop when their owner is dropped: a probe replaced by a reload or removed takes
/// its listeners (and, through them, their connections) with it.
#[derive(Debug, Default)]
pub(crate) struct Tasks(Vec<JoinHandle<()>>);

impl Tasks {
    pub(crate) fn push(&mut self, task: JoinHandle<()>) {
        self.0.push(task);
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// A count with the part since the last report, for the `_total` counter and the per-interval
/// gauge that rules compare (the rule language has no `rate()` yet).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) total: u64,
    pub(crate) interval: u64,
}

impl Tally {
    pub(crate) fn add(&mut self) {
        self.total += 1;
        self.interval += 1;
    }

    /// The interval part, reset for the next round.
    pub(crate) fn take_interval(&mut self) -> u64 {
        std::mem::take(&mut self.interval)
    }
}

/// Per-device state with a bound: once `max` devices are known, messages from new senders
/// are kept under [`OVERFLOW_DEVICE`] and counted in `overflow`, so a sender spoofing
/// addresses cannot grow memory or the number of series without end.
#[derive(Debug)]
pub(crate) struct Devices<T> {
    max: usize,
    map: BTreeMap<String, T>,
    pub(crate) overflow: u64,
}

impl<T: Default> Devices<T> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            map: BTreeMap::new(),
            overflow: 0,
        }
    }

    /// The state of `device`, or of the overflow bucket when the table is full.
    pub(crate) fn entry(&mut self, device: &str) -> &mut T {
        let known = self.map.contains_key(device);
        let tracked = self.map.len() - usize::from(self.map.contains_key(OVERFLOW_DEVICE));
        let key = if known || tracked < self.max {
            device
        } else {
            self.overflow += 1;
            OVERFLOW_DEVICE
        };
        self.map.entry(key.to_owned()).or_default()
    }

    /// Devices tracked (the overflow bucket not counted).
    pub(crate) fn len(&self) -> usize {
        self.map.len() - usize::from(self.map.contains_key(OVERFLOW_DEVICE))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut T)> {
        self.map.iter_mut()
    }
}

/// Logs the first event of a kind and then every `every`-th, so a flood of bad input costs
/// a few log lines, not one per packet. The count itself is a metric.
#[derive(Debug)]
pub(crate) struct LogEvery {
    seen: AtomicU64,
    every: u64,
}

impl LogEvery {
    pub(crate) const fn new(every: u64) -> Self {
        Self {
            seen: AtomicU64::new(0),
            every,
        }
    }

    /// Counts one event; `Some(n)` (the count so far) when this one should be logged.
    pub(crate) fn tick(&self) -> Option<u64> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        (n == 1 || n.is_multiple_of(self.every)).then_some(n)
    }
}

/// How many inputs (good or bad) a receiver has processed, with a wake-up for whoever waits
/// on it: tests wait for their messages to be handled instead of sleeping.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    handled: AtomicU64,
    notify: Notify,
}

impl Progress {
    pub(crate) fn handled_one(&self) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_waiters();
    }

    pub(crate) fn handled(&self) -> u64 {
        self.handled.load(Ordering::Relaxed)
    }

    /// Waits until at least `n` inputs were handled or `within` passed; whether they were.
    pub(crate) async fn wait_for(&self, n: u64, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.notify.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.handled() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.handled() >= n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_beyond_the_bound_share_the_overflow_bucket() {
        let mut d: Devices<u64> = Devices::new(2);
        *d.entry("a") += 1;
        *d.entry("b") += 1;
        *d.entry("c") += 1;
        *d.entry("d") += 1;
        *d.entry("a") += 1;
        assert_eq!(d.len(), 2);
        assert_eq!(d.overflow, 2);
        let all: Vec<(String, u64)> = d.iter_mut().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(
            all,
            [("_other".into(), 2), ("a".into(), 2), ("b".into(), 1)]
        );
    }

    #[test]
    fn log_every_logs_the_first_and_then_every_nth() {
        let l = LogEvery::new(3);
        let logged: Vec<bool> = (0..7).map(|_| l.tick().is_some()).collect();
        assert_eq!(logged, [true, false, true, false, false, true, false]);
    }
}
