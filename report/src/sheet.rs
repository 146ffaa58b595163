//! The daily inspection sheet as data: what the collector hands in (the latest values, the
//! worst value per series since the previous inspection, the rules in force, the incidents of
//! the period) and the sheet built from it, which the renderers in `sheet_render` print.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use jiff::tz::TimeZone;
use patrol_incident::{Incident, IncidentState};
use patrol_proto::Labels;
use patrol_proto::model::fingerprint;
use patrol_rules::{MANUAL_RULE, RuleSet};
use patrol_site::{Inspection, Site};
use serde::{Deserialize, Serialize};

use crate::checks::{self, Aggregate, Bad, Group, Unit};
use crate::format;
use crate::lang::{Language, Text};
use crate::watch::{Watch, watches};

/// The latest value of one series at inspection time.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    /// Metric name.
    pub metric: String,
    /// The series' labels (`host` included).
    pub labels: Labels,
    /// The value.
    pub value: f64,
    /// When it was sampled.
    pub ts_ms: i64,
}

/// The worst value of a series in a period: the collector answers it from the history's
/// minute aggregates (the maximum of the minutes' maxima, or the minimum of their minima).
pub trait Worst {
    /// The worst value of `metric{labels}` in `[from_ms, to_ms]` and when it was seen
    /// (the minute it fell in), by `bad`: the maximum for [`Bad::High`], the minimum for
    /// [`Bad::Low`]. `None` when the history has nothing for the series in that period.
    fn worst(
        &self,
        metric: &str,
        labels: &Labels,
        from_ms: i64,
        to_ms: i64,
        bad: Bad,
    ) -> Option<(f64, i64)>;
}

impl<F> Worst for F
where
    F: Fn(&str, &Labels, i64, i64, Bad) -> Option<(f64, i64)>,
{
    fn worst(
        &self,
        metric: &str,
        labels: &Labels,
        from_ms: i64,
        to_ms: i64,
        bad: Bad,
    ) -> Option<(f64, i64)> {
        self(metric, labels, from_ms, to_ms, bad)
    }
}

/// When a scheduled sheet is and what it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// The inspection time.
    pub at_ms: i64,
    /// The schedule's previous inspection (a day earlier when it has none in two years).
    pub previous_ms: i64,
    /// The schedule's language.
    pub language: Language,
    /// The zone of the schedule's calendar.
    pub time_zone: TimeZone,
}

/// The period of the sheet `schedule` makes at `at_ms`; `None` when its calendar is not in
/// the site (a checked site always has it).
pub fn period(site: &Site, schedule: &Inspection, at_ms: i64) -> Option<Period> {
    let cal = site.calendar_named(&schedule.calendar)?;
    Some(Period {
        at_ms,
        previous_ms: schedule
            .previous_before(&cal, at_ms)
            .unwrap_or(at_ms - 86_400_000),
        language: schedule.language,
        time_zone: cal.time_zone().clone(),
    })
}

/// The title of a site's sheets and reports: `[report] title`, else its `[notify] site`.
pub fn site_title(site: &Site) -> String {
    site.report
        .title
        .clone()
        .unwrap_or_else(|| site.notify.site.clone())
}

/// Everything one sheet is made from.
pub struct SheetInput<'a> {
    /// Shown at the top (the site's `[report] title`, else its `[notify] site`).
    pub title: String,
    /// The schedule that made it (`daily`), or `manual`.
    pub schedule: String,
    /// The inspection time.
    pub at_ms: i64,
    /// The previous inspection (the start of the period the worst values and incidents cover).
    pub previous_ms: i64,
    /// The language of the sheet.
    pub language: Language,
    /// The zone times are shown in (the schedule's calendar's).
    pub time_zone: TimeZone,
    /// The latest value of every series at `at_ms`.
    pub current: &'a [Current],
    /// Worst values since `previous_ms`.
    pub worst: &'a dyn Worst,
    /// The rules in force.
    pub rules: &'a RuleSet,
    /// Incidents that may overlap the period (others are ignored).
    pub incidents: &'a [Incident],
}

/// A sheet: a summary on top, rows per object group, the incidents that are about no row,
/// and the sign-off block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    /// Site title.
    pub title: String,
    /// Schedule name.
    pub schedule: String,
    /// Language of the rendered forms.
    pub language: Language,
    /// IANA zone of the times shown.
    pub time_zone: String,
    /// Inspection time.
    pub at_ms: i64,
    /// Previous inspection.
    pub previous_ms: i64,
    /// No sample and no incident at all: the sheet says so.
    pub no_data: bool,
    /// The counts on top.
    pub summary: Summary,
    /// Non-empty groups in the handbook's order.
    pub groups: Vec<GroupRows>,
    /// Incidents of the period about no row (reported by hand, absent series, series not
    /// reported any more).
    pub other_incidents: Vec<Remark>,
    /// Filled in by the reviewer (`patrolctl report sign`).
    pub sign_off: SignOff,
}

/// The counts on top of a sheet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Distinct hosts and devices on the sheet.
    pub objects: usize,
    /// Rows.
    pub checks: usize,
    /// Hosts and devices with an abnormal row.
    pub abnormal_objects: usize,
    /// Abnormal rows.
    pub abnormal_checks: usize,
    /// Incidents still open (not resolved) at inspection time.
    pub open_incidents: usize,
    /// Incidents that were live at some point of the period.
    pub period_incidents: usize,
}

/// One group's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRows {
    /// Which group.
    pub group: Group,
    /// Its rows.
    pub rows: Vec<Row>,
}

/// Normal or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing found.
    Normal,
    /// An incident of the period on the series, or the value beyond its threshold.
    Abnormal,
}

/// Why a row is abnormal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Finding {
    /// An incident of the period is about this series.
    Incident {
        /// Its id.
        id: u64,
    },
    /// The value at inspection time is beyond the threshold of this rule.
    Threshold {
        /// The rule.
        rule: String,
    },
}

/// One check of one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The check's key (`disk`), or the metric for a metric that is no inspection check.
    pub check: String,
    /// The metric.
    pub metric: String,
    /// The series' labels.
    pub labels: BTreeMap<String, String>,
    /// What is checked (`db1 /u01`).
    pub object: String,
    /// The host or device it is on.
    pub machine: String,
    /// How values are shown.
    pub unit: Unit,
    /// The value at inspection time.
    pub value: f64,
    /// When it was sampled.
    pub value_ms: i64,
    /// Which end is bad (from the rule's comparison, else the check's default).
    pub bad: Bad,
    /// The worst value since the previous inspection.
    pub worst: Option<WorstValue>,
    /// The rules watching the series, with the threshold in force.
    pub watches: Vec<Watch>,
    /// Normal or abnormal.
    pub status: Status,
    /// Why abnormal.
    pub findings: Vec<Finding>,
    /// The incidents of the period on this series.
    pub remarks: Vec<Remark>,
}

impl Row {
    /// The check's name in `lang` (the metric name for a metric without one).
    pub fn check_label(&self, lang: Language) -> &str {
        checks::check_of(&self.metric).map_or(self.check.as_str(), |d| d.text.get(lang))
    }
}

/// The worst value in the period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WorstValue {
    /// The value (the increase, for a counter).
    pub value: f64,
    /// When it was seen (for an increase: when the counter was highest).
    pub at_ms: i64,
    /// What the value is.
    pub aggregate: Aggregate,
}

/// An incident as the remarks column tells it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remark {
    /// Incident id.
    pub incident: u64,
    /// Its level.
    pub level: String,
    /// Its rule (`manual` for a reported one).
    pub rule: String,
    /// Its summary line.
    pub summary: String,
    /// Its host.
    pub host: String,
    /// When it opened.
    pub opened_ms: i64,
    /// Who acknowledged it (by inspection time).
    pub acked_by: Option<String>,
    /// When.
    pub acked_ms: Option<i64>,
    /// Its state at inspection time.
    pub state: String,
    /// When it was resolved (by inspection time).
    pub resolved_ms: Option<i64>,
    /// The resolution note.
    pub resolution: Option<String>,
}

/// The reviewer's sign-off, as the paper form has it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignOff {
    /// Who reviewed the sheet.
    pub reviewer: Option<String>,
    /// When.
    pub at_ms: Option<i64>,
    /// Their note.
    pub note: Option<String>,
}

impl Sheet {
    /// Records the reviewer's sign-off (the caller journals it).
    pub fn sign(&mut self, reviewer: &str, at_ms: i64, note: Option<&str>) {
        self.sign_off = SignOff {
            reviewer: Some(reviewer.to_owned()),
            at_ms: Some(at_ms),
            note: note.map(str::to_owned),
        };
    }

    /// The zone the sheet's times are shown in.
    pub fn zone(&self) -> TimeZone {
        format::zone(&self.time_zone)
    }

    /// Every row, group by group.
    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.groups.iter().flat_map(|g| g.rows.iter())
    }
}

/// Whether `i` was live at some point of `[from_ms, to_ms]`.
pub fn overlaps(i: &Incident, from_ms: i64, to_ms: i64) -> bool {
    i.opened_ms <= to_ms && i.resolved_ms.is_none_or(|r| r >= from_ms)
}

fn remark(i: &Incident, at_ms: i64) -> Remark {
    let by = |t: Option<i64>| t.filter(|t| *t <= at_ms);
    let acked_ms = by(i.acked_ms);
    let resolved_ms = by(i.resolved_ms);
    Remark {
        incident: i.id,
        level: i.severity.clone(),
        rule: i.rule.clone(),
        summary: i.summary.clone(),
        host: i.host.clone(),
        opened_ms: i.opened_ms,
        acked_by: acked_ms.and(i.acked_by.clone()),
        acked_ms,
        state: i.state_at(at_ms).as_str().to_owned(),
        resolved_ms,
        resolution: resolved_ms.and(i.handling.resolution.clone()),
    }
}

/// The text of a lifecycle state.
pub fn state_text(state: &str) -> Text {
    match state.parse::<IncidentState>() {
        Ok(IncidentState::Open) | Err(_) => Text::IncidentOpen,
        Ok(IncidentState::Acknowledged) => Text::IncidentAcknowledged,
        Ok(IncidentState::Assigned) => Text::IncidentAssigned,
        Ok(IncidentState::Waiting) => Text::IncidentWaiting,
        Ok(IncidentState::Resolved) => Text::IncidentResolved,
        Ok(IncidentState::Closed) => Text::IncidentClosed,
    }
}

/// Builds the sheet.
pub fn build(input: &SheetInput<'_>) -> Sheet {
    let (from, to) = (input.previous_ms, input.at_ms);
    let period: Vec<&Incident> = input
        .incidents
        .iter()
        .filter(|i| overlaps(i, from, to))
        .collect();
    // Incidents by series: a rule's incident carries fingerprint(rule's metric, labels).
    let mut by_series: HashMap<u64, Vec<&Incident>> = HashMap::new();
    for i in period.iter().filter(|i| i.rule != MANUAL_RULE) {
        by_series.entry(i.fingerprint).or_default().push(i);
    }
    let mut matched: HashSet<u64> = HashSet::new();
    let mut rows: Vec<(Group, usize, Row)> = Vec::new();
    for c in input.current {
        let def = checks::check_of(&c.metric);
        let watching = watches(input.rules, &c.metric, &c.labels);
        if def.is_none() && watching.is_empty() {
            continue;
        }
        let unit = def.map_or_else(|| Unit::of_name(&c.metric), |d| d.unit);
        let bad = watching
            .iter()
            .find_map(Watch::bad)
            .or(def.map(|d| d.bad))
            .unwrap_or(if matches!(unit, Unit::Up | Unit::Ok) {
                Bad::Low
            } else {
                Bad::High
            });
        let aggregate = def.map_or(Aggregate::Worst, |d| d.aggregate);
        let worst = worst_value(input, c, bad, aggregate);
        let fp = fingerprint(&c.metric, &c.labels);
        let remarks: Vec<Remark> = by_series
            .get(&fp)
            .into_iter()
            .flatten()
            .map(|i| {
                matched.insert(i.id);
                remark(i, to)
            })
            .collect();
        let findings: Vec<Finding> =
            remarks
                .iter()
                .map(|r| Finding::Incident { id: r.incident })
                .chain(watching.iter().filter(|w| w.breached_by(c.value)).map(|w| {
                    Finding::Threshold {
                        rule: w.rule.clone(),
                    }
                }))
                .collect();
        let group = def.map_or(Group::Other, |d| checks::group_of(d, &c.labels));
        let order = def
            .and_then(|d| checks::CHECKS.iter().position(|x| x.metric == d.metric))
            .unwrap_or(usize::MAX);
        rows.push((
            group,
            order,
            Row {
                check: def.map_or_else(|| c.metric.clone(), |d| d.key.to_owned()),
                metric: c.metric.clone(),
                labels: c
                    .labels
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                object: checks::object_of(def, Some(&c.metric), &c.labels),
                machine: checks::machine_of(&c.labels),
                unit,
                value: c.value,
                value_ms: c.ts_ms,
                bad,
                worst,
                watches: watching,
                status: if findings.is_empty() {
                    Status::Normal
                } else {
                    Status::Abnormal
                },
                findings,
                remarks,
            },
        ));
    }
    // Handbook order: group, then the check's place in the table, then the object.
    rows.sort_by(|a, b| {
        (a.0, a.1, &a.2.check, &a.2.object, &a.2.metric).cmp(&(
            b.0,
            b.1,
            &b.2.check,
            &b.2.object,
            &b.2.metric,
        ))
    });
    let mut groups: Vec<GroupRows> = Vec::new();
    for (group, _, row) in rows {
        match groups.last_mut() {
            Some(g) if g.group == group => g.rows.push(row),
            _ => groups.push(GroupRows {
                group,
                rows: vec![row],
            }),
        }
    }
    let other_incidents: Vec<Remark> = period
        .iter()
        .filter(|i| !matched.contains(&i.id))
        .map(|i| remark(i, to))
        .collect();
    let all_rows = || groups.iter().flat_map(|g| g.rows.iter());
    let machines: BTreeSet<&str> = all_rows().map(|r| r.machine.as_str()).collect();
    let abnormal_machines: BTreeSet<&str> = all_rows()
        .filter(|r| r.status == Status::Abnormal)
        .map(|r| r.machine.as_str())
        .collect();
    let summary = Summary {
        objects: machines.len(),
        checks: all_rows().count(),
        abnormal_objects: abnormal_machines.len(),
        abnormal_checks: all_rows().filter(|r| r.status == Status::Abnormal).count(),
        open_incidents: period.iter().filter(|i| i.state_at(to).is_live()).count(),
        period_incidents: period.len(),
    };
    Sheet {
        title: input.title.clone(),
        schedule: input.schedule.clone(),
        language: input.language,
        time_zone: format::zone_name(&input.time_zone),
        at_ms: to,
        previous_ms: from,
        no_data: input.current.is_empty() && period.is_empty(),
        summary,
        groups,
        other_incidents,
        sign_off: SignOff::default(),
    }
}

fn worst_value(
    input: &SheetInput<'_>,
    c: &Current,
    bad: Bad,
    aggregate: Aggregate,
) -> Option<WorstValue> {
    let (from, to) = (input.previous_ms, input.at_ms);
    let w = |b| input.worst.worst(&c.metric, &c.labels, from, to, b);
    match aggregate {
        Aggregate::Worst => w(bad).map(|(value, at_ms)| WorstValue {
            value,
            at_ms,
            aggregate,
        }),
        Aggregate::Increase => {
            let (hi, at_ms) = w(Bad::High)?;
            let (lo, _) = w(Bad::Low)?;
            Some(WorstValue {
                value: hi - lo,
                at_ms,
                aggregate,
            })
        }
    }
}
