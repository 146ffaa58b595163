//! The sample history as the rule engine's [`WindowSource`]: after a restart, windows,
//! silences and `absent(m)` answers are refilled from what the history kept, so a restart in
//! the middle of a window neither opens nor resolves anything by itself.

use std::collections::HashMap;
use std::sync::Mutex;

use patrol_history::History;
use patrol_history::read::Budget;
use patrol_proto::Labels;

use crate::engine::WindowSource;

/// Samples per series read back at most (a day of 1 s samples): a window longer than that is
/// refilled with its newest part.
const MAX_SAMPLES_PER_SERIES: u64 = 86_400;

/// Samples read while listing, by (metric, labels), with the range they were read over.
type Read = HashMap<(String, Labels), (i64, i64, Vec<(i64, f64)>)>;

/// Reads windows from a [`History`]. The samples found while listing a metric's series are
/// kept for the `samples` call that follows, so each series is read once.
pub struct HistoryWindows {
    history: History,
    read: Mutex<Read>,
}

impl HistoryWindows {
    pub fn new(history: History) -> Self {
        HistoryWindows {
            history,
            read: Mutex::default(),
        }
    }

    fn read(&self, entry: &patrol_history::series::Entry, from: i64, to: i64) -> Vec<(i64, f64)> {
        let mut budget = Budget::new(MAX_SAMPLES_PER_SERIES);
        match self.history.raw(entry, from, to, &mut budget) {
            Ok(samples) => samples,
            Err(e) => {
                tracing::warn!(metric = %entry.name, labels = %entry.labels, error = %e,
                    "rule windows: this series' history could not be read; its windows start empty");
                Vec::new()
            }
        }
    }
}

impl WindowSource for HistoryWindows {
    fn series(&self, metric: &str, from_ms: i64, to_ms: i64) -> Vec<Labels> {
        let Ok(entries) = self.history.select(Some(metric), |_| true, usize::MAX) else {
            return Vec::new();
        };
        let mut read = self
            .read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut out = Vec::new();
        for e in entries {
            let samples = self.read(&e, from_ms, to_ms);
            if samples.is_empty() {
                continue;
            }
            out.push(e.labels.clone());
            read.insert(
                (metric.to_owned(), e.labels.clone()),
                (from_ms, to_ms, samples),
            );
        }
        out
    }

    fn samples(&self, metric: &str, labels: &Labels, from_ms: i64, to_ms: i64) -> Vec<(i64, f64)> {
        let cached = self
            .read
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&(metric.to_owned(), labels.clone()));
        if let Some((from, to, samples)) = cached
            && from == from_ms
            && to == to_ms
        {
            return samples;
        }
        let Ok(entries) = self
            .history
            .select(Some(metric), |e| &e.labels == labels, 1)
        else {
            return Vec::new();
        };
        entries
            .first()
            .map(|e| self.read(e, from_ms, to_ms))
            .unwrap_or_default()
    }
}
