//! The rules in force over one series: which rules watch it, the threshold each applies to it
//! (the rule's own or the per-label override that applies, through the rules crate's own
//! `override_for` / `params`, so the sheet shows what the engine compares), and which end of
//! the metric is bad according to the comparison.

use patrol_proto::Labels;
use patrol_rules::expr::Value;
use patrol_rules::{CmpOp, Expr, RuleSet};
use serde::{Deserialize, Serialize};

use crate::checks::Bad;

/// One rule watching a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// The rule's name.
    pub rule: String,
    /// Its level.
    pub severity: String,
    /// The comparison with the threshold (`>`), when the rule has one.
    pub op: Option<String>,
    /// The threshold in force for this series.
    pub threshold: Option<f64>,
    /// The override that set it (its `match`), when one applies.
    pub override_match: Option<String>,
    /// Whether the rule compares this series' latest value with the threshold directly
    /// (`metric > 90`), so a value beyond it is itself a finding. A window function or
    /// arithmetic is judged by the rule alone (its incidents).
    pub compares_value: bool,
}

impl Watch {
    /// Whether `value` is beyond the threshold, for a rule that compares it directly.
    pub fn breached_by(&self, value: f64) -> bool {
        match (self.compares_value, self.cmp(), self.threshold) {
            (true, Some(op), Some(t)) => op.holds(value, t),
            _ => false,
        }
    }

    /// The comparison, from its symbol.
    fn cmp(&self) -> Option<CmpOp> {
        let op = self.op.as_deref()?;
        [
            CmpOp::Gt,
            CmpOp::Ge,
            CmpOp::Lt,
            CmpOp::Le,
            CmpOp::Eq,
            CmpOp::Ne,
        ]
        .into_iter()
        .find(|c| c.as_str() == op)
    }

    /// Which end is bad by the comparison: `>`/`>=` high, `<`/`<=` low; `== 0` is a state that
    /// is bad when it reads 0, any other `==` bad when high; `!=` says nothing.
    pub fn bad(&self) -> Option<Bad> {
        match (self.cmp()?, self.threshold?) {
            (CmpOp::Gt | CmpOp::Ge, _) => Some(Bad::High),
            (CmpOp::Lt | CmpOp::Le, _) => Some(Bad::Low),
            (CmpOp::Eq, 0.0) => Some(Bad::Low),
            (CmpOp::Eq, _) => Some(Bad::High),
            (CmpOp::Ne, _) => None,
        }
    }
}

/// The rules of `rules` whose first metric is `metric` and that select the series: the rules
/// whose incidents are this series' incidents. In load order.
pub fn watches(rules: &RuleSet, metric: &str, labels: &Labels) -> Vec<Watch> {
    let mut buf = Vec::new();
    rules
        .candidates(metric, labels, &mut buf)
        .iter()
        .filter_map(|&i| rules.get(i))
        .filter(|r| r.metric() == metric && r.expr.selector().matches(metric, labels))
        .map(|r| {
            let ov = r.override_for(labels);
            let params = r.params(ov);
            let cmp = threshold_comparison(&r.expr);
            Watch {
                rule: r.name.clone(),
                severity: r.severity.name.clone(),
                op: cmp.map(|(op, _)| op.as_str().to_owned()),
                threshold: params.threshold,
                override_match: ov
                    .and_then(|i| r.overrides.get(usize::from(i)))
                    .filter(|o| o.threshold.is_some())
                    .map(|o| o.source.clone()),
                compares_value: cmp.is_some_and(|(_, direct)| direct) && params.threshold.is_some(),
            }
        })
        .collect()
}

/// The comparison whose number is the rule's threshold (the first comparison with a number
/// on its right, as `Expr::threshold` finds it), and whether its left side is the series'
/// latest value itself.
fn threshold_comparison(expr: &Expr) -> Option<(CmpOp, bool)> {
    match expr {
        Expr::Compare {
            lhs,
            op,
            rhs: Value::Number(_),
        } => Some((*op, matches!(lhs, Value::Series(_)))),
        Expr::Compare { .. } | Expr::Absent { .. } => None,
        Expr::Logic { lhs, rhs, .. } => {
            threshold_comparison(lhs).or_else(|| threshold_comparison(rhs))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patrol_rules::{Levels, parse_rules};

    fn set(src: &str) -> RuleSet {
        let rules =
            parse_rules("rules.toml", src, &Levels::default()).unwrap_or_else(|e| panic!("{e:?}"));
        RuleSet::from_rules(rules)
    }

    #[test]
    fn threshold_with_the_override_that_applies() {
        let rules = set(r#"
[[rule]]
name = "tablespace_high"
expr = 'oracle_tablespace_used_percent > 90'
severity = "P2"
summary = "x"
overrides = [{ match = '{tablespace="UNDOTBS1"}', threshold = 97 }]

[[rule]]
name = "other_metric"
expr = 'disk_used_percent > 90'
severity = "P2"
summary = "x"
"#);
        let undo = Labels::from_pairs([("host", "db1"), ("tablespace", "UNDOTBS1")]);
        let users = Labels::from_pairs([("host", "db1"), ("tablespace", "USERS")]);
        let w = watches(&rules, "oracle_tablespace_used_percent", &undo);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].threshold, Some(97.0));
        assert_eq!(
            w[0].override_match.as_deref(),
            Some(r#"{tablespace="UNDOTBS1"}"#)
        );
        assert!(!w[0].breached_by(96.0) && w[0].breached_by(97.5));
        let w = watches(&rules, "oracle_tablespace_used_percent", &users);
        assert_eq!(w[0].threshold, Some(90.0));
        assert_eq!(w[0].override_match, None);
        assert_eq!(w[0].bad(), Some(Bad::High));
        assert!(w[0].breached_by(90.5));
    }

    #[test]
    fn direction_and_direct_comparison() {
        let rules = set(r#"
[[rule]]
name = "fan"
expr = 'hw_fan_ok == 0'
severity = "P2"
summary = "x"

[[rule]]
name = "runtime"
expr = 'ups_battery_runtime_seconds < 600'
severity = "P2"
summary = "x"

[[rule]]
name = "cpu_avg"
expr = 'avg_over_time(cpu_usage_percent[10m]) > 90'
severity = "P3"
summary = "x"

[[rule]]
name = "only_db"
expr = 'cpu_usage_percent{role="db"} > 50'
severity = "P3"
summary = "x"
"#);
        let h = Labels::from_pairs([("host", "a")]);
        assert_eq!(watches(&rules, "hw_fan_ok", &h)[0].bad(), Some(Bad::Low));
        assert!(watches(&rules, "hw_fan_ok", &h)[0].breached_by(0.0));
        let r = &watches(&rules, "ups_battery_runtime_seconds", &h)[0];
        assert_eq!(r.bad(), Some(Bad::Low));
        // A window rule names the threshold but does not judge the latest value.
        let c = watches(&rules, "cpu_usage_percent", &h);
        assert_eq!(c.len(), 1, "the role=db rule does not select this host");
        assert_eq!(c[0].threshold, Some(90.0));
        assert!(!c[0].compares_value && !c[0].breached_by(99.0));
    }
}
