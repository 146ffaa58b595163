//! One alert instance — a rule applied to one label set — with the state of each leaf of the
//! rule's program, and how it evaluates.

use patrol_proto::Labels;

use crate::program::{LeafKind, Verdict};
use crate::rule::{Params, Rule};
use crate::state::AlertState;
use crate::window::{Rings, Window};

use super::{InstanceId, Series, SeriesId};

/// What one leaf of one instance keeps.
#[derive(Debug)]
pub(super) enum LeafState {
    /// Reads the latest value of this series (once a series for the selector appeared).
    Latest(Option<SeriesId>),
    /// A window over the selector's series (its buckets are in the engine's [`Rings`]).
    Window(Window),
    /// `absent(m[range])`: when the series' last sample arrived (`None`: never yet).
    Silent { last_ms: Option<i64>, range_ms: i64 },
    /// `absent(m)`: whether a matching series appeared, and since when it has been waited for
    /// (`None` until the engine's first tick after the rule was loaded).
    Appeared { seen: bool, since_ms: Option<i64> },
}

impl LeafState {
    pub(super) fn new(kind: LeafKind, rings: &mut Rings) -> LeafState {
        match kind {
            LeafKind::Latest => LeafState::Latest(None),
            LeafKind::Window(func, range) => LeafState::Window(Window::new(func, range, rings)),
            LeafKind::Silent(range_ms) => LeafState::Silent {
                last_ms: None,
                range_ms,
            },
            LeafKind::Appeared => LeafState::Appeared {
                seen: false,
                since_ms: None,
            },
        }
    }
}

/// An instance's leaf states: inside the instance when there is one (most rules: one metric,
/// one comparison), so evaluating it touches no other allocation; boxed otherwise.
#[derive(Debug)]
pub(super) enum Leaves {
    One(LeafState),
    Many(Box<[LeafState]>),
}

impl Leaves {
    /// No leaves (a retired instance's).
    pub(super) fn none() -> Leaves {
        Leaves::Many(Box::new([]))
    }

    /// Gives the windows' buckets back to `rings`.
    pub(super) fn release(self, rings: &mut Rings) {
        let all: Box<[LeafState]> = match self {
            Leaves::One(l) => Box::new([l]),
            Leaves::Many(b) => b,
        };
        for leaf in all {
            if let LeafState::Window(w) = leaf {
                w.release(rings);
            }
        }
    }
}

impl std::ops::Deref for Leaves {
    type Target = [LeafState];

    fn deref(&self) -> &[LeafState] {
        match self {
            Leaves::One(l) => std::slice::from_ref(l),
            Leaves::Many(b) => b,
        }
    }
}

impl std::ops::DerefMut for Leaves {
    fn deref_mut(&mut self) -> &mut [LeafState] {
        match self {
            Leaves::One(l) => std::slice::from_mut(l),
            Leaves::Many(b) => b,
        }
    }
}

impl FromIterator<LeafState> for Leaves {
    fn from_iter<I: IntoIterator<Item = LeafState>>(iter: I) -> Self {
        let mut all: Vec<LeafState> = iter.into_iter().collect();
        match (all.pop(), all.is_empty()) {
            (Some(one), true) => Leaves::One(one),
            (Some(last), false) => {
                all.push(last);
                Leaves::Many(all.into_boxed_slice())
            }
            (None, _) => Leaves::Many(Box::new([])),
        }
    }
}

/// Whose labels an instance has: the series that created it (no copy), or its own.
#[derive(Debug, Clone)]
pub(super) enum LabelsOf {
    Series(SeriesId),
    Own(Box<Labels>),
}

/// A rule applied to one label set.
#[derive(Debug)]
pub(super) struct Instance<E> {
    /// Index of the rule in the engine's rule set.
    pub rule: u32,
    pub labels: LabelsOf,
    /// The incident identity: `fingerprint(rule's first metric, labels)`.
    pub fingerprint: u64,
    /// The override in force for these labels.
    pub ov: Option<u16>,
    pub state: AlertState,
    pub leaves: Leaves,
    /// Newest sample timestamp fed: the time windows are evaluated at.
    pub last_ts: i64,
    /// The last evaluated value, for events that have no sample (sweeps, timers).
    pub value: f64,
    /// A timer for this instance is in the wheel.
    pub armed: bool,
    /// The caller's per-instance data (the collector's flap detector).
    pub ext: E,
}

impl<E> Instance<E> {
    pub(super) fn labels<'a>(&'a self, series: &'a [Series]) -> &'a Labels {
        match &self.labels {
            LabelsOf::Series(id) => &series[*id as usize].labels,
            LabelsOf::Own(l) => l,
        }
    }

    /// Evaluates the rule for these labels: windows at `last_ts`, silences at `now_ms`.
    /// `p` are the rule's parameters for this instance (`rule.params(self.ov)`).
    pub(super) fn verdict(
        &mut self,
        rule: &Rule,
        p: &Params,
        series: &[Series],
        rings: &mut Rings,
        now_ms: i64,
    ) -> Option<Verdict> {
        let t = self.last_ts;
        let grace = rule.grace_ms();
        let leaves = &mut self.leaves;
        let v = rule
            .program
            .verdict(p.threshold, p.clear, &mut |i| match leaves.get_mut(i)? {
                LeafState::Latest(Some(id)) => {
                    let s = series.get(*id as usize)?;
                    s.has_value.then_some(s.value)
                }
                LeafState::Latest(None) => None,
                LeafState::Window(w) => w.value(rings, t),
                LeafState::Silent { last_ms, range_ms } => Some(match last_ms {
                    Some(last) if now_ms.saturating_sub(*last) >= *range_ms => 1.0,
                    _ => 0.0,
                }),
                LeafState::Appeared { seen, since_ms } => Some(match since_ms {
                    Some(since) if !*seen && now_ms.saturating_sub(*since) >= grace => 1.0,
                    _ => 0.0,
                }),
            });
        if let Some(v) = &v {
            self.value = v.value;
        }
        v
    }

    /// The earliest future time a silence or a grace period of this instance runs out, if any.
    pub(super) fn next_deadline(&self, rule: &Rule, now_ms: i64) -> Option<i64> {
        self.leaves
            .iter()
            .filter_map(|l| match l {
                LeafState::Silent {
                    last_ms: Some(last),
                    range_ms,
                } => Some(last.saturating_add(*range_ms)),
                LeafState::Appeared {
                    seen: false,
                    since_ms: Some(since),
                } => Some(since.saturating_add(rule.grace_ms())),
                _ => None,
            })
            .filter(|&d| d > now_ms)
            .min()
    }
}

/// A series' link to an instance: which leaves of it the series feeds (bit `i` = leaf `i`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Slot {
    pub instance: InstanceId,
    pub leaves: u32,
}
