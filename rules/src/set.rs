//! A loaded rule set with a per-metric index, so samples of metrics no rule reads cost one
//! hash lookup.

use std::collections::HashMap;
use std::sync::Arc;

use crate::rule::Rule;

/// The rules in force, in load order (files by name, rules in file order).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Arc<Rule>>,
    by_metric: HashMap<String, Vec<usize>>,
}

impl RuleSet {
    /// Builds the set and its metric index. Does not check name uniqueness; the loaders do.
    pub fn from_rules(rules: Vec<Rule>) -> RuleSet {
        let rules: Vec<Arc<Rule>> = rules.into_iter().map(Arc::new).collect();
        let mut by_metric: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, r) in rules.iter().enumerate() {
            // A rule reading several metrics (`a / b > 1`) is indexed under each, once.
            for s in &r.program.selectors {
                let list = by_metric.entry(s.metric.clone()).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        RuleSet { rules, by_metric }
    }

    /// All rules, in load order.
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// Indices (into [`RuleSet::rules`]) of the rules with a selector naming `metric`, in load
    /// order; empty when no rule reads it.
    pub fn for_metric(&self, metric: &str) -> &[usize] {
        self.by_metric.get(metric).map_or(&[], Vec::as_slice)
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
}
