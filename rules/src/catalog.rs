//! What docs/metrics.md says the probes emit: each metric with its probe labels. The checker
//! uses it to warn about a metric no probe emits and to refuse an override on a label the
//! rule's metrics never carry. The document is compiled in, so it stays the one list; a test of
//! each probe keeps it true to the code.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// The metrics reference, as shipped.
const METRICS_MD: &str = include_str!("../../docs/metrics.md");

/// Labels every sample carries whatever its probe.
pub const EVERY_SAMPLE: &[&str] = &["host"];

/// Metrics and their probe labels.
#[derive(Debug, Default)]
pub struct Catalog {
    metrics: HashMap<String, Vec<String>>,
    /// Every label some probe sets: a label outside this set can only be an agent's static
    /// label (`site`, `role`, ...), which any series may carry.
    probe_labels: HashSet<String>,
}

impl Catalog {
    /// The catalogue of the shipped docs/metrics.md.
    pub fn shipped() -> &'static Catalog {
        static C: OnceLock<Catalog> = OnceLock::new();
        C.get_or_init(|| Catalog::parse(METRICS_MD))
    }

    /// Reads the metric tables of a metrics reference: rows whose first cell is a backticked
    /// name, in tables with `name` and `labels` columns. The collector's own counters are not
    /// series the rule engine sees, so that section only contributes `patrol_agent_up`.
    pub fn parse(doc: &str) -> Catalog {
        let mut c = Catalog::default();
        let mut labels_col: Option<usize> = None;
        let mut collector_section = false;
        for line in doc.lines() {
            if let Some(h) = line.strip_prefix("## ") {
                collector_section = h.starts_with("Collector self-metrics");
                labels_col = None;
                continue;
            }
            let Some(row) = line.strip_prefix('|') else {
                labels_col = None;
                continue;
            };
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            if cells.first() == Some(&"name") {
                labels_col = cells.iter().position(|c| *c == "labels");
                continue;
            }
            let Some(col) = labels_col else { continue };
            let names = backticked(cells.first().copied().unwrap_or(""));
            if names.is_empty() {
                continue;
            }
            let labels: Vec<String> = backticked(cells.get(col).copied().unwrap_or(""));
            for name in names {
                if collector_section && name != "patrol_agent_up" {
                    continue;
                }
                c.probe_labels.extend(labels.iter().cloned());
                c.metrics.insert(name, labels.clone());
            }
        }
        c
    }

    /// The probe labels of `metric` (without `host` and static labels), or `None` when no
    /// probe emits it.
    pub fn labels(&self, metric: &str) -> Option<&[String]> {
        self.metrics.get(metric).map(Vec::as_slice)
    }

    /// Whether some probe sets a label of this name.
    pub fn is_probe_label(&self, name: &str) -> bool {
        self.probe_labels.contains(name)
    }

    /// How many metrics are listed.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }
}

/// The `backticked` words of a table cell, `?` (optional label) stripped.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(|w| w.trim_end_matches('?').to_owned())
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_shipped_reference() {
        let c = Catalog::shipped();
        assert!(c.len() > 100, "{}", c.len());
        assert_eq!(
            c.labels("disk_used_percent"),
            Some(&["mount".to_owned()][..])
        );
        assert_eq!(
            c.labels("oracle_tablespace_used_percent"),
            Some(
                &[
                    "db".to_owned(),
                    "tablespace".to_owned(),
                    "contents".to_owned()
                ][..]
            )
        );
        assert_eq!(c.labels("cpu_usage_percent"), Some(&[][..]));
        assert!(c.labels("patrol_agent_up").is_some());
        // The collector's own counters never reach the rule engine.
        assert!(c.labels("patrol_ingest_samples_total").is_none());
        assert!(c.labels("no_such_metric").is_none());
        assert!(c.is_probe_label("tablespace") && !c.is_probe_label("site"));
        // Optional labels are listed without their '?'.
        assert!(
            c.labels("snmp_if_oper_up")
                .is_some_and(|l| l.contains(&"ifalias".to_owned()))
        );
    }

    #[test]
    fn every_shipped_rule_reads_a_documented_metric() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("default");
        let set = crate::load_dir(&dir, &crate::Levels::default()).unwrap();
        let c = Catalog::shipped();
        for r in set.rules() {
            for s in r.expr.selectors() {
                assert!(c.labels(&s.metric).is_some(), "{}: {}", r.name, s.metric);
            }
        }
    }
}
