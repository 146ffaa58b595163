//! A loaded rule set with a per-metric index, so samples of metrics no rule reads cost one
//! hash lookup, and a per-label index inside each metric, so linking a new series (at first
//! sight, and for every series on a reload) looks only at the rules that can select it: 10,000
//! rules of the form `disk_used_percent{host="h1", ...}` are not each matched against every
//! disk series.

use std::collections::HashMap;
use std::sync::Arc;

use patrol_proto::Labels;

use crate::expr::{MatchOp, Selector};
use crate::rule::Rule;

/// The rules in force, in load order (files by name, rules in file order).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Arc<Rule>>,
    by_metric: HashMap<String, MetricIndex>,
}

/// The rules reading one metric.
#[derive(Debug, Clone, Default)]
struct MetricIndex {
    /// All of them, in load order.
    all: Vec<usize>,
    /// Those that may select a series whatever its labels: checked for every series.
    unkeyed: Vec<usize>,
    /// Those whose every selector of this metric fixes a label (`host="db1"`): by label name,
    /// then value. A series can only be selected by the rules under its own labels.
    keyed: HashMap<String, HashMap<String, Vec<usize>>>,
}

/// The label a selector requires to have one non-empty value, if any (`env=""` selects series
/// without `env`, so it is no key).
fn key(s: &Selector) -> Option<(&str, &str)> {
    s.matchers
        .iter()
        .find(|m| m.op == MatchOp::Equal && !m.value.is_empty())
        .map(|m| (m.name.as_str(), m.value.as_str()))
}

impl RuleSet {
    /// Builds the set and its indexes. Does not check name uniqueness; the loaders do.
    pub fn from_rules(rules: Vec<Rule>) -> RuleSet {
        let rules: Vec<Arc<Rule>> = rules.into_iter().map(Arc::new).collect();
        let mut by_metric: HashMap<String, MetricIndex> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            // A rule reading several metrics (`a / b > 1`) is indexed under each, once.
            for s in &r.program.selectors {
                let ix = by_metric.entry(s.metric.clone()).or_default();
                if ix.all.last() == Some(&i) {
                    continue;
                }
                ix.all.push(i);
                let of_metric = || r.program.selectors.iter().filter(|x| x.metric == s.metric);
                if of_metric().all(|x| key(x).is_some()) {
                    for (name, value) in of_metric().filter_map(key) {
                        let list = ix
                            .keyed
                            .entry(name.to_owned())
                            .or_default()
                            .entry(value.to_owned())
                            .or_default();
                        if list.last() != Some(&i) {
                            list.push(i);
                        }
                    }
                } else {
                    ix.unkeyed.push(i);
                }
            }
        }
        RuleSet { rules, by_metric }
    }

    /// Indices of the rules that may select the series `metric{labels}`, in load order: a
    /// superset of those whose selectors match (the caller matches), usually far smaller than
    /// [`RuleSet::for_metric`]. `buf` holds the result when it has to be assembled.
    pub fn candidates<'a>(
        &'a self,
        metric: &str,
        labels: &Labels,
        buf: &'a mut Vec<usize>,
    ) -> &'a [usize] {
        let Some(ix) = self.by_metric.get(metric) else {
            return &[];
        };
        if ix.keyed.is_empty() {
            return &ix.all;
        }
        buf.clear();
        buf.extend_from_slice(&ix.unkeyed);
        for (name, value) in labels.iter() {
            if let Some(list) = ix.keyed.get(name).and_then(|v| v.get(value)) {
                buf.extend_from_slice(list);
            }
        }
        buf.sort_unstable();
        buf.dedup();
        buf
    }

    /// All rules, in load order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// Indices (into [`RuleSet::rules`]) of the rules with a selector naming `metric`, in load
    /// order; empty when no rule reads it.
    pub fn for_metric(&self, metric: &str) -> &[usize] {
        self.by_metric
            .get(metric)
            .map_or(&[], |ix| ix.all.as_slice())
    }

    /// The rule at `idx`.
    pub fn get(&self, idx: usize) -> Option<&Arc<Rule>> {
        self.rules.get(idx)
    }

    /// The number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::parse_rules;
    use crate::level::Levels;

    #[test]
    fn for_metric_indexes_rules_by_selector_metric() {
        let src = r#"
[[rule]]
name = "a"
expr = "cpu_usage_percent > 90"
severity = "P3"
summary = "a"
[[rule]]
name = "b"
expr = "disk_used_percent > 90"
severity = "P3"
summary = "b"
[[rule]]
name = "c"
expr = "cpu_usage_percent > 99"
severity = "P1"
summary = "c"
"#;
        let set = RuleSet::from_rules(parse_rules("t.toml", src, &Levels::default()).unwrap());
        assert_eq!(set.len(), 3);
        assert_eq!(set.for_metric("cpu_usage_percent"), &[0, 2]);
        assert_eq!(set.for_metric("disk_used_percent"), &[1]);
        assert!(set.for_metric("nope").is_empty());
        assert_eq!(set.get(2).map(|r| r.name.as_str()), Some("c"));
        assert!(set.get(3).is_none());
        assert!(RuleSet::default().is_empty());
    }

    #[test]
    fn candidates_are_the_rules_a_series_labels_allow() {
        let rule = |name: &str, expr: &str| {
            format!(
                "[[rule]]\nname = \"{name}\"\nexpr = '{expr}'\nseverity = \"P3\"\nsummary = \"s\"\n"
            )
        };
        let src = [
            rule("h1", r#"disk_used_percent{host="h1"} > 90"#),
            rule("h2", r#"disk_used_percent{host="h2", mount=~"/u.*"} > 90"#),
            rule("any", r#"disk_used_percent{mount!="/"} > 95"#),
            rule("empty", r#"disk_used_percent{env=""} > 99"#),
            rule(
                "both",
                r#"disk_used_percent{host="h1"} > 1 and disk_used_percent{mount="/"} > 2"#,
            ),
            rule(
                "one_open",
                r#"disk_used_percent{host="h2"} > 1 and disk_used_percent > 2"#,
            ),
        ]
        .concat();
        let set = RuleSet::from_rules(parse_rules("t.toml", &src, &Levels::default()).unwrap());
        let mut buf = Vec::new();
        let l = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
        let names = |idx: &[usize]| -> Vec<String> {
            idx.iter().map(|&i| set.rules()[i].name.clone()).collect()
        };
        assert_eq!(
            names(set.candidates(
                "disk_used_percent",
                &l(&[("host", "h1"), ("mount", "/")]),
                &mut buf
            )),
            ["h1", "any", "empty", "both", "one_open"]
        );
        assert_eq!(
            names(set.candidates(
                "disk_used_percent",
                &l(&[("host", "h3"), ("mount", "/u01")]),
                &mut buf
            )),
            ["any", "empty", "one_open"]
        );
        assert!(
            set.candidates("cpu_usage_percent", &l(&[]), &mut buf)
                .is_empty()
        );
        // Every rule whose selector matches is a candidate (the index never hides one).
        for labels in [
            l(&[("host", "h1")]),
            l(&[("host", "h2"), ("mount", "/u01")]),
            l(&[("mount", "/")]),
            l(&[("env", "prod"), ("host", "h1"), ("mount", "/")]),
        ] {
            let cands = set
                .candidates("disk_used_percent", &labels, &mut buf)
                .to_vec();
            for (i, r) in set.rules().iter().enumerate() {
                if r.program
                    .selectors
                    .iter()
                    .any(|s| s.matches("disk_used_percent", &labels))
                {
                    assert!(cands.contains(&i), "{} for {labels}", r.name);
                }
            }
        }
    }
}
