//! The SLA report for a period: per level, how many incidents, how many of their respond /
//! fix-plan / resolve deadlines were kept (the resolution rate is the resolve clock's), mean
//! and 95th-percentile business time to respond and to resolve; Q availability per host and
//! per label group; breakdowns by host, level, source and assignee.
//!
//! Deadlines and whether they were kept come from the incidents' own records through the
//! incident model's [`Standing`] (what `patrolctl incidents show` prints); business time from
//! the site's calendars. Nothing is recomputed another way.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use patrol_incident::{ClockKind, Incident, Standing};
use patrol_proto::Labels;
use patrol_site::Site;
use patrol_site::calendar::Calendar;
use serde::Serialize;

use crate::availability::{self, Availability};
use crate::format;
use crate::lang::Language;

/// The longest period one report covers: longer ones are refused with this limit named
/// (a year and a month: a yearly report with margin).
pub const MAX_PERIOD_DAYS: i64 = 400;

const DAY_MS: i64 = 86_400_000;

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The period ends before it starts.
    #[error("the period ends before it starts")]
    Reversed,
    /// The period is longer than [`MAX_PERIOD_DAYS`].
    #[error("the period is {days} days long; a report covers at most {limit} days: split it")]
    TooLong {
        /// Its length.
        days: i64,
        /// The limit.
        limit: i64,
    },
}

/// Checks a period `[from_ms, to_ms)`.
pub fn check_period(from_ms: i64, to_ms: i64) -> Result<(), PeriodError> {
    if to_ms < from_ms {
        return Err(PeriodError::Reversed);
    }
    let span = to_ms.saturating_sub(from_ms);
    let days = span / DAY_MS + i64::from(span % DAY_MS != 0);
    if days > MAX_PERIOD_DAYS {
        return Err(PeriodError::TooLong {
            days,
            limit: MAX_PERIOD_DAYS,
        });
    }
    Ok(())
}

/// What an SLA report is made from.
pub struct SlaInput<'a> {
    /// Shown at the top.
    pub title: String,
    /// Levels, their calendars, what counts against availability.
    pub site: &'a Site,
    /// Incidents; those opened in `[from_ms, to_ms)` are counted, and any live in the period
    /// for availability.
    pub incidents: &'a [Incident],
    /// Start of the period.
    pub from_ms: i64,
    /// End of the period (exclusive).
    pub to_ms: i64,
    /// When the report is made: clocks still running are judged at this time.
    pub now_ms: i64,
    /// The labels of the hosts known (host and static labels), so a host or group without
    /// an incident is shown with full availability. May be empty.
    pub known: &'a [Labels],
    /// The report's language.
    pub language: Language,
    /// The zone times are shown in.
    pub time_zone: TimeZone,
}

/// The SLA report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaReport {
    /// Shown at the top.
    pub title: String,
    /// Its language.
    pub language: Language,
    /// The zone of the times shown.
    pub time_zone: String,
    /// Start of the period.
    pub from_ms: i64,
    /// End of the period (exclusive).
    pub to_ms: i64,
    /// When it was made.
    pub now_ms: i64,
    /// One per site level, most severe first.
    pub levels: Vec<LevelSla>,
    /// All levels together.
    pub total: LevelSla,
    /// Q availability.
    pub availability: Availability,
    /// Per host.
    pub by_host: Vec<Breakdown>,
    /// Per level.
    pub by_level: Vec<Breakdown>,
    /// Per source (`rule`, `phone`, ...).
    pub by_source: Vec<Breakdown>,
    /// Per assignee (empty key: nobody).
    pub by_assignee: Vec<Breakdown>,
}

/// One level's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelSla {
    /// The level (empty for the total).
    pub level: String,
    /// Incidents opened in the period.
    pub incidents: usize,
    /// The respond clock.
    pub respond: ClockSla,
    /// The fix-plan clock (incidents of levels without one do not have it).
    pub fix_plan: ClockSla,
    /// The resolve clock: its rate is the resolution rate.
    pub resolve: ClockSla,
    /// Business time from the clock start to the acknowledgement, of those acknowledged.
    pub respond_time: TimeStats,
    /// Business time from the clock start to the resolution, of those resolved.
    pub resolve_time: TimeStats,
}

/// How one clock fared over a set of incidents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ClockSla {
    /// Incidents that have the clock.
    pub with_clock: usize,
    /// Kept: met by the deadline.
    pub met: usize,
    /// Not kept: met late, missed, or still unmet past the deadline.
    pub late: usize,
    /// Still running, not due yet: not counted either way.
    pub running: usize,
    /// Never needed (over before the deadline without being met): not counted either way.
    pub not_needed: usize,
    /// met ÷ (met + late); `None` when nothing was decided.
    pub rate: Option<f64>,
}

impl ClockSla {
    fn add(&mut self, s: Standing) {
        self.with_clock += 1;
        match s.kept() {
            Some(true) => self.met += 1,
            Some(false) => self.late += 1,
            None if matches!(s, Standing::NotNeeded) => self.not_needed += 1,
            None => self.running += 1,
        }
        let decided = self.met + self.late;
        self.rate = (decided > 0).then(|| self.met as f64 / decided as f64);
    }
}

/// Mean and 95th percentile of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TimeStats {
    /// How many durations.
    pub count: usize,
    /// Their mean, ms (rounded to the millisecond).
    pub mean_ms: Option<i64>,
    /// Their 95th percentile, ms (nearest rank: the smallest value with at least 95 % of
    /// the values at or below it).
    pub p95_ms: Option<i64>,
}

impl TimeStats {
    /// Statistics of `values`.
    pub fn of(mut values: Vec<i64>) -> TimeStats {
        if values.is_empty() {
            return TimeStats::default();
        }
        values.sort_unstable();
        let n = values.len();
        let sum: i128 = values.iter().map(|v| i128::from(*v)).sum();
        let mean = (sum as f64 / n as f64).round() as i64;
        // Nearest rank: ceil(0.95 n), 1-based.
        let rank = (95 * n).div_ceil(100).max(1);
        TimeStats {
            count: n,
            mean_ms: Some(mean),
            p95_ms: values.get(rank - 1).copied(),
        }
    }
}

/// One bucket of a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    /// The host, level, source or assignee (empty: nobody).
    pub key: String,
    /// Incidents opened in the period.
    pub incidents: usize,
    /// Of those, resolved.
    pub resolved: usize,
    /// Their resolve clocks: `rate` is the resolution rate.
    pub resolve: ClockSla,
}

/// The calendar an incident's clocks run on: its level's (7×24 for a level the site no
/// longer has).
pub fn calendar_of(site: &Site, level: &str) -> std::sync::Arc<Calendar> {
    match site.level(level) {
        Some(l) => site.calendar_of(l),
        None => std::sync::Arc::new(Calendar::always(patrol_site::ALWAYS)),
    }
}

/// Business time to respond and to resolve, on the incident's level calendar, from its
/// clock start.
pub fn business_times(site: &Site, i: &Incident) -> (Option<i64>, Option<i64>) {
    let cal = calendar_of(site, &i.severity);
    let start = i.handling.clock_start_ms;
    (
        i.acked_ms.map(|t| cal.business_ms(start, t)),
        i.resolved_ms.map(|t| cal.business_ms(start, t)),
    )
}

fn level_sla(site: &Site, level: &str, incidents: &[&Incident], now_ms: i64) -> LevelSla {
    let mut out = LevelSla {
        level: level.to_owned(),
        incidents: incidents.len(),
        respond: ClockSla::default(),
        fix_plan: ClockSla::default(),
        resolve: ClockSla::default(),
        respond_time: TimeStats::default(),
        resolve_time: TimeStats::default(),
    };
    let (mut to_respond, mut to_resolve) = (Vec::new(), Vec::new());
    for i in incidents {
        for c in i.clocks() {
            let s = i.standing(&c, now_ms);
            match c.kind {
                ClockKind::Respond => out.respond.add(s),
                ClockKind::FixPlan => out.fix_plan.add(s),
                ClockKind::Resolve => out.resolve.add(s),
            }
        }
        let (respond, resolve) = business_times(site, i);
        to_respond.extend(respond);
        to_resolve.extend(resolve);
    }
    out.respond_time = TimeStats::of(to_respond);
    out.resolve_time = TimeStats::of(to_resolve);
    out
}

fn breakdown<'a>(
    incidents: &[&'a Incident],
    now_ms: i64,
    key: impl Fn(&'a Incident) -> String,
) -> Vec<Breakdown> {
    let mut buckets: BTreeMap<String, Breakdown> = BTreeMap::new();
    for i in incidents {
        let k = key(i);
        let b = buckets.entry(k.clone()).or_insert_with(|| Breakdown {
            key: k,
            incidents: 0,
            resolved: 0,
            resolve: ClockSla::default(),
        });
        b.incidents += 1;
        if i.resolved_ms.is_some() {
            b.resolved += 1;
        }
        if let Some(c) = i.clock(ClockKind::Resolve) {
            b.resolve.add(i.standing(&c, now_ms));
        }
    }
    buckets.into_values().collect()
}

/// Builds the report, or refuses a period that is reversed or too long.
pub fn build(input: &SlaInput<'_>) -> Result<SlaReport, PeriodError> {
    check_period(input.from_ms, input.to_ms)?;
    let opened: Vec<&Incident> = input
        .incidents
        .iter()
        .filter(|i| input.from_ms <= i.opened_ms && i.opened_ms < input.to_ms)
        .collect();
    let site = input.site;
    let mut names: Vec<String> = site.levels.iter().map(|l| l.name.clone()).collect();
    // Incidents of a level the site no longer has are still counted, after the others.
    let extra: BTreeSet<&str> = opened
        .iter()
        .map(|i| i.severity.as_str())
        .filter(|s| site.level(s).is_none())
        .collect();
    names.extend(extra.into_iter().map(str::to_owned));
    let levels: Vec<LevelSla> = names
        .iter()
        .map(|l| {
            let of: Vec<&Incident> = opened
                .iter()
                .copied()
                .filter(|i| &i.severity == l)
                .collect();
            level_sla(site, l, &of, input.now_ms)
        })
        .collect();
    let total = level_sla(site, "", &opened, input.now_ms);
    let rank = |s: &str| names.iter().position(|n| n == s).unwrap_or(usize::MAX);
    let mut by_level = breakdown(&opened, input.now_ms, |i| i.severity.clone());
    by_level.sort_by_key(|b| rank(&b.key));
    Ok(SlaReport {
        title: input.title.clone(),
        language: input.language,
        time_zone: format::zone_name(&input.time_zone),
        from_ms: input.from_ms,
        to_ms: input.to_ms,
        now_ms: input.now_ms,
        levels,
        total,
        availability: availability::compute(input),
        by_host: breakdown(&opened, input.now_ms, |i| i.host.clone()),
        by_level,
        by_source: breakdown(&opened, input.now_ms, |i| i.handling.source.clone()),
        by_assignee: breakdown(&opened, input.now_ms, |i| {
            i.handling.assignee.clone().unwrap_or_default()
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_by_hand() {
        let s = TimeStats::of(vec![10, 20, 30, 40]);
        assert_eq!(s.count, 4);
        assert_eq!(s.mean_ms, Some(25));
        // ceil(0.95 × 4) = 4th value.
        assert_eq!(s.p95_ms, Some(40));
        let s = TimeStats::of((1..=100).collect());
        assert_eq!(s.p95_ms, Some(95));
        assert_eq!(TimeStats::of(vec![7]).p95_ms, Some(7));
        assert_eq!(TimeStats::of(Vec::new()).mean_ms, None);
    }

    #[test]
    fn periods_are_bounded() {
        assert_eq!(check_period(10, 5), Err(PeriodError::Reversed));
        assert!(check_period(0, 400 * DAY_MS).is_ok());
        let e = check_period(0, 401 * DAY_MS).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the period is 401 days long; a report covers at most 400 days: split it"
        );
    }
}
