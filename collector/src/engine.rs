//! The rule driver: `patrol_rules::engine` (series table, windows, timers, alert states)
//! turned into incident [`Change`]s for the store, with flap detection per (rule, series).
//!
//! The evaluation itself lives in `patrol-rules` so that `patrolctl rules test` runs the same
//! code; what an evaluation *means* for incidents — open, resolve, hold a resolve back while a
//! series flaps — is decided here. Time is an argument everywhere.

use std::sync::Arc;

use patrol_proto::{Labels, Sample};
use patrol_rules::engine::{self as rules_engine, Cause, Event, Sink};
use patrol_rules::{RuleSet, Transition};

use patrol_site::flap::{self, Flap, FlapChange};
use patrol_store::Change;

pub use patrol_rules::engine::{NoHistory, SeriesId, StateCounts, WindowSource};

/// Flap state of one (rule, series), carried across reloads with the alert state.
#[derive(Debug, Default)]
pub struct FlapSlot {
    flap: Flap,
    /// A resolve was held back because the series is flapping: its incident stays live and
    /// the next firing continues it instead of opening or reopening one.
    held: bool,
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
    inner: rules_engine::Engine<FlapSlot>,
    /// Flap detection thresholds (percent): start above the first, stop below the second.
    flap_thresholds: (f64, f64),
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>) -> Self {
        Self {
            inner: rules_engine::Engine::new(rules),
            flap_thresholds: (flap::DEFAULT_HIGH, flap::DEFAULT_LOW),
        }
    }

    /// Sets the flap thresholds (the site's `[incidents] flap_high/flap_low`).
    pub fn set_flap_thresholds(&mut self, high: f64, low: f64) {
        self.flap_thresholds = (high, low);
    }

    /// Marks (rule, series fingerprint) pairs as already firing since `since_ms`, so a restart
    /// continues the open incidents instead of opening them again.
    pub fn restore_firing(&mut self, rule: &str, fingerprint: u64, since_ms: i64) {
        self.inner.restore_firing(rule, fingerprint, since_ms);
    }

    /// Refills windows from the sample history after a restart (see
    /// [`patrol_rules::engine::WindowSource`]); `open` are the (rule, labels) of the open
    /// incidents. Evaluates nothing: a restart neither opens nor resolves by itself.
    pub fn warm_up(
        &mut self,
        source: &dyn WindowSource,
        open: &[(String, Labels)],
        now_ms: i64,
    ) -> usize {
        self.inner.warm_up(source, open, now_ms)
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        self.inner.rules()
    }

    pub fn series_count(&self) -> usize {
        self.inner.series_count()
    }

    /// The id of a series if it exists; creates nothing.
    pub fn lookup(&self, name: &str, labels: &Labels) -> Option<SeriesId> {
        self.inner.lookup(name, labels)
    }

    /// The name and labels of a series (`None` for a freed or unknown id).
    pub fn key(&self, id: SeriesId) -> Option<(&str, &Labels)> {
        self.inner.key(id)
    }

    /// Frees a series whose agent is long gone (see [`patrol_rules::engine::Engine::forget`]);
    /// a firing incident of its is continued, not reopened, if the series comes back.
    pub fn forget(&mut self, id: SeriesId) -> bool {
        self.inner.forget(id)
    }

    /// How many (rule, series) of each rule are inactive, pending and firing.
    pub fn state_counts(&self) -> Vec<StateCounts> {
        self.inner.state_counts()
    }

    /// Returns the id of a series, creating it (and its rule instances) on first sight.
    pub fn intern(&mut self, name: &str, labels: &Labels) -> SeriesId {
        self.inner.intern(name, labels)
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
        let mut sink = ToChanges {
            out,
            stats,
            flap: self.flap_thresholds,
        };
        let s = self
            .inner
            .observe(id, value, timestamp_ms, now_ms, &mut sink);
        sink.stats.samples += s.samples;
        sink.stats.rule_evaluations += s.evaluations;
    }

    /// Promotes pending alerts whose `for` has elapsed and wakes series whose silence
    /// (`absent(m[d])`) or grace (`absent(m)`) ran out; the collector calls it from its
    /// periodic sweep.
    pub fn tick(&mut self, now_ms: i64, out: &mut Vec<Change>, stats: &mut Evaluated) {
        let mut sink = ToChanges {
            out,
            stats,
            flap: self.flap_thresholds,
        };
        let s = self.inner.tick(now_ms, &mut sink);
        sink.stats.rule_evaluations += s.evaluations;
    }

    /// Swaps in a new rule set, keeps states (and windows) of rules that kept their name,
    /// resolves incidents of rules that are gone, and re-evaluates every series at once.
    pub fn replace_rules(&mut self, rules: Arc<RuleSet>, now_ms: i64, out: &mut Vec<Change>) {
        let mut stats = Evaluated::default();
        let mut sink = ToChanges {
            out,
            stats: &mut stats,
            flap: self.flap_thresholds,
        };
        self.inner.replace_rules(rules, now_ms, &mut sink);
    }

    /// The latest value of every series that has one.
    pub fn latest(&self) -> Vec<Sample> {
        self.inner.latest()
    }
}

/// Turns evaluations into incident changes.
struct ToChanges<'a> {
    out: &'a mut Vec<Change>,
    stats: &'a mut Evaluated,
    flap: (f64, f64),
}

impl Sink<FlapSlot> for ToChanges<'_> {
    // Runs for every evaluation: the common case (a sample that changes nothing) is kept small
    // enough to inline into the engine's loop, the rest is `changed`.
    #[inline]
    fn event(&mut self, ev: Event<'_, FlapSlot>) {
        if ev.cause == Cause::Sample
            && ev.transition == Transition::None
            && ev.ext.flap.is_steady(ev.firing)
        {
            ev.ext.flap.record_steady();
            return;
        }
        self.changed(ev);
    }
}

impl ToChanges<'_> {
    #[inline(never)]
    fn changed(&mut self, mut ev: Event<'_, FlapSlot>) {
        let (high, low) = self.flap;
        match ev.cause {
            Cause::Removed => {
                // The rule is gone: nothing is left to flap.
                self.out.push(Change::Resolve {
                    rule: ev.rule.name.clone(),
                    fingerprint: ev.fingerprint,
                    value: ev.value,
                    at_ms: ev.now_ms,
                });
            }
            Cause::Sample => {
                let flap_change = ev.ext.flap.record(ev.firing, high, low);
                let emit = gate(ev.ext, ev.transition);
                self.record(&ev, emit);
                if let Some(change) = flap_change {
                    flapped(&mut ev, change, self.out);
                }
            }
            Cause::Sweep | Cause::Timer | Cause::Reload => {
                let emit = gate(ev.ext, ev.transition);
                self.record(&ev, emit);
            }
        }
    }

    fn record(&mut self, ev: &Event<'_, FlapSlot>, emit: bool) {
        if !emit {
            return;
        }
        match ev.transition {
            Transition::Fired => {
                self.stats.fired += 1;
                self.out.push(Change::Open {
                    rule: ev.rule.name.clone(),
                    severity: ev.rule.severity.name.clone(),
                    fingerprint: ev.fingerprint,
                    host: ev.labels.get("host").unwrap_or_default().to_owned(),
                    labels: ev.labels.clone(),
                    summary: ev.summary(),
                    threshold: ev.threshold_detail(),
                    value: ev.value,
                    at_ms: ev.now_ms,
                });
            }
            Transition::Resolved => {
                self.stats.resolved += 1;
                self.out.push(Change::Resolve {
                    rule: ev.rule.name.clone(),
                    fingerprint: ev.fingerprint,
                    value: ev.value,
                    at_ms: ev.now_ms,
                });
            }
            Transition::None | Transition::Pending | Transition::Cancelled => {}
        }
    }
}

/// Whether a transition becomes an incident change, given flapping: while a series flaps its
/// resolves are held back (the incident stays live, marked flapping), and a firing that follows
/// a held resolve continues that incident, so a flapping series is one incident, not a storm.
fn gate(slot: &mut FlapSlot, t: Transition) -> bool {
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
fn flapped(ev: &mut Event<'_, FlapSlot>, change: FlapChange, out: &mut Vec<Change>) {
    out.push(Change::Flapping {
        rule: ev.rule.name.clone(),
        fingerprint: ev.fingerprint,
        flapping: change == FlapChange::Started,
        percent: ev.ext.flap.percent(),
        at_ms: ev.now_ms,
    });
    if change == FlapChange::Stopped && ev.ext.held && !ev.firing {
        ev.ext.held = false;
        out.push(Change::Resolve {
            rule: ev.rule.name.clone(),
            fingerprint: ev.fingerprint,
            value: ev.value,
            at_ms: ev.now_ms,
        });
    }
}

#[cfg(test)]
mod tests;
