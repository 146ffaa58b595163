//! Q availability: 1 − outage ÷ service time, over the site's availability calendar.
//!
//! Outage is the time incidents at the levels the site counts were live: from their clock
//! start (the opening, or the end of the maintenance window they opened in — planned work is
//! no outage) to their resolution, or to the end of the period while unresolved. Overlapping
//! incidents of one host or group count once. Both outage and service time are business time
//! on the availability calendar, computed by the site crate's calendar.

use std::collections::BTreeSet;

use patrol_incident::Incident;
use serde::Serialize;

use crate::sla::SlaInput;

/// The availability part of the SLA report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    /// The service calendar.
    pub calendar: String,
    /// The levels counted.
    pub levels: Vec<String>,
    /// Service time in the period, ms.
    pub service_ms: i64,
    /// Per host, by name.
    pub hosts: Vec<AvailabilityRow>,
    /// Per value of each `group_by` label, by label then value.
    pub groups: Vec<AvailabilityRow>,
}

/// One host's or group's figure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AvailabilityRow {
    /// The label (`host`, `role`...).
    pub label: String,
    /// Its value.
    pub value: String,
    /// Outage, ms of service time.
    pub outage_ms: i64,
    /// 1 − outage ÷ service time; `None` without service time in the period.
    pub availability: Option<f64>,
    /// −log10(1 − availability): 3 for 99.9 %; `None` at 100 % (or without service time).
    pub nines: Option<f64>,
}

/// Merges intervals `[s, e)` that overlap or touch.
pub fn merge(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.retain(|(s, e)| e > s);
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
    for (s, e) in v {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

pub(crate) fn compute(input: &SlaInput<'_>) -> Availability {
    let site = input.site;
    let settings = &site.report.availability;
    let levels = site.availability_levels();
    let cal = site
        .calendar_named(&settings.calendar)
        .unwrap_or_else(|| std::sync::Arc::new(patrol_site::calendar::Calendar::always("24x7")));
    let end = input.to_ms.min(input.now_ms.max(input.from_ms));
    let service_ms = cal.business_ms(input.from_ms, end);
    let counted: Vec<&Incident> = input
        .incidents
        .iter()
        .filter(|i| levels.contains(&i.severity))
        .collect();
    let interval = |i: &Incident| {
        let s = i.handling.clock_start_ms.max(input.from_ms);
        let e = i.resolved_ms.unwrap_or(end).min(end);
        (s, e)
    };
    let row = |label: &str, value: &str, of: &dyn Fn(&Incident) -> bool| {
        let spans = merge(
            counted
                .iter()
                .copied()
                .filter(|i| of(i))
                .map(interval)
                .collect(),
        );
        let outage_ms: i64 = spans.iter().map(|(s, e)| cal.business_ms(*s, *e)).sum();
        let availability = (service_ms > 0).then(|| 1.0 - outage_ms as f64 / service_ms as f64);
        AvailabilityRow {
            label: label.to_owned(),
            value: value.to_owned(),
            outage_ms,
            availability,
            nines: availability
                .filter(|a| *a < 1.0)
                .map(|a| -(1.0 - a).log10()),
        }
    };
    let live_in_period = |i: &&Incident| {
        i.opened_ms < input.to_ms && i.resolved_ms.is_none_or(|r| r >= input.from_ms)
    };
    let hosts: BTreeSet<String> = input
        .known
        .iter()
        .filter_map(|l| l.get("host").map(str::to_owned))
        .chain(
            input
                .incidents
                .iter()
                .filter(live_in_period)
                .map(|i| i.host.clone()),
        )
        .filter(|h| !h.is_empty())
        .collect();
    let host_rows = hosts
        .iter()
        .map(|h| row("host", h, &|i: &Incident| &i.host == h))
        .collect();
    let mut group_rows = Vec::new();
    for label in &settings.group_by {
        let values: BTreeSet<String> = input
            .known
            .iter()
            .filter_map(|l| l.get(label).map(str::to_owned))
            .chain(
                input
                    .incidents
                    .iter()
                    .filter(live_in_period)
                    .filter_map(|i| i.labels.get(label).map(str::to_owned)),
            )
            .filter(|v| !v.is_empty())
            .collect();
        for v in &values {
            group_rows.push(row(label, v, &|i: &Incident| {
                i.labels.get(label) == Some(v.as_str())
            }));
        }
    }
    Availability {
        calendar: cal.name().to_owned(),
        levels,
        service_ms,
        hosts: host_rows,
        groups: group_rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Merged intervals cover exactly the minutes some interval covers, and never overlap.
        #[test]
        fn merge_covers_the_union(spans in proptest::collection::vec((0i64..500, 0i64..60), 0..20)) {
            let v: Vec<(i64, i64)> = spans.iter().map(|(s, len)| (*s, s + len)).collect();
            let merged = merge(v.clone());
            for m in 0..560 {
                let covered = v.iter().any(|(s, e)| *s <= m && m < *e);
                let in_merged = merged.iter().any(|(s, e)| *s <= m && m < *e);
                proptest::prop_assert_eq!(covered, in_merged, "minute {}", m);
            }
            for w in merged.windows(2) {
                proptest::prop_assert!(w[0].1 < w[1].0);
            }
        }
    }

    #[test]
    fn merging_counts_overlaps_once() {
        assert_eq!(
            merge(vec![(5, 10), (1, 3), (2, 4), (10, 12), (20, 20)]),
            [(1, 4), (5, 12)]
        );
    }
}
