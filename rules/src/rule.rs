//! A checked, compiled rule: what evaluation works with (it never sees raw TOML).

use std::time::Duration;

use patrol_proto::Labels;

use crate::expr::{Expr, MatchOp, Matcher};
use crate::level::Severity;
use crate::program::Program;
use crate::template::Template;

/// The rule name incidents opened by hand carry (`patrolctl incidents create`); no rule file
/// may use it, so a rule's incident is never taken for a reported one.
pub const MANUAL_RULE: &str = "manual";

/// How long `absent(m{…})` (no range) waits after the rule is loaded for a first matching
/// series before it breaches, unless the rule sets `grace`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(600);

/// One alerting rule, validated at load. The state machine lives in `state.rs`, evaluation in
/// `program.rs`, the per-series state in `engine/`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique across the loaded set; `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub name: String,
    /// The condition; a series for which it holds is in breach.
    pub expr: Expr,
    /// `expr` compiled.
    pub program: Program,
    /// How long a breach must hold before the alert fires (the TOML key is `for`).
    pub for_: Duration,
    /// Hysteresis: once firing, resolve only when the value crosses this (only for an
    /// expression that is one comparison `> >= < <=` with a number, on the resolving side).
    pub clear: Option<f64>,
    /// Checked against the configured levels.
    pub severity: Severity,
    /// The one-line description of a firing alert.
    pub summary: Template,
    /// Per-label exceptions, in file order.
    pub overrides: Vec<Override>,
    /// Override indices, most specific first: the first that matches a series applies.
    pub(crate) precedence: Vec<u16>,
    /// [`Rule::params`] worked out at load: the rule's own first, then each override's, so
    /// evaluating a sample does not walk the expression for its threshold.
    pub(crate) resolved: Vec<Params>,
    /// For `absent(m{…})` without a range: how long after loading it waits for a series.
    pub grace: Duration,
    /// The file the rule came from, as given to the loader.
    pub file: String,
    /// 1-based line of the rule's `name` in `file`.
    pub line: usize,
}

/// A per-label exception to a rule's threshold, `clear` or `for`.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// All must match the series' labels.
    pub matchers: Vec<Matcher>,
    /// The `match` string as written, for messages and the incident's detail.
    pub source: String,
    /// Replaces the rule's threshold.
    pub threshold: Option<f64>,
    /// Replaces the rule's `clear`.
    pub clear: Option<f64>,
    /// Replaces the rule's `for`.
    pub for_: Option<Duration>,
    /// 1-based line of the override in the rule's file.
    pub line: usize,
}

impl Override {
    /// How many matchers are equalities: the first criterion of precedence.
    pub fn equalities(&self) -> usize {
        self.matchers
            .iter()
            .filter(|m| m.op == MatchOp::Equal)
            .count()
    }

    /// Whether the series' labels satisfy every matcher.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matchers
            .iter()
            .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
    }
}

/// The parameters in force for one series: the rule's, or an override's where it sets them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// The threshold of the threshold comparison.
    pub threshold: Option<f64>,
    /// `clear`.
    pub clear: Option<f64>,
    /// `for`, ms.
    pub for_ms: i64,
}

/// Orders override indices by precedence: most equality matchers, then most matchers, then
/// file order.
pub fn precedence(overrides: &[Override]) -> Vec<u16> {
    let mut order: Vec<u16> = (0..overrides.len())
        .filter_map(|i| u16::try_from(i).ok())
        .collect();
    order.sort_by_key(|&i| {
        let o = &overrides[usize::from(i)];
        (
            std::cmp::Reverse(o.equalities()),
            std::cmp::Reverse(o.matchers.len()),
            i,
        )
    });
    order
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Rule {
    /// The metric this rule reads first (see [`Expr::metric`]).
    pub fn metric(&self) -> &str {
        self.expr.metric()
    }

    /// The override that applies to a series with these labels, if any.
    pub fn override_for(&self, labels: &Labels) -> Option<u16> {
        self.precedence
            .iter()
            .copied()
            .find(|&i| self.overrides[usize::from(i)].matches(labels))
    }

    /// The parameters in force under override `ov` (or the rule's own with `None`).
    #[inline]
    pub fn params(&self, ov: Option<u16>) -> Params {
        let k = ov.map_or(0, |i| usize::from(i) + 1);
        match self.resolved.get(k) {
            Some(p) => *p,
            None => self.work_out_params(ov),
        }
    }

    /// Every [`Rule::params`], for [`Rule::resolved`].
    pub(crate) fn resolve_params(&self) -> Vec<Params> {
        std::iter::once(None)
            .chain((0..self.overrides.len()).map(|i| u16::try_from(i).ok()))
            .map(|ov| self.work_out_params(ov))
            .collect()
    }

    fn work_out_params(&self, ov: Option<u16>) -> Params {
        let o = ov.and_then(|i| self.overrides.get(usize::from(i)));
        Params {
            threshold: o
                .and_then(|o| o.threshold)
                .or_else(|| self.expr.threshold()),
            clear: o.and_then(|o| o.clear).or(self.clear),
            for_ms: millis(o.and_then(|o| o.for_).unwrap_or(self.for_)),
        }
    }

    /// `grace` in ms.
    pub fn grace_ms(&self) -> i64 {
        millis(self.grace)
    }

    /// How the threshold in force came about, for the incident's journal:
    /// `97 (override {tablespace="UNDOTBS1"} at rules/oracle.toml:14)` or `90 (rule)`.
    pub fn threshold_detail(&self, ov: Option<u16>) -> Option<String> {
        let p = self.params(ov);
        let t = crate::template::format_value(p.threshold?);
        Some(match ov.and_then(|i| self.overrides.get(usize::from(i))) {
            Some(o) => format!("{t} (override {} at {}:{})", o.source, self.file, o.line),
            None => format!("{t} (rule)"),
        })
    }
}
