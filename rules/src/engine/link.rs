//! Linking series to the rules that read them: the alert instances a series feeds, created
//! when the series is first seen, and rebuilt when the rules are reloaded, each instance taking
//! over the state (and windows) of the instance its rule had before under the same name.

use std::collections::HashMap;
use std::sync::Arc;

use patrol_proto::Labels;
use patrol_proto::model::fingerprint;

use super::instance::{Instance, LabelsOf, LeafState, Leaves, Slot};
use super::{Cause, Engine, InstanceId, SeriesId, Sink, Slots, Wheel, emit, place, track_pending};
use crate::program::LeafKind;
use crate::rule::Rule;
use crate::set::RuleSet;
use crate::state::{AlertState, Transition};

impl<E: Default> Engine<E> {
    /// Swaps in a new rule set: instances of rules that kept their name keep their state (and
    /// their windows, when the expression reads the same leaves), incidents of rules that are
    /// gone are resolved, and every instance is re-evaluated at once on what it holds.
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>, now_ms: i64, sink: &mut impl Sink<E>) {
        let old_rules = std::mem::replace(&mut self.rules, rules);
        let mut old: HashMap<(String, u64), Instance<E>> = HashMap::new();
        for inst in std::mem::take(&mut self.instances) {
            match old_rules.get(inst.rule as usize) {
                Some(r) => {
                    if let Some(dup) = old.insert((r.name.clone(), inst.fingerprint), inst) {
                        dup.leaves.release(&mut self.rings);
                    }
                }
                None => inst.leaves.release(&mut self.rings),
            }
        }
        self.joins.clear();
        self.once.clear();
        self.unstarted.clear();
        self.pending.clear();
        self.free_instances.clear();
        self.wheel = Wheel::new();
        self.create_once_instances(&mut old);
        for id in 0..self.series.len() {
            if self.series[id].name.is_empty() {
                continue;
            }
            let id = SeriesId::try_from(id).unwrap_or(SeriesId::MAX);
            let slots = self.link(id, &mut old);
            self.series[id as usize].slots = slots;
        }
        // Rules that are gone (or no longer select the series): their incidents resolve.
        let mut gone: Vec<_> = old.into_iter().collect();
        gone.sort_by(|a, b| a.0.cmp(&b.0));
        for ((_, _), mut inst) in gone {
            std::mem::replace(&mut inst.leaves, Leaves::none()).release(&mut self.rings);
            if !inst.state.is_firing() {
                continue;
            }
            let Some(rule) = old_rules.get(inst.rule as usize) else {
                continue;
            };
            inst.state = AlertState::Inactive;
            emit(
                sink,
                Cause::Removed,
                Transition::Resolved,
                rule,
                &mut inst,
                &self.series,
                now_ms,
            );
        }
        for id in 0..self.instances.len() {
            let inst = &mut self.instances[id];
            let Some(rule) = self.rules.get(inst.rule as usize) else {
                continue;
            };
            let iid = InstanceId::try_from(id).unwrap_or(InstanceId::MAX);
            // Only what has been seen is re-evaluated: a kept `absent(m)` instance waits for
            // its grace as before.
            let p = rule.params(inst.ov);
            let verdict = if inst.last_ts == i64::MIN && !rule.program.is_absent_once() {
                None
            } else {
                inst.verdict(rule, &p, &self.series, &mut self.rings, now_ms)
            };
            let t = inst.state.step(verdict, p.for_ms, now_ms);
            track_pending(&mut self.pending, iid, t);
            if t != Transition::None {
                emit(sink, Cause::Reload, t, rule, inst, &self.series, now_ms);
            }
            if let Some(d) = inst.next_deadline(rule, now_ms) {
                self.wheel.insert(now_ms, d, iid);
                inst.armed = true;
            }
        }
    }

    /// The instances series `id` feeds under the current rules, created (or taken over from
    /// `old`, by rule name and fingerprint, on a reload) as needed.
    pub(super) fn link(
        &mut self,
        id: SeriesId,
        old: &mut HashMap<(String, u64), Instance<E>>,
    ) -> Slots {
        let rules = Arc::clone(&self.rules);
        let (name, labels) = {
            let s = &self.series[id as usize];
            (s.name.clone(), s.labels.clone())
        };
        let mut slots = Slots::new();
        let mut buf = Vec::new();
        for &idx in rules.candidates(&name, &labels, &mut buf) {
            let Some(rule) = rules.get(idx) else { continue };
            let p = &rule.program;
            let mut mask = 0u32;
            for (i, leaf) in p.leaves.iter().enumerate() {
                let sel = &p.selectors[leaf.selector];
                if sel.metric == name && sel.matches_labels(&labels) {
                    mask |= 1 << i;
                }
            }
            if mask == 0 {
                continue;
            }
            let rule_idx = u32::try_from(idx).unwrap_or(u32::MAX);
            let inst = if p.is_absent_once() {
                match self.once.get(&rule_idx) {
                    Some(&i) => i,
                    None => continue,
                }
            } else if p.selectors.len() > 1 {
                match self.joins.get(&(rule_idx, labels.clone())) {
                    Some(&i) => i,
                    None => {
                        let i =
                            self.new_instance(rule_idx, rule, LabelsOf::Series(id), &labels, old);
                        self.joins.insert((rule_idx, labels.clone()), i);
                        i
                    }
                }
            } else {
                self.new_instance(rule_idx, rule, LabelsOf::Series(id), &labels, old)
            };
            // Latest leaves read this series directly; an instance created for a series that
            // already has a value (a rule added by a reload) is evaluated on it at once.
            let (has_value, ts) = {
                let s = &self.series[id as usize];
                (s.has_value, s.timestamp_ms)
            };
            let instance = &mut self.instances[inst as usize];
            if has_value {
                instance.last_ts = instance.last_ts.max(ts);
            }
            for (i, leaf) in instance.leaves.iter_mut().enumerate() {
                if mask & (1 << i) != 0
                    && let LeafState::Latest(slot) = leaf
                {
                    *slot = Some(id);
                }
            }
            slots.push(Slot {
                instance: inst,
                leaves: mask,
            });
        }
        slots
    }

    fn new_instance(
        &mut self,
        rule_idx: u32,
        rule: &Rule,
        labels_of: LabelsOf,
        labels: &Labels,
        old: &mut HashMap<(String, u64), Instance<E>>,
    ) -> InstanceId {
        let fp = fingerprint(rule.metric(), labels);
        let key = (rule.name.clone(), fp);
        let prev = old.remove(&key);
        // A rule keeps its state across a reload when its name stays, so editing a threshold
        // re-evaluates an open incident instead of opening a second one; windows are kept too
        // when the expression reads the same leaves.
        let (kept, prev) = match prev {
            Some(mut p)
                if p.leaves.len() == rule.program.leaves.len()
                    && p.leaves
                        .iter()
                        .zip(&rule.program.leaves)
                        .all(|(a, b)| same_kind(a, b.kind)) =>
            {
                (
                    Some(std::mem::replace(&mut p.leaves, Leaves::none())),
                    Some(p),
                )
            }
            p => (None, p),
        };
        let leaves = match kept {
            Some(l) => l,
            None => rule
                .program
                .leaves
                .iter()
                .map(|l| LeafState::new(l.kind, &mut self.rings))
                .collect(),
        };
        let mut inst = Instance {
            rule: rule_idx,
            labels: labels_of,
            fingerprint: fp,
            ov: rule.override_for(labels),
            state: AlertState::Inactive,
            leaves,
            last_ts: i64::MIN,
            value: f64::NAN,
            armed: false,
            ext: E::default(),
        };
        if let Some(mut prev) = prev {
            inst.state = prev.state;
            inst.ext = prev.ext;
            inst.value = prev.value;
            inst.last_ts = prev.last_ts;
            std::mem::replace(&mut prev.leaves, Leaves::none()).release(&mut self.rings);
        } else if let Some(since_ms) = self.restored.remove(&key) {
            inst.state = AlertState::Firing { since_ms };
        }
        let pending = matches!(inst.state, AlertState::Pending { .. });
        let id = place(&mut self.instances, &mut self.free_instances, inst);
        if pending {
            self.pending.insert(id);
        }
        id
    }

    /// Creates the rule-level instances of `absent(m)` rules.
    pub(super) fn create_once_instances(&mut self, old: &mut HashMap<(String, u64), Instance<E>>) {
        let rules = Arc::clone(&self.rules);
        for (idx, rule) in rules.rules().iter().enumerate() {
            if !rule.program.is_absent_once() {
                continue;
            }
            let labels = rule.program.selectors[0].fixed_labels();
            let rule_idx = u32::try_from(idx).unwrap_or(u32::MAX);
            let had = old.contains_key(&(rule.name.clone(), fingerprint(rule.metric(), &labels)));
            let id = self.new_instance(
                rule_idx,
                rule,
                LabelsOf::Own(Box::new(labels.clone())),
                &labels,
                old,
            );
            self.once.insert(rule_idx, id);
            if !had {
                self.unstarted.push(id);
            }
        }
    }
}

/// Whether a leaf state keeps what a leaf of `kind` needs (same window function and range,
/// ...), so a reloaded rule can take the old state over.
fn same_kind(a: &LeafState, kind: LeafKind) -> bool {
    match (a, kind) {
        (LeafState::Latest(_), LeafKind::Latest) => true,
        (LeafState::Window(x), LeafKind::Window(func, range_ms)) => {
            x.func() == func && x.range_ms() == range_ms.max(1)
        }
        (LeafState::Silent { range_ms: x, .. }, LeafKind::Silent(y)) => *x == y,
        (LeafState::Appeared { .. }, LeafKind::Appeared) => true,
        _ => false,
    }
}
