//! What the engine tells its caller: one [`Event`] per evaluation, to a [`Sink`], and the
//! counters of its work.

use patrol_proto::Labels;

use crate::rule::Rule;
use crate::state::Transition;

/// Why the engine evaluated an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// A sample of one of its series arrived.
    Sample,
    /// The periodic sweep: a pending alert's `for` ran out.
    Sweep,
    /// A timer: a series fell silent, or a grace period ended.
    Timer,
    /// The rules were reloaded and every instance re-evaluated at once.
    Reload,
    /// Its rule is gone from the reloaded set; a firing one resolves.
    Removed,
}

/// One evaluation, as the sink sees it.
pub struct Event<'a, E> {
    /// Why.
    pub cause: Cause,
    /// What changed.
    pub transition: Transition,
    /// Whether the instance is firing after this evaluation.
    pub firing: bool,
    /// The rule.
    pub rule: &'a Rule,
    /// The instance's labels (the series' full label set).
    pub labels: &'a Labels,
    /// Incident identity: `fingerprint(rule's first metric, labels)`.
    pub fingerprint: u64,
    /// The value `{{value}}` shows.
    pub value: f64,
    /// The override in force, if any.
    pub override_index: Option<u16>,
    /// When, ms.
    pub now_ms: i64,
    /// The caller's per-instance data.
    pub ext: &'a mut E,
}

impl<E> Event<'_, E> {
    /// The threshold in force for this series.
    pub fn threshold(&self) -> Option<f64> {
        self.rule.params(self.override_index).threshold
    }

    /// The rule's summary, rendered for this series now.
    pub fn summary(&self) -> String {
        self.rule.summary.render(
            self.rule.metric(),
            self.value,
            self.labels,
            self.threshold(),
        )
    }

    /// Which threshold applied and where it comes from, for the incident's journal.
    pub fn threshold_detail(&self) -> Option<String> {
        self.rule.threshold_detail(self.override_index)
    }
}

/// Receives every evaluation.
pub trait Sink<E> {
    /// One evaluation.
    fn event(&mut self, ev: Event<'_, E>);
}

impl<E, F: FnMut(Event<'_, E>)> Sink<E> for F {
    fn event(&mut self, ev: Event<'_, E>) {
        self(ev)
    }
}

/// Work counters of an `observe` or `tick`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Samples accepted (late ones are not).
    pub samples: u64,
    /// Instance evaluations.
    pub evaluations: u64,
}

/// How many instances of a rule are in each state.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StateCounts {
    /// No breach.
    pub inactive: u64,
    /// Breaching, `for` not elapsed.
    pub pending: u64,
    /// Incident open.
    pub firing: u64,
}
