//! Refilling windows after a restart, so a restart neither opens nor resolves anything by
//! itself: the collector's sample history answers through [`WindowSource`], once per series a
//! window or silence rule reads.

use patrol_proto::Labels;

use super::instance::LeafState;
use super::{Engine, SeriesId};

/// Where past samples come from (the collector binds its history here; [`NoHistory`] until
/// there is one).
pub trait WindowSource: Send + Sync {
    /// The label sets of `metric`'s series with a sample between `from_ms` and `to_ms`.
    fn series(&self, metric: &str, from_ms: i64, to_ms: i64) -> Vec<Labels>;
    /// The samples of one series with `from_ms <= timestamp <= to_ms`, oldest first.
    fn samples(&self, metric: &str, labels: &Labels, from_ms: i64, to_ms: i64) -> Vec<(i64, f64)>;
}

/// No history: windows start empty after a restart.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHistory;

impl WindowSource for NoHistory {
    fn series(&self, _: &str, _: i64, _: i64) -> Vec<Labels> {
        Vec::new()
    }

    fn samples(&self, _: &str, _: &Labels, _: i64, _: i64) -> Vec<(i64, f64)> {
        Vec::new()
    }
}

impl<E: Default> Engine<E> {
    /// Refills windows at start-up from `source`, without evaluating anything.
    ///
    /// The series are those the history holds for every metric a window, `absent(m[d])` or
    /// `absent(m)` rule reads, plus `open` — the (rule, labels) of the incidents open in the
    /// store. Each series' samples over its longest window are fed to its windows and its
    /// newest sample becomes its latest value. A silence restarts at `now_ms`: a series has a
    /// whole range after the restart to report again. Returns how many series were refilled.
    pub fn warm_up(
        &mut self,
        source: &dyn WindowSource,
        open: &[(String, Labels)],
        now_ms: i64,
    ) -> usize {
        let rules = std::sync::Arc::clone(&self.rules);
        // The longest span of history any rule needs per metric.
        let mut spans: Vec<(String, i64)> = Vec::new();
        for rule in rules.rules() {
            for leaf in &rule.program.leaves {
                let span = match leaf.kind {
                    crate::program::LeafKind::Window(_, r)
                    | crate::program::LeafKind::Silent(r) => r,
                    crate::program::LeafKind::Appeared => rule.grace_ms(),
                    crate::program::LeafKind::Latest => continue,
                };
                let metric = &rule.program.selectors[leaf.selector].metric;
                match spans.iter_mut().find(|(m, _)| m == metric) {
                    Some((_, s)) => *s = (*s).max(span),
                    None => spans.push((metric.clone(), span)),
                }
            }
        }
        let mut ids: Vec<SeriesId> = Vec::new();
        for (metric, span) in &spans {
            for labels in source.series(metric, now_ms.saturating_sub(*span), now_ms) {
                ids.push(self.intern(metric, &labels));
            }
        }
        for (name, labels) in open {
            let Some(rule) = rules.rules().iter().find(|r| &r.name == name) else {
                continue;
            };
            for s in &rule.program.selectors {
                if s.matches_labels(labels) {
                    ids.push(self.intern(&s.metric, labels));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut refilled = 0;
        for id in ids {
            let (metric, labels) = {
                let s = &self.series[id as usize];
                (s.name.clone(), s.labels.clone())
            };
            let span = spans
                .iter()
                .find(|(m, _)| *m == metric)
                .map_or(0, |(_, s)| *s);
            let samples = if span > 0 {
                source.samples(&metric, &labels, now_ms.saturating_sub(span), now_ms)
            } else {
                Vec::new()
            };
            if !samples.is_empty() {
                refilled += 1;
            }
            self.refill(id, &samples, now_ms);
        }
        refilled
    }

    fn refill(&mut self, id: SeriesId, samples: &[(i64, f64)], now_ms: i64) {
        if let Some(&(ts, v)) = samples.iter().rev().find(|(_, v)| !v.is_nan()) {
            let s = &mut self.series[id as usize];
            if !s.has_value || ts >= s.timestamp_ms {
                s.value = v;
                s.timestamp_ms = ts;
                s.has_value = true;
            }
        }
        for k in 0..self.series[id as usize].slots.len() {
            let slot = self.series[id as usize].slots[k];
            let Some(inst) = self.instances.get_mut(slot.instance as usize) else {
                continue;
            };
            for (i, leaf) in inst.leaves.iter_mut().enumerate() {
                if slot.leaves & (1 << i) == 0 {
                    continue;
                }
                match leaf {
                    LeafState::Latest(_) => {}
                    LeafState::Window(w) => {
                        for &(ts, v) in samples {
                            if !v.is_nan() {
                                w.insert(&mut self.rings, ts, v);
                            }
                        }
                    }
                    LeafState::Silent { last_ms, .. } => *last_ms = Some(now_ms),
                    // The history says the series existed: `absent(m)` has its answer.
                    LeafState::Appeared { seen, .. } => *seen = true,
                }
            }
            if let Some(&(ts, _)) = samples.last() {
                inst.last_ts = inst.last_ts.max(ts);
            }
            let Some(rule) = self.rules.get(inst.rule as usize) else {
                continue;
            };
            if !inst.armed
                && let Some(d) = inst.next_deadline(rule, now_ms)
            {
                self.wheel.insert(now_ms, d, slot.instance);
                inst.armed = true;
            }
        }
    }
}
