//! A checked, compiled rule: what evaluation works with (it never sees raw TOML).

use std::time::Duration;

use crate::expr::Expr;
use crate::level::Severity;
use crate::template::Template;

/// The rule name incidents opened by hand carry (`patrolctl incidents create`); no rule file
/// may use it, so a rule's incident is never taken for a reported one.
pub const MANUAL_RULE: &str = "manual";

/// One alerting rule, validated at load. The state machine lives in `state.rs`
/// ([`Rule::step`], [`Rule::tick`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique across the loaded set; `[a-zA-Z_][a-zA-Z0-9_]*`.
    pub name: String,
    /// The condition; a selected series whose value makes it true is in breach.
    pub expr: Expr,
    /// How long a breach must hold before the alert fires (the TOML key is `for`).
    pub for_: Duration,
    /// Hysteresis: once firing, resolve only when the value crosses this (only for
    /// `> >= < <=`, and on the resolving side of the threshold).
    pub clear: Option<f64>,
    /// Checked against the configured levels.
    pub severity: Severity,
    /// The one-line description of a firing alert.
    pub summary: Template,
    /// The file the rule came from, as given to the loader.
    pub file: String,
    /// 1-based line of the rule's `name` in `file`.
    pub line: usize,
}

impl Rule {
    /// The metric this rule reads.
    pub fn metric(&self) -> &str {
        self.expr.metric()
    }
}
