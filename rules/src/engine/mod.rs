//! The rule engine: the latest-value series table and event-driven evaluation.
//!
//! A series is interned once (name + full label set) and then referred to by a [`SeriesId`].
//! When a series is first seen, the rules that can read it (indexed by metric, matched by
//! selector) each get an *instance* for its label set — one per series, or one shared by the
//! series of different metrics with the same labels for rules such as
//! `disk_used_bytes / disk_total_bytes > 0.9` — holding the alert state and the state of each
//! leaf (latest value, window, silence). A sample then costs only the instances it feeds:
//! windows updated in place, the expression evaluated, the state machine stepped.
//!
//! Time only drives two things: pending alerts whose `for` runs out (a set of pending instances,
//! swept by [`Engine::tick`]) and `absent(...)` (a timer wheel, advanced by the same tick), so no
//! periodic scan of every series happens. Time is an argument everywhere.
//!
//! What a decision means (an incident opened or resolved, flap detection) is the caller's: the
//! engine reports every evaluation to a [`Sink`], with a per-instance slot `E` the caller owns.

mod event;
mod instance;
mod link;
#[cfg(test)]
mod tests;
mod warm;
mod wheel;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use patrol_proto::{Labels, Sample};

use crate::rule::Rule;
use crate::set::RuleSet;
use crate::state::{AlertState, Transition};
use crate::window::Rings;

pub use event::{Cause, Event, Sink, StateCounts, Stats};
use instance::{Instance, LabelsOf, LeafState, Leaves, Slot};
pub use warm::{NoHistory, WindowSource};
pub use wheel::Wheel;

/// Index of a series in the table.
pub type SeriesId = u32;
/// Index of an alert instance.
pub type InstanceId = u32;

/// A series in the latest-value table.
#[derive(Debug)]
struct Series {
    name: String,
    labels: Labels,
    value: f64,
    timestamp_ms: i64,
    has_value: bool,
    /// The instances it feeds. Inline for up to four (one metric read by up to four rules), so
    /// a sample goes from the series straight to its instances without reading another
    /// allocation: measured, that read was a sixth of the time per sample.
    slots: Slots,
}

type Slots = smallvec::SmallVec<[Slot; 4]>;

/// The engine. `E` is the caller's per-instance data, carried across reloads with the state.
pub struct Engine<E = ()> {
    rules: Arc<RuleSet>,
    ids: HashMap<String, HashMap<Labels, SeriesId>>,
    series: Vec<Series>,
    instances: Vec<Instance<E>>,
    /// The buckets of every instance's windows.
    rings: Rings,
    /// Instances of rules reading several selectors, by (rule, labels), so the series of each
    /// metric with the same labels share one.
    joins: HashMap<(u32, Labels), InstanceId>,
    /// The rule-level instance of each `absent(m)` rule.
    once: HashMap<u32, InstanceId>,
    /// `absent(m)` instances whose grace has not started (it starts at the next tick).
    unstarted: Vec<InstanceId>,
    /// Instances in `Pending`, so the sweep that promotes them does not scan every series.
    pending: HashSet<InstanceId>,
    wheel: Wheel,
    /// Firing states restored from the store's open incidents, claimed as instances appear.
    restored: HashMap<(String, u64), i64>,
    /// Ids of forgotten series, reused by the next new series (see [`Engine::forget`]).
    free_series: Vec<SeriesId>,
    /// Ids of retired instances whose slot can be reused (no timer of theirs is in the wheel).
    free_instances: Vec<InstanceId>,
}

/// The rule index of a retired instance: no rule has it, so sweeps, timers and counts skip it.
const RETIRED: u32 = u32::MAX;

impl<E: Default> Engine<E> {
    /// An engine running `rules`.
    pub fn new(rules: Arc<RuleSet>) -> Self {
        let mut e = Engine {
            rules,
            ids: HashMap::new(),
            series: Vec::new(),
            instances: Vec::new(),
            rings: Rings::default(),
            joins: HashMap::new(),
            once: HashMap::new(),
            unstarted: Vec::new(),
            pending: HashSet::new(),
            wheel: Wheel::new(),
            restored: HashMap::new(),
            free_series: Vec::new(),
            free_instances: Vec::new(),
        };
        e.create_once_instances(&mut HashMap::new());
        e
    }

    /// Marks (rule, fingerprint) pairs as already firing since `since_ms`, so a restart
    /// continues the open incidents instead of opening them again.
    pub fn restore_firing(&mut self, rule: &str, fingerprint: u64, since_ms: i64) {
        if let Some(inst) = self
            .once
            .values()
            .copied()
            .find(|&i| self.is(i, rule, fingerprint))
        {
            self.instances[inst as usize].state = AlertState::Firing { since_ms };
            return;
        }
        self.restored
            .insert((rule.to_owned(), fingerprint), since_ms);
    }

    fn is(&self, inst: InstanceId, rule: &str, fp: u64) -> bool {
        let i = &self.instances[inst as usize];
        i.fingerprint == fp && self.rule(i.rule).is_some_and(|r| r.name == rule)
    }

    fn rule(&self, idx: u32) -> Option<&Arc<Rule>> {
        self.rules.get(idx as usize)
    }

    /// The rules in force.
    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Series in the table.
    pub fn series_count(&self) -> usize {
        self.series.len() - self.free_series.len()
    }

    /// Alert instances (rule × label set).
    pub fn instance_count(&self) -> usize {
        self.instances.len() - self.free_instances.len()
    }

    /// The id of a series if it exists; creates nothing.
    pub fn lookup(&self, name: &str, labels: &Labels) -> Option<SeriesId> {
        self.ids.get(name).and_then(|m| m.get(labels)).copied()
    }

    /// The name and labels of a series (`None` for a freed or unknown id).
    pub fn key(&self, id: SeriesId) -> Option<(&str, &Labels)> {
        let s = self.series.get(id as usize)?;
        (!s.name.is_empty()).then_some((s.name.as_str(), &s.labels))
    }

    /// Frees a series (its agent is long gone): its latest value, its link to the rules and
    /// the instances only it fed (windows included) go, and its id is reused by the next new
    /// series. A firing instance is kept aside as restored, so a series that comes back
    /// continues its open incident instead of opening a second one. The caller makes sure
    /// nothing still refers to `id`. Returns whether there was such a series.
    pub fn forget(&mut self, id: SeriesId) -> bool {
        let Some(s) = self.series.get_mut(id as usize) else {
            return false;
        };
        // Metric names are never empty, so an empty name marks a freed slot.
        if s.name.is_empty() {
            return false;
        }
        let name = std::mem::take(&mut s.name);
        let labels = std::mem::take(&mut s.labels);
        let slots = std::mem::take(&mut s.slots);
        s.has_value = false;
        s.value = f64::NAN;
        s.timestamp_ms = 0;
        if let Some(m) = self.ids.get_mut(&name) {
            m.remove(&labels);
            if m.is_empty() {
                self.ids.remove(&name);
            }
        }
        let rules = Arc::clone(&self.rules);
        for slot in slots {
            let iid = slot.instance;
            let Some(inst) = self.instances.get_mut(iid as usize) else {
                continue;
            };
            let Some(rule) = rules.get(inst.rule as usize) else {
                continue;
            };
            for leaf in inst.leaves.iter_mut() {
                if matches!(leaf, LeafState::Latest(Some(x)) if *x == id) {
                    *leaf = LeafState::Latest(None);
                }
            }
            if matches!(inst.labels, LabelsOf::Series(x) if x == id) {
                inst.labels = LabelsOf::Own(Box::new(labels.clone()));
            }
            let p = &rule.program;
            // `absent(m)` instances belong to the rule, not to a series; a join instance lives
            // on while another series with these labels feeds it.
            if p.is_absent_once()
                || (p.selectors.len() > 1
                    && p.selectors.iter().any(|sel| {
                        self.ids
                            .get(&sel.metric)
                            .is_some_and(|m| m.contains_key(&labels))
                    }))
            {
                continue;
            }
            if let AlertState::Firing { since_ms } = inst.state {
                self.restored
                    .insert((rule.name.clone(), inst.fingerprint), since_ms);
            }
            self.pending.remove(&iid);
            if p.selectors.len() > 1 {
                self.joins.remove(&(inst.rule, labels.clone()));
            }
            inst.rule = RETIRED;
            inst.state = AlertState::Inactive;
            std::mem::replace(&mut inst.leaves, Leaves::none()).release(&mut self.rings);
            inst.labels = LabelsOf::Own(Box::default());
            inst.ext = E::default();
            // A timer of its may still be in the wheel: the slot is reused once it came back.
            if !inst.armed {
                self.free_instances.push(iid);
            }
        }
        self.free_series.push(id);
        true
    }

    /// The id of a series, creating it (and linking it to the rules that read it) on first
    /// sight.
    pub fn intern(&mut self, name: &str, labels: &Labels) -> SeriesId {
        if let Some(id) = self.ids.get(name).and_then(|m| m.get(labels)) {
            return *id;
        }
        let series = Series {
            name: name.to_owned(),
            labels: labels.clone(),
            value: f64::NAN,
            timestamp_ms: 0,
            has_value: false,
            slots: Slots::new(),
        };
        let id = place(&mut self.series, &mut self.free_series, series);
        self.ids
            .entry(name.to_owned())
            .or_default()
            .insert(labels.clone(), id);
        let slots = self.link(id, &mut HashMap::new());
        self.series[id as usize].slots = slots;
        id
    }

    /// Records a sample of a known series and evaluates the instances it feeds.
    ///
    /// A late sample (older than the series' newest) is ignored. A NaN sample is recorded as
    /// the latest value but evaluates nothing: it enters no window and does not count as the
    /// series reporting, since probes send NaN when a reading failed.
    pub fn observe(
        &mut self,
        id: SeriesId,
        value: f64,
        timestamp_ms: i64,
        now_ms: i64,
        sink: &mut impl Sink<E>,
    ) -> Stats {
        let mut stats = Stats::default();
        let Some(series) = self.series.get_mut(id as usize) else {
            return stats;
        };
        if series.has_value && timestamp_ms < series.timestamp_ms {
            return stats;
        }
        series.value = value;
        series.timestamp_ms = timestamp_ms;
        series.has_value = true;
        stats.samples = 1;
        if value.is_nan() {
            return stats;
        }
        for k in 0..self.series[id as usize].slots.len() {
            let slot = self.series[id as usize].slots[k];
            let Some(inst) = self.instances.get_mut(slot.instance as usize) else {
                continue;
            };
            let mut arm = false;
            for (i, leaf) in inst.leaves.iter_mut().enumerate() {
                if slot.leaves & (1 << i) == 0 {
                    continue;
                }
                match leaf {
                    LeafState::Latest(_) => {}
                    LeafState::Window(w) => w.insert(&mut self.rings, timestamp_ms, value),
                    LeafState::Silent { last_ms, .. } => {
                        *last_ms = Some(now_ms);
                        arm = true;
                    }
                    LeafState::Appeared { seen, .. } => *seen = true,
                }
            }
            inst.last_ts = inst.last_ts.max(timestamp_ms);
            stats.evaluations += 1;
            let Some(rule) = self.rules.get(inst.rule as usize) else {
                continue;
            };
            if arm && !inst.armed {
                // Lazily: a later sample only moves `last_ms`; the timer re-checks when it
                // comes back and re-inserts itself at the real deadline.
                if let Some(d) = inst.next_deadline(rule, now_ms) {
                    self.wheel.insert(now_ms, d, slot.instance);
                    inst.armed = true;
                }
            }
            let p = rule.params(inst.ov);
            let verdict = inst.verdict(rule, &p, &self.series, &mut self.rings, now_ms);
            let t = inst.state.step(verdict, p.for_ms, now_ms);
            track_pending(&mut self.pending, slot.instance, t);
            emit(sink, Cause::Sample, t, rule, inst, &self.series, now_ms);
        }
        stats
    }

    /// Promotes pending alerts whose `for` has elapsed, and wakes instances whose silence or
    /// grace period ran out, at `now_ms`.
    pub fn tick(&mut self, now_ms: i64, sink: &mut impl Sink<E>) -> Stats {
        let mut stats = Stats::default();
        for id in std::mem::take(&mut self.unstarted) {
            if let Some(inst) = self.instances.get_mut(id as usize) {
                for leaf in inst.leaves.iter_mut() {
                    if let LeafState::Appeared { since_ms, .. } = leaf {
                        since_ms.get_or_insert(now_ms);
                    }
                }
                if let Some(rule) = self.rules.get(inst.rule as usize)
                    && let Some(d) = inst.next_deadline(rule, now_ms)
                {
                    self.wheel.insert(now_ms, d, id);
                    inst.armed = true;
                }
            }
        }
        let pending: Vec<InstanceId> = self.pending.iter().copied().collect();
        for id in pending {
            let Some(inst) = self.instances.get_mut(id as usize) else {
                continue;
            };
            let Some(rule) = self.rules.get(inst.rule as usize) else {
                continue;
            };
            let t = inst.state.tick(rule.params(inst.ov).for_ms, now_ms);
            if t == Transition::Fired {
                self.pending.remove(&id);
                emit(sink, Cause::Sweep, t, rule, inst, &self.series, now_ms);
            }
        }
        let mut due = Vec::new();
        self.wheel.advance(now_ms, &mut due);
        for id in due {
            let Some(inst) = self.instances.get_mut(id as usize) else {
                continue;
            };
            if inst.rule == RETIRED && inst.armed {
                inst.armed = false;
                self.free_instances.push(id);
                continue;
            }
            let Some(rule) = self.rules.get(inst.rule as usize) else {
                continue;
            };
            inst.armed = false;
            stats.evaluations += 1;
            let p = rule.params(inst.ov);
            let verdict = inst.verdict(rule, &p, &self.series, &mut self.rings, now_ms);
            let t = inst.state.step(verdict, p.for_ms, now_ms);
            track_pending(&mut self.pending, id, t);
            emit(sink, Cause::Timer, t, rule, inst, &self.series, now_ms);
            if let Some(d) = inst.next_deadline(rule, now_ms) {
                self.wheel.insert(now_ms, d, id);
                inst.armed = true;
            }
        }
        stats
    }

    /// The latest value of every series that has one.
    pub fn latest(&self) -> Vec<Sample> {
        self.series
            .iter()
            .filter(|s| s.has_value)
            .map(|s| Sample::new(s.name.clone(), s.labels.clone(), s.value, s.timestamp_ms))
            .collect()
    }

    /// How many instances of each rule (by index in [`Engine::rules`]) are in each state.
    pub fn state_counts(&self) -> Vec<StateCounts> {
        let mut counts = vec![StateCounts::default(); self.rules.len()];
        for inst in &self.instances {
            if let Some(c) = counts.get_mut(inst.rule as usize) {
                match inst.state {
                    AlertState::Inactive => c.inactive += 1,
                    AlertState::Pending { .. } => c.pending += 1,
                    AlertState::Firing { .. } => c.firing += 1,
                }
            }
        }
        counts
    }

    /// Every instance of rule `name` with its labels and state.
    pub fn alerts(&self, name: &str) -> Vec<(Labels, AlertState)> {
        self.instances
            .iter()
            .filter(|i| self.rule(i.rule).is_some_and(|r| r.name == name))
            .map(|i| (i.labels(&self.series).clone(), i.state))
            .collect()
    }
}

/// Puts `item` in the first freed place of `table`, or at its end; its index.
fn place<T>(table: &mut Vec<T>, free: &mut Vec<u32>, item: T) -> u32 {
    match free.pop() {
        Some(id) => {
            table[id as usize] = item;
            id
        }
        None => {
            table.push(item);
            u32::try_from(table.len() - 1).unwrap_or(u32::MAX)
        }
    }
}

#[inline]
fn track_pending(pending: &mut HashSet<InstanceId>, id: InstanceId, t: Transition) {
    match t {
        Transition::Pending => {
            pending.insert(id);
        }
        Transition::Cancelled | Transition::Fired => {
            pending.remove(&id);
        }
        Transition::None | Transition::Resolved => {}
    }
}

fn emit<E>(
    sink: &mut impl Sink<E>,
    cause: Cause,
    transition: Transition,
    rule: &Rule,
    inst: &mut Instance<E>,
    series: &[Series],
    now_ms: i64,
) {
    let firing = inst.state.is_firing();
    let labels = match &inst.labels {
        LabelsOf::Series(id) => &series[*id as usize].labels,
        LabelsOf::Own(l) => &**l,
    };
    sink.event(Event {
        cause,
        transition,
        firing,
        rule,
        labels,
        fingerprint: inst.fingerprint,
        value: inst.value,
        override_index: inst.ov,
        now_ms,
        ext: &mut inst.ext,
    });
}
