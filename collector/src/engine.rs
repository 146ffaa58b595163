//! The latest-value series table and event-driven rule evaluation.
//!
//! A series is interned once (name + full label set, fingerprint hashed once) and then referred
//! to by a [`SeriesId`]. Each series keeps the rules that can match it, with an alert state per
//! rule, computed when the series is first seen or when the rules change, so a sample costs only
//! the rules that name its metric and match its labels. Time is an argument everywhere.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use patrol_proto::model::fingerprint;
use patrol_proto::{Labels, Sample};
use patrol_rules::{AlertState, Rule, RuleSet, Transition};

use patrol_site::flap::{self, Flap, FlapChange};
use patrol_store::Change;

/// Index of a series in the table.
pub type SeriesId = u32;

struct Slot {
    rule: Arc<Rule>,
    state: AlertState,
    /// Flap detection over this (rule, series)'s evaluations.
    flap: Flap,
    /// A resolve was held back because the series is flapping: its incident stays live and
    /// the next firing continues it instead of opening or reopening one.
    held: bool,
}

struct Series {
    name: String,
    labels: Labels,
    fingerprint: u64,
    value: f64,
    timestamp_ms: i64,
    has_value: bool,
    slots: Vec<Slot>,
}

/// What a rule decided, for counting and logging.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluated {
    pub samples: u64,
    pub rule_evaluations: u64,
    pub fired: u64,
    pub resolved: u64,
}

pub struct Engine {
    rules: Arc<RuleSet>,
    ids: HashMap<String, HashMap<Labels, SeriesId>>,
    series: Vec<Series>,
    /// Slots in `Pending`, so the sweep that promotes them does not scan every series.
    pending: HashSet<(SeriesId, usize)>,
    /// Firing states restored from the store's open incidents, claimed as series reappear.
    restored: HashMap<(String, u64), i64>,
    /// Flap detection thresholds (percent): start above the first, stop below the second.
    flap_thresholds: (f64, f64),
    /// Ids of forgotten series, reused by the next new series (see [`Engine::forget`]).
    free: Vec<SeriesId>,
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self {
            rules,
            ids: HashMap::new(),
            series: Vec::new(),
            pending: HashSet::new(),
            restored: HashMap::new(),
            flap_thresholds: (flap::DEFAULT_HIGH, flap::DEFAULT_LOW),
            free: Vec::new(),
        }
    }

    /// Sets the flap thresholds (the site's `[incidents] flap_high/flap_low`).
    pub fn set_flap_thresholds(&mut self, high: f64, low: f64) {
        self.flap_thresholds = (high, low);
    }

    /// Marks (rule, series fingerprint) pairs as already firing since `since_ms`, so a restart
    /// continues the open incidents instead of opening them again.
    pub fn restore_firing(&mut self, rule: &str, fingerprint: u64, since_ms: i64) {
        self.restored
            .insert((rule.to_owned(), fingerprint), since_ms);
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    pub fn series_count(&self) -> usize {
        self.series.len() - self.free.len()
    }

    /// The id of a series if it exists; creates nothing.
    pub fn lookup(&self, name: &str, labels: &Labels) -> Option<SeriesId> {
        self.ids.get(name).and_then(|m| m.get(labels)).copied()
    }

    /// Frees a series (its agent is long gone): its value and rule states go, and its id is
    /// reused. A firing or held state is kept aside as restored, so a series that comes back
    /// continues its open incident instead of opening a second one. The caller makes sure
    /// nothing still refers to `id` (ingest streams map wire ids to series ids).
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
        for (i, slot) in slots.iter().enumerate() {
            self.pending.remove(&(id, i));
            match slot.state {
                AlertState::Firing { since_ms } => {
                    self.restored
                        .insert((slot.rule.name.clone(), s.fingerprint), since_ms);
                }
                _ if slot.held => {
                    self.restored
                        .insert((slot.rule.name.clone(), s.fingerprint), 0);
                }
                _ => {}
            }
        }
        if let Some(m) = self.ids.get_mut(&name) {
            m.remove(&labels);
            if m.is_empty() {
                self.ids.remove(&name);
            }
        }
        self.free.push(id);
        true
    }

    /// Returns the id of a series, creating it (and its rule slots) on first sight.
    pub fn intern(&mut self, name: &str, labels: &Labels) -> SeriesId {
        if let Some(id) = self.ids.get(name).and_then(|m| m.get(labels)) {
            return *id;
        }
        let fp = fingerprint(name, labels);
        let slots = self.slots_for(name, labels, fp, &[]);
        let series = Series {
            name: name.to_owned(),
            labels: labels.clone(),
            fingerprint: fp,
            value: f64::NAN,
            timestamp_ms: 0,
            has_value: false,
            slots,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.series[id as usize] = series;
                id
            }
            None => {
                self.series.push(series);
                (self.series.len() - 1) as SeriesId
            }
        };
        self.ids
            .entry(name.to_owned())
            .or_default()
            .insert(labels.clone(), id);
        id
    }

    fn slots_for(&mut self, name: &str, labels: &Labels, fp: u64, old: &[Slot]) -> Vec<Slot> {
        let mut slots = Vec::new();
        for &idx in self.rules.for_metric(name) {
            let Some(rule) = self.rules.get(idx) else {
                continue;
            };
            if !rule.expr.selector().matches_labels(labels) {
                continue;
            }
            // A rule keeps its state across a reload when its name stays, so editing a
            // threshold re-evaluates an open incident instead of opening a second one.
            let kept = old.iter().find(|s| s.rule.name == rule.name);
            let state = kept
                .map(|s| s.state)
                .or_else(|| {
                    self.restored
                        .remove(&(rule.name.clone(), fp))
                        .map(|since_ms| AlertState::Firing { since_ms })
                })
                .unwrap_or(AlertState::Inactive);
            slots.push(Slot {
                rule: Arc::clone(rule),
                state,
                flap: kept.map(|s| s.flap.clone()).unwrap_or_default(),
                held: kept.is_some_and(|s| s.held),
            });
        }
        slots
    }

    /// Records a sample of a known series and evaluates the rules that watch it.
    pub fn observe(
        &mut self,
        id: SeriesId,
        value: f64,
        timestamp_ms: i64,
        now_ms: i64,
        out: &mut Vec<Change>,
        stats: &mut Evaluated,
    ) {
        let Some(series) = self.series.get_mut(id as usize) else {
            return;
        };
        // A late (resent) sample must not overwrite a newer value.
        if series.has_value && timestamp_ms < series.timestamp_ms {
            return;
        }
        series.value = value;
        series.timestamp_ms = timestamp_ms;
        series.has_value = true;
        stats.samples += 1;
        let (high, low) = self.flap_thresholds;
        for (i, slot) in series.slots.iter_mut().enumerate() {
            stats.rule_evaluations += 1;
            let t = slot.rule.step(&mut slot.state, value, now_ms);
            let firing = matches!(slot.state, AlertState::Firing { .. });
            let flap_change = slot.flap.record(firing, high, low);
            let view = series_view(&series.name, &series.labels, series.fingerprint, value);
            let emit = gate(slot, t);
            record(
                t,
                emit,
                &slot.rule,
                &view,
                now_ms,
                (id, i),
                &mut self.pending,
                out,
                stats,
            );
            if let Some(change) = flap_change {
                flapped(slot, change, firing, &view, now_ms, out);
            }
        }
    }

    /// Promotes pending alerts whose `for` has elapsed without waiting for the next sample.
    pub fn tick(&mut self, now_ms: i64, out: &mut Vec<Change>, stats: &mut Evaluated) {
        let pending: Vec<_> = self.pending.iter().copied().collect();
        for (id, i) in pending {
            let Some(series) = self.series.get_mut(id as usize) else {
                continue;
            };
            let Some(slot) = series.slots.get_mut(i) else {
                continue;
            };
            let t = slot.rule.tick(&mut slot.state, now_ms);
            let emit = gate(slot, t);
            record(
                t,
                emit,
                &slot.rule,
                &series_view(
                    &series.name,
                    &series.labels,
                    series.fingerprint,
                    series.value,
                ),
                now_ms,
                (id, i),
                &mut self.pending,
                out,
                stats,
            );
        }
    }

    /// Swaps in a new rule set, keeps states of rules that kept their name, resolves incidents
    /// of rules that are gone, and re-evaluates every series on its latest value at once.
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>, now_ms: i64, out: &mut Vec<Change>) {
        self.rules = rules;
        self.pending.clear();
        let mut stats = Evaluated::default();
        for idx in 0..self.series.len() {
            let old = std::mem::take(&mut self.series[idx].slots);
            let (name, labels, fp) = {
                let s = &self.series[idx];
                (s.name.clone(), s.labels.clone(), s.fingerprint)
            };
            let slots = self.slots_for(&name, &labels, fp, &old);
            for gone in old
                .iter()
                .filter(|o| !slots.iter().any(|n| n.rule.name == o.rule.name))
            {
                if matches!(gone.state, AlertState::Firing { .. }) {
                    out.push(Change::Resolve {
                        rule: gone.rule.name.clone(),
                        fingerprint: fp,
                        value: self.series[idx].value,
                        at_ms: now_ms,
                    });
                }
            }
            self.series[idx].slots = slots;
            let s = &self.series[idx];
            if s.has_value {
                let (value, ts) = (s.value, s.timestamp_ms);
                // Re-evaluate with the latest value; the timestamp check passes (equal).
                self.observe(idx as SeriesId, value, ts, now_ms, out, &mut stats);
            }
        }
    }

    /// The latest value of every series that has one.
    pub fn latest(&self) -> Vec<Sample> {
        self.series
            .iter()
            .filter(|s| s.has_value)
            .map(|s| Sample::new(s.name.clone(), s.labels.clone(), s.value, s.timestamp_ms))
            .collect()
    }
}

struct SeriesView<'a> {
    name: &'a str,
    labels: &'a Labels,
    fingerprint: u64,
    value: f64,
}

fn series_view<'a>(
    name: &'a str,
    labels: &'a Labels,
    fingerprint: u64,
    value: f64,
) -> SeriesView<'a> {
    SeriesView {
        name,
        labels,
        fingerprint,
        value,
    }
}

/// Whether a transition becomes an incident change, given flapping: while a series flaps its
/// resolves are held back (the incident stays live, marked flapping), and a firing that follows
/// a held resolve continues that incident, so a flapping series is one incident, not a storm.
fn gate(slot: &mut Slot, t: Transition) -> bool {
    match t {
        Transition::Fired if slot.held => {
            slot.held = false;
            false
        }
        Transition::Resolved if slot.flap.is_flapping() => {
            slot.held = true;
            false
        }
        _ => true,
    }
}

/// Marks the live incident flapping or not; when flapping stops with the condition clear, the
/// held resolve goes through.
fn flapped(
    slot: &mut Slot,
    change: FlapChange,
    firing: bool,
    s: &SeriesView<'_>,
    now_ms: i64,
    out: &mut Vec<Change>,
) {
    out.push(Change::Flapping {
        rule: slot.rule.name.clone(),
        fingerprint: s.fingerprint,
        flapping: change == FlapChange::Started,
        percent: slot.flap.percent(),
        at_ms: now_ms,
    });
    if change == FlapChange::Stopped && slot.held && !firing {
        slot.held = false;
        out.push(Change::Resolve {
            rule: slot.rule.name.clone(),
            fingerprint: s.fingerprint,
            value: s.value,
            at_ms: now_ms,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn record(
    t: Transition,
    emit: bool,
    rule: &Rule,
    s: &SeriesView<'_>,
    now_ms: i64,
    key: (SeriesId, usize),
    pending: &mut HashSet<(SeriesId, usize)>,
    out: &mut Vec<Change>,
    stats: &mut Evaluated,
) {
    match t {
        Transition::None => {}
        Transition::Pending => {
            pending.insert(key);
        }
        Transition::Cancelled => {
            pending.remove(&key);
        }
        Transition::Fired => {
            pending.remove(&key);
            if !emit {
                return;
            }
            stats.fired += 1;
            out.push(Change::Open {
                rule: rule.name.clone(),
                severity: rule.severity.name.clone(),
                fingerprint: s.fingerprint,
                host: s.labels.get("host").unwrap_or_default().to_owned(),
                labels: s.labels.clone(),
                summary: rule.summary.render(s.name, s.value, s.labels),
                value: s.value,
                at_ms: now_ms,
            });
        }
        Transition::Resolved => {
            if !emit {
                return;
            }
            stats.resolved += 1;
            out.push(Change::Resolve {
                rule: rule.name.clone(),
                fingerprint: s.fingerprint,
                value: s.value,
                at_ms: now_ms,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_rules::Levels;

    fn rules(src: &str) -> Arc<RuleSet> {
        let rules = patrol_rules::file::parse_rules("t.toml", src, &Levels::default())
            .map_err(|d| d.iter().map(|d| d.to_string()).collect::<Vec<_>>())
            .unwrap();
        Arc::new(RuleSet::from_rules(rules))
    }

    const DISK: &str = r#"
[[rule]]
name = "disk_full"
expr = 'disk_used_percent{mount!="/boot"} > 90'
clear = 85
severity = "P2"
summary = "Disk {{mount}} at {{value}}% on {{host}}"
"#;

    fn disk(mount: &str) -> Labels {
        Labels::from_pairs([("host", "db1"), ("mount", mount)])
    }

    fn kinds(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Open { rule, summary, .. } => format!("open {rule}: {summary}"),
                Change::Resolve { rule, .. } => format!("resolve {rule}"),
                Change::Flapping { rule, flapping, .. } => format!("flapping {rule} {flapping}"),
            })
            .collect()
    }

    #[test]
    fn a_flapping_series_is_one_incident_marked_flapping_then_resolved_when_calm() {
        let mut e = Engine::new(rules(DISK));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        let mut t = 0;
        let mut feed = |e: &mut Engine, v: f64, out: &mut Vec<Change>| {
            t += 1000;
            e.observe(id, v, t, t, out, &mut st);
        };
        for i in 0..40 {
            feed(&mut e, if i % 2 == 0 { 95.0 } else { 50.0 }, &mut out);
        }
        let k = kinds(&out);
        // Opens and resolves until the detector starts (the 6th change), then nothing more.
        let started = k
            .iter()
            .position(|c| c == "flapping disk_full true")
            .unwrap();
        assert_eq!(
            k.iter().filter(|c| c.starts_with("flapping")).count(),
            1,
            "{k:?}"
        );
        assert!(k[started + 1..].is_empty(), "changes while flapping: {k:?}");
        assert!(
            k[..started]
                .iter()
                .all(|c| c.starts_with("open") || c.starts_with("resolve"))
        );
        // The last change before it was an open or a held resolve: the incident is live.
        out.clear();
        // Calm and clear: flapping stops, and the held resolve goes through once.
        for _ in 0..30 {
            feed(&mut e, 50.0, &mut out);
        }
        assert_eq!(
            kinds(&out),
            ["flapping disk_full false", "resolve disk_full"],
        );
    }

    #[test]
    fn breach_opens_and_clear_resolves_with_hysteresis() {
        let mut e = Engine::new(rules(DISK));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 91.5, 1, 1, &mut out, &mut st);
        assert_eq!(kinds(&out), vec!["open disk_full: Disk / at 91.5% on db1"]);
        out.clear();
        e.observe(id, 88.0, 2, 2, &mut out, &mut st);
        assert!(out.is_empty(), "88 is above clear 85: still firing");
        e.observe(id, 80.0, 3, 3, &mut out, &mut st);
        assert_eq!(kinds(&out), vec!["resolve disk_full"]);
        assert_eq!(
            (st.samples, st.rule_evaluations, st.fired, st.resolved),
            (3, 3, 1, 1)
        );
    }

    #[test]
    fn samples_of_other_metrics_or_unmatched_labels_cost_no_rule() {
        let mut e = Engine::new(rules(DISK));
        let boot = e.intern("disk_used_percent", &disk("/boot"));
        let cpu = e.intern("cpu_usage_percent", &Labels::new());
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(boot, 99.0, 1, 1, &mut out, &mut st);
        e.observe(cpu, 99.0, 1, 1, &mut out, &mut st);
        assert!(out.is_empty());
        assert_eq!(st.rule_evaluations, 0);
        assert_eq!(st.samples, 2);
    }

    #[test]
    fn interning_is_stable() {
        let mut e = Engine::new(rules(DISK));
        let a = e.intern("disk_used_percent", &disk("/"));
        let b = e.intern("disk_used_percent", &disk("/"));
        let c = e.intern("disk_used_percent", &disk("/data"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(e.series_count(), 2);
    }

    #[test]
    fn a_forgotten_series_frees_its_id_and_keeps_its_open_incident() {
        let mut e = Engine::new(rules(DISK));
        let root = e.intern("disk_used_percent", &disk("/"));
        let other = e.intern("disk_used_percent", &disk("/data"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(root, 95.0, 1, 1, &mut out, &mut st);
        assert_eq!(out.len(), 1);
        out.clear();
        assert!(e.forget(root));
        assert!(!e.forget(root), "forgotten once");
        assert_eq!(e.series_count(), 1);
        assert_eq!(e.lookup("disk_used_percent", &disk("/")), None);
        assert_eq!(e.lookup("disk_used_percent", &disk("/data")), Some(other));
        assert!(e.latest().is_empty(), "no value is left of it");
        // It comes back (its id reused): still firing, no second incident; it resolves later.
        let back = e.intern("disk_used_percent", &disk("/"));
        assert_eq!(back, root);
        e.observe(back, 96.0, 2, 2, &mut out, &mut st);
        assert!(out.is_empty(), "{:?}", kinds(&out));
        e.observe(back, 10.0, 3, 3, &mut out, &mut st);
        assert_eq!(kinds(&out), vec!["resolve disk_full"]);
    }

    #[test]
    fn late_sample_does_not_overwrite_newer_value() {
        let mut e = Engine::new(rules(DISK));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 50.0, 20, 20, &mut out, &mut st);
        e.observe(id, 95.0, 10, 21, &mut out, &mut st);
        assert!(out.is_empty());
        assert_eq!(e.latest()[0].value, 50.0);
    }

    #[test]
    fn sweep_promotes_pending_after_for() {
        let src = DISK.replace("clear = 85", "for = \"5m\"");
        let mut e = Engine::new(rules(&src));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 95.0, 0, 0, &mut out, &mut st);
        e.tick(299_999, &mut out, &mut st);
        assert!(out.is_empty(), "not yet: for is 5m");
        e.tick(300_000, &mut out, &mut st);
        assert_eq!(kinds(&out), vec!["open disk_full: Disk / at 95% on db1"]);
        out.clear();
        e.tick(400_000, &mut out, &mut st);
        assert!(out.is_empty(), "a firing alert is no longer swept");
    }

    #[test]
    fn reload_keeps_state_by_name_and_reevaluates_at_once() {
        let mut e = Engine::new(rules(DISK));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 95.0, 1, 1, &mut out, &mut st);
        assert_eq!(out.len(), 1);
        out.clear();
        // Same rule, same threshold: still firing, nothing new.
        e.replace_rules(rules(DISK), 2, &mut out);
        assert!(out.is_empty(), "{:?}", kinds(&out));
        // Threshold raised above the value: resolves on the spot, no sample needed.
        e.replace_rules(
            rules(&DISK.replace("> 90", "> 97").replace("85", "96")),
            3,
            &mut out,
        );
        assert_eq!(kinds(&out), vec!["resolve disk_full"]);
    }

    #[test]
    fn reload_without_the_rule_resolves_its_incidents() {
        let mut e = Engine::new(rules(DISK));
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 95.0, 1, 1, &mut out, &mut st);
        out.clear();
        e.replace_rules(Arc::new(RuleSet::default()), 2, &mut out);
        assert_eq!(kinds(&out), vec!["resolve disk_full"]);
    }

    #[test]
    fn restored_firing_state_does_not_reopen() {
        let mut e = Engine::new(rules(DISK));
        let fp = fingerprint("disk_used_percent", &disk("/"));
        e.restore_firing("disk_full", fp, 1);
        let id = e.intern("disk_used_percent", &disk("/"));
        let (mut out, mut st) = (Vec::new(), Evaluated::default());
        e.observe(id, 95.0, 2, 2, &mut out, &mut st);
        assert!(
            out.is_empty(),
            "the incident is already open: {:?}",
            kinds(&out)
        );
        e.observe(id, 10.0, 3, 3, &mut out, &mut st);
        assert_eq!(kinds(&out), vec!["resolve disk_full"]);
    }
}
