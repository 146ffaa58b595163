//! What a record is made from, gathered from the running collector: the values at inspection
//! time, the incidents, the hosts it knows.
//!
//! A sheet made on time reads the values from the collector's latest view (what `/metrics`
//! shows, so a series that stopped reporting is not presented as current); a sheet caught up
//! after a restart, for a time already past, reads each series' last sample at or before that
//! time from the history instead — the latest view holds the present, not that time.

use std::time::Duration;

use patrol_history::History;
use patrol_history::read::Budget;
use patrol_incident::Incident;
use patrol_proto::Labels;
use patrol_proto::model::now_ms;
use patrol_report::Current;
use patrol_store::StoreError;

use crate::core::Core;

/// The values of every current series now, from the latest view.
pub fn current_now(core: &Core) -> Vec<Current> {
    let silent = core.agents.silent_labels();
    let keep = crate::http::Current::new(now_ms(), core.stale_after, &silent);
    core.latest
        .snapshot_where(|name, labels, ts| keep.keeps(name, labels, ts))
        .into_iter()
        .filter_map(|(name, labels, value, ts_ms)| {
            let parsed = parse_label_text(&labels);
            if parsed.is_none() {
                tracing::warn!(metric = %name, labels = %labels,
                    "inspection sheet: a series' labels do not read back; it is left off");
            }
            Some(Current {
                metric: name.to_string(),
                labels: parsed?,
                value,
                ts_ms,
            })
        })
        .collect()
}

/// Each series' last sample in `(at_ms - lookback, at_ms]`, from the history: the values at a
/// time already past.
pub fn current_at(history: &History, at_ms: i64, lookback: Duration) -> Vec<Current> {
    let from = at_ms.saturating_sub(i64::try_from(lookback.as_millis()).unwrap_or(i64::MAX)) + 1;
    let entries = history
        .select(None, |_| true, usize::MAX)
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in entries {
        // A lookback of samples per series: bounded by the sample rate, never by the history.
        let mut budget = Budget::new(u64::MAX);
        match history.raw(&e, from, at_ms, &mut budget) {
            Ok(samples) => {
                if let Some((ts_ms, value)) = samples.last() {
                    out.push(Current {
                        metric: e.name.clone(),
                        labels: e.labels.clone(),
                        value: *value,
                        ts_ms: *ts_ms,
                    });
                }
            }
            Err(err) => {
                tracing::warn!(metric = %e.name, labels = %e.labels, error = %err,
                    "inspection sheet: this series' history could not be read");
            }
        }
    }
    out
}

/// The incidents that existed at some time in the period `[from_ms, to_ms]`, in every state
/// (a report picks those it counts from them).
pub fn incidents(core: &Core, from_ms: i64, to_ms: i64) -> Result<Vec<Incident>, StoreError> {
    core.store.overlapping(from_ms, to_ms)
}

/// The labels of the hosts the collector knows (each agent's host and static labels), so the
/// availability of a host without an incident is shown too.
pub fn known(core: &Core) -> Vec<Labels> {
    let mut out: Vec<Labels> = core
        .agents
        .list()
        .into_iter()
        .map(|a| {
            let mut l: Labels = Labels::from_pairs(a.labels.into_iter().map(|l| (l.name, l.value)));
            l.insert_if_absent("host", &a.host);
            l
        })
        .collect();
    if let Some(h) = &core.history
        && let Ok(entries) = h.select(Some(crate::core::AGENT_UP), |_| true, usize::MAX)
    {
        out.extend(entries.iter().map(|e| e.labels.clone()));
    }
    out.sort();
    out.dedup();
    out
}

/// A label set as the latest view writes it (`{a="1",b="x\"y"}`, Prometheus escaping; empty
/// for no labels) read back; `None` when it is not such a text.
pub fn parse_label_text(text: &str) -> Option<Labels> {
    if text.is_empty() {
        return Some(Labels::new());
    }
    let mut rest = text.strip_prefix('{')?.chars().peekable();
    let mut labels = Labels::new();
    loop {
        let mut name = String::new();
        for c in rest.by_ref() {
            if c == '=' {
                break;
            }
            name.push(c);
        }
        if name.is_empty() || rest.next()? != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            match rest.next()? {
                '\\' => match rest.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(name, value);
        match rest.next()? {
            ',' => continue,
            '}' => return rest.next().is_none().then_some(labels),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn label_texts_read_back() {
        assert_eq!(parse_label_text(""), Some(Labels::new()));
        assert_eq!(
            parse_label_text(r#"{host="db1",mount="/u01"}"#),
            Some(Labels::from_pairs([("host", "db1"), ("mount", "/u01")]))
        );
        assert_eq!(
            parse_label_text(r#"{a="x\"y,z}\\",b="l1\nl2"}"#),
            Some(Labels::from_pairs([("a", "x\"y,z}\\"), ("b", "l1\nl2")]))
        );
        for bad in [
            "{",
            "{a}",
            "{a=\"x}",
            "{a=\"x\"",
            "{a=\"x\"}}",
            "a=\"x\"",
            "{=\"x\"}",
        ] {
            assert_eq!(parse_label_text(bad), None, "{bad}");
        }
    }

    proptest! {
        /// Whatever a label value holds, the text the view keeps reads back to the same set.
        #[test]
        fn any_label_set_reads_back_from_its_text(
            pairs in proptest::collection::vec(("[a-z_][a-z0-9_]{0,8}", ".{0,12}"), 0..5)
        ) {
            let labels = Labels::from_pairs(pairs);
            prop_assert_eq!(parse_label_text(&labels.to_string()), Some(labels));
        }
    }
}
