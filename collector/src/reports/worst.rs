//! The worst value of a series since the previous inspection, from the collector's sample
//! history: `patrol_report`'s [`Worst`] over [`History`].
//!
//! A short period is read from the raw samples. A longer one (a day, a weekend) is read from
//! the 1-minute aggregates — the maximum of the minutes' maxima or the minimum of their
//! minima — for the whole minutes inside it, and from the raw samples for the part-minutes at
//! its two ends, so the answer is exact either way and a week costs minutes, not seconds. Ties
//! go to the earliest, and the time given is the minute the value fell in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use patrol_history::History;
use patrol_history::read::Budget;
use patrol_history::series::Entry;
use patrol_proto::Labels;
use patrol_report::{Bad, Worst};

/// Periods up to this long are read from the raw samples (6 h of 1 s samples: 21,600 values).
pub const RAW_SPAN_MS: i64 = 6 * 3_600_000;

const MINUTE_MS: i64 = 60_000;

/// Samples one series' read may touch: a period's minutes and its edges, generously.
const READ_BUDGET: u64 = 5_000_000;

/// Worst values read from a [`History`]. Series are looked up once per metric and kept for the
/// sheet being built.
pub struct HistoryWorst {
    history: History,
    by_metric: Mutex<HashMap<String, HashMap<Labels, Arc<Entry>>>>,
}

impl HistoryWorst {
    pub fn new(history: History) -> Self {
        Self {
            history,
            by_metric: Mutex::default(),
        }
    }

    fn entry(&self, metric: &str, labels: &Labels) -> Option<Arc<Entry>> {
        let mut cache = self
            .by_metric
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let series = cache.entry(metric.to_owned()).or_insert_with(|| {
            self.history
                .select(Some(metric), |_| true, usize::MAX)
                .unwrap_or_default()
                .into_iter()
                .map(|e| (e.labels.clone(), e))
                .collect()
        });
        series.get(labels).cloned()
    }

    /// The candidates of `[from, to]` in time order: (value, minute) for `bad`'s end.
    fn candidates(&self, e: &Entry, from: i64, to: i64, bad: Bad) -> Vec<(f64, i64)> {
        let mut budget = Budget::new(READ_BUDGET);
        let raw = |a: i64, b: i64, budget: &mut Budget| -> Vec<(f64, i64)> {
            if b < a {
                return Vec::new();
            }
            match self.history.raw(e, a, b, budget) {
                Ok(samples) => samples
                    .into_iter()
                    .map(|(t, v)| (v, t.div_euclid(MINUTE_MS) * MINUTE_MS))
                    .collect(),
                Err(err) => {
                    tracing::warn!(metric = %e.name, labels = %e.labels, error = %err,
                        "inspection sheet: this series' history could not be read");
                    Vec::new()
                }
            }
        };
        if to - from <= RAW_SPAN_MS {
            return raw(from, to, &mut budget);
        }
        // Whole minutes [first, last) inside the period; the raw samples around them.
        let first = from.div_euclid(MINUTE_MS) * MINUTE_MS
            + if from.rem_euclid(MINUTE_MS) == 0 {
                0
            } else {
                MINUTE_MS
            };
        let last = to.div_euclid(MINUTE_MS) * MINUTE_MS;
        let mut out = raw(from, first - 1, &mut budget);
        if last > first {
            match self
                .history
                .minutes(e, first, last - MINUTE_MS, &mut budget)
            {
                Ok(minutes) => out.extend(minutes.into_iter().map(|m| {
                    let v = match bad {
                        Bad::High => m.max,
                        Bad::Low => m.min,
                    };
                    (v, m.minute_ms)
                })),
                Err(err) => {
                    tracing::warn!(metric = %e.name, labels = %e.labels, error = %err,
                        "inspection sheet: this series' minutes could not be read");
                }
            }
        }
        out.extend(raw(last.max(first), to, &mut budget));
        out
    }
}

/// The worst of `candidates` (in time order) by `bad`; the earliest of equal values.
pub fn pick(candidates: impl IntoIterator<Item = (f64, i64)>, bad: Bad) -> Option<(f64, i64)> {
    let mut best: Option<(f64, i64)> = None;
    for (v, t) in candidates {
        if v.is_nan() {
            continue;
        }
        let worse = match (best, bad) {
            (None, _) => true,
            (Some((b, _)), Bad::High) => v > b,
            (Some((b, _)), Bad::Low) => v < b,
        };
        if worse {
            best = Some((v, t));
        }
    }
    best
}

impl Worst for HistoryWorst {
    fn worst(
        &self,
        metric: &str,
        labels: &Labels,
        from_ms: i64,
        to_ms: i64,
        bad: Bad,
    ) -> Option<(f64, i64)> {
        let e = self.entry(metric, labels)?;
        pick(self.candidates(&e, from_ms, to_ms, bad), bad)
    }
}

/// No history (`[history] enabled = false`): no worst values, the sheet shows none.
pub struct NoWorst;

impl Worst for NoWorst {
    fn worst(&self, _: &str, _: &Labels, _: i64, _: i64, _: Bad) -> Option<(f64, i64)> {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use patrol_history::{HistoryConfig, Sample};

    #[test]
    fn ties_go_to_the_earliest_and_nan_is_no_value() {
        let c = [
            (5.0, 60_000),
            (9.0, 120_000),
            (9.0, 180_000),
            (f64::NAN, 240_000),
        ];
        assert_eq!(pick(c, Bad::High), Some((9.0, 120_000)));
        assert_eq!(pick(c, Bad::Low), Some((5.0, 60_000)));
        assert_eq!(pick([], Bad::Low), None);
    }

    /// A long period (minutes inside, raw samples at the edges) and a short one (raw only)
    /// give the worst sample of exactly the period, as reading every sample would.
    #[tokio::test]
    async fn worst_over_minutes_and_raw_edges_is_the_worst_sample_of_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = HistoryConfig {
            fsync: false,
            ..HistoryConfig::default()
        };
        let h = History::open(dir.path(), cfg).unwrap();
        let labels = Labels::from_pairs([("host", "db1"), ("mount", "/u01")]);
        let id = h.series("disk_used_percent", &labels);
        // One sample every 20 s for 8 hours, from a minute boundary; a peak of 99 just
        // before the period starts and one just after it ends, a dip of 1 inside, and a
        // 95 20 s before the end (in the last part-minute).
        let start = 1_800_000_000_000 - 1_800_000_000_000 % MINUTE_MS;
        let n = 8 * 180;
        let samples: Vec<Sample> = (0..n)
            .map(|i| {
                let ts = start + i * 20_000;
                let value = match i {
                    10 => 99.0,
                    700 => 1.0,
                    1300 => 95.0,
                    1302 => 99.5,
                    _ => 50.0 + (i % 7) as f64,
                };
                Sample {
                    series: id,
                    ts,
                    value,
                }
            })
            .collect();
        h.append(samples.clone()).await.unwrap();
        let w = HistoryWorst::new(h);
        // 11 samples in (index 11 onwards), 40 s past a minute boundary; ends 10 s after
        // sample 1300 (so 1302 is outside), which is not on a minute boundary either.
        let from = start + 11 * 20_000 - 5_000;
        let to = start + 1300 * 20_000 + 10_000;
        let naive = |bad| {
            pick(
                samples
                    .iter()
                    .filter(|s| s.ts >= from && s.ts <= to)
                    .map(|s| (s.value, s.ts - s.ts % MINUTE_MS)),
                bad,
            )
        };
        assert!(to - from > RAW_SPAN_MS, "the minute path is taken");
        let hi = w.worst("disk_used_percent", &labels, from, to, Bad::High);
        assert_eq!(hi, naive(Bad::High));
        assert_eq!(hi.map(|h| h.0), Some(95.0));
        let lo = w.worst("disk_used_percent", &labels, from, to, Bad::Low);
        assert_eq!(
            lo,
            Some((1.0, (start + 700 * 20_000) / MINUTE_MS * MINUTE_MS))
        );
        assert_eq!(lo, naive(Bad::Low));
        // A short period: raw only.
        let (a, b) = (start, start + 3_600_000);
        assert_eq!(
            w.worst("disk_used_percent", &labels, a, b, Bad::High),
            Some((99.0, start + 3 * MINUTE_MS))
        );
        assert_eq!(
            w.worst("disk_used_percent", &Labels::new(), a, b, Bad::High),
            None
        );
    }
}
