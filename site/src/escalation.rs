//! The clocks of an incident and its escalation schedule, as pure functions of the site's
//! level, calendar and policy, the incident's clock facts, and `now`.
//!
//! A step fires once per occurrence: occurrence 0 at `after`, then (for reminders) one every
//! `every`, all counted in working time of the level's calendar from the condition's anchor (the
//! incident's clock start, or the deadline whose breach the step is about). When several
//! occurrences fell due while nobody was looking (the collector was down), only the latest
//! fires: the caller records each (step, occurrence) it fires in the same transaction as the
//! journal entry, so a restart fires a missed step once and a fired step never again.

use super::calendar::Calendar;
use crate::{Condition, Level, Policy};

/// The deadlines of an incident's clocks (ms since the epoch); `None` = no such clock, or no
/// working time in the calendar to reach it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deadlines {
    /// Acknowledge by.
    pub respond: Option<i64>,
    /// Record a fix plan by.
    pub fix_plan: Option<i64>,
    /// Resolve by.
    pub resolve: Option<i64>,
}

/// The deadlines of a level's clocks started at `start_ms` on `cal`.
pub fn deadlines(level: &Level, cal: &Calendar, start_ms: i64) -> Deadlines {
    let due = |d: std::time::Duration| cal.add_business(start_ms, millis(d));
    Deadlines {
        respond: due(level.respond),
        fix_plan: level.fix_plan.and_then(due),
        resolve: due(level.resolve),
    }
}

/// What the schedule needs to know about an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockFacts {
    /// When its clocks started (opening, or the end of the maintenance window it opened in).
    pub start_ms: i64,
    /// Still live (not resolved or closed).
    pub live: bool,
    /// Acknowledged, assigned or otherwise taken by someone.
    pub taken: bool,
    /// A fix plan is recorded.
    pub planned: bool,
    /// Its resolve clock is paused (waiting, on a level where waiting pauses it).
    pub resolve_paused: bool,
    /// Its current deadlines.
    pub deadlines: Deadlines,
}

/// A step that is due now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueStep {
    /// Index of the step in its policy.
    pub step: usize,
    /// Which occurrence (0 for the first; reminders count up).
    pub occurrence: u32,
    /// When that occurrence fell due.
    pub due_ms: i64,
}

/// The steps of `policy` due at `now_ms` for an incident, skipping occurrences for which
/// `fired(step_name, occurrence)` is true.
pub fn due_steps(
    policy: &Policy,
    cal: &Calendar,
    facts: &ClockFacts,
    now_ms: i64,
    fired: impl Fn(&str, u32) -> bool,
) -> Vec<DueStep> {
    let mut due = Vec::new();
    if !facts.live {
        return due;
    }
    for (i, step) in policy.steps.iter().enumerate() {
        let Some(anchor) = anchor(step.when, facts, now_ms) else {
            continue;
        };
        let after = millis(step.after);
        let elapsed = cal.business_ms(anchor, now_ms);
        if elapsed < after || (elapsed == 0 && now_ms < anchor) {
            continue;
        }
        let occurrence = match step.every.map(millis) {
            Some(every) if every > 0 => {
                u32::try_from((elapsed - after) / every).unwrap_or(u32::MAX)
            }
            _ => 0,
        };
        if fired(&step.name, occurrence) {
            continue;
        }
        let offset = after + i64::from(occurrence) * step.every.map_or(0, millis);
        if let Some(due_ms) = cal.add_business(anchor, offset) {
            due.push(DueStep {
                step: i,
                occurrence,
                due_ms,
            });
        }
    }
    due
}

/// Where a condition's time counts from, if the condition holds at `now_ms`.
fn anchor(when: Condition, f: &ClockFacts, now_ms: i64) -> Option<i64> {
    let breached = |due: Option<i64>| due.filter(|d| *d <= now_ms);
    match when {
        Condition::Unacknowledged => (!f.taken).then_some(f.start_ms),
        Condition::Unresolved => Some(f.start_ms),
        Condition::RespondBreached => {
            if f.taken {
                None
            } else {
                breached(f.deadlines.respond)
            }
        }
        Condition::FixPlanBreached => {
            if f.planned {
                None
            } else {
                breached(f.deadlines.fix_plan)
            }
        }
        Condition::ResolveBreached => {
            if f.resolve_paused {
                None
            } else {
                breached(f.deadlines.resolve)
            }
        }
    }
}

/// A clock that has run out: `(clock name, deadline)` for each deadline passed and not met.
pub fn breached_clocks(facts: &ClockFacts, now_ms: i64) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    if !facts.live {
        return out;
    }
    let d = &facts.deadlines;
    for (name, due, met) in [
        ("respond", d.respond, facts.taken),
        ("fix_plan", d.fix_plan, facts.planned),
        ("resolve", d.resolve, facts.resolve_paused),
    ] {
        if let Some(due) = due
            && due <= now_ms
            && !met
        {
            out.push((name, due));
        }
    }
    out
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "escalation_tests.rs"]
mod tests;

/// The clocks of an incident opening at `at_ms`: when they start (the end of a maintenance
/// window covering the series, if any), the window's name, and the deadlines of its level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenClocks {
    /// When the clocks start.
    pub start_ms: i64,
    /// The maintenance window it opened in.
    pub suppressed_by: Option<String>,
    /// Deadlines from `start_ms` (none for a level the site does not define).
    pub deadlines: Deadlines,
}

/// Starts the clocks of an incident of `level` for series `labels` opening at `at_ms`.
pub fn open_clocks(
    site: &crate::Site,
    level: &str,
    labels: &patrol_proto::Labels,
    at_ms: i64,
) -> OpenClocks {
    let (start_ms, suppressed_by) = match site.maintenance_at(labels, at_ms) {
        Some((name, end)) => (end, Some(name)),
        None => (at_ms, None),
    };
    let deadlines = site
        .level(level)
        .map(|l| deadlines(l, &site.calendar_of(l), start_ms))
        .unwrap_or_default();
    OpenClocks {
        start_ms,
        suppressed_by,
        deadlines,
    }
}
