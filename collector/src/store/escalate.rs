//! The clock runner's work inside the writer: for every live incident, the deadlines that have
//! passed (a `breached` event, once per clock) and the escalation steps that have fallen due
//! (an `escalated` or `reminded` event, once per step occurrence, raising the level when the
//! step says so).
//!
//! What fired is recorded in `incident_breaches` and `escalations` in the same transaction as
//! its journal entry, so a collector killed at any point fires each step exactly once: before
//! the commit nothing of it exists, after it the key refuses a second insert. A step that fell
//! due while the collector was down fires on the first run after the start.

use std::collections::HashSet;

use rusqlite::{Connection, params};

use super::StoreError;
use super::schema::{INCIDENT_COLUMNS, incident_from_row, to_i64};
use super::writer::{deadlines_detail, journal, update};
use crate::incident::{EventKind, Incident, IncidentEvent, IncidentState};
use crate::noc::escalation::{ClockFacts, Deadlines, breached_clocks, deadlines, due_steps};
use crate::noc::site::{Level, Site, Step};

/// Actor recorded for what the clocks do.
pub const ESCALATION_ACTOR: &str = "escalation";

/// Fires what is due at `now_ms`; returns how many journal entries it wrote.
pub(super) fn run_clocks(
    tx: &Connection,
    site: &Site,
    now_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<usize, StoreError> {
    let before = events.len();
    for mut incident in live_incidents(tx)? {
        breaches(tx, site, &incident, now_ms, events)?;
        steps(tx, site, &mut incident, now_ms, events)?;
    }
    Ok(events.len() - before)
}

fn live_incidents(tx: &Connection) -> Result<Vec<Incident>, StoreError> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE state IN ('open', 'acknowledged', 'assigned', 'waiting') ORDER BY id"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let rows = stmt.query_map([], incident_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What the schedule needs to know about `incident` on `level`.
pub(crate) fn facts(level: &Level, incident: &Incident) -> ClockFacts {
    let h = &incident.handling;
    ClockFacts {
        start_ms: h.clock_start_ms,
        live: incident.state.is_live(),
        taken: incident.state.is_taken() || incident.acked_ms.is_some(),
        planned: h.planned_ms.is_some(),
        resolve_paused: incident.state == IncidentState::Waiting && level.waiting_pauses_resolve,
        deadlines: Deadlines {
            respond: h.respond_due_ms,
            fix_plan: h.fix_plan_due_ms,
            resolve: h.resolve_due_ms,
        },
    }
}

fn breaches(
    tx: &Connection,
    site: &Site,
    incident: &Incident,
    now_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    let Some(level) = site.level(&incident.severity) else {
        return Ok(());
    };
    for (clock, due_ms) in breached_clocks(&facts(level, incident), now_ms) {
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO incident_breaches (incident_id, clock, due_ms, at_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![to_i64(incident.id)?, clock, due_ms, now_ms])?;
        if inserted == 0 {
            continue;
        }
        let detail = serde_json::json!({
            "clock": clock,
            "due_ms": due_ms,
            "level": incident.severity,
        });
        events.push(journal(
            tx,
            EventKind::Breached,
            now_ms,
            ESCALATION_ACTOR,
            None,
            Some(detail.to_string()),
            incident.clone(),
        )?);
    }
    Ok(())
}

fn steps(
    tx: &Connection,
    site: &Site,
    incident: &mut Incident,
    now_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    let Some(level) = site.level(&incident.severity) else {
        return Ok(());
    };
    let Some(policy) = site.policy_of(level) else {
        return Ok(());
    };
    let cal = site.calendar_of(level);
    let fired = fired_steps(tx, incident.id)?;
    // Step keys carry the policy: a level raised onto another policy starts that one's steps.
    let key = |step: &str| format!("{}/{step}", policy.name);
    let due = due_steps(
        policy,
        &cal,
        &facts(level, incident),
        now_ms,
        |step, occ| fired.contains(&(key(step), occ)),
    );
    let mut raise = None;
    for d in due {
        let Some(step) = policy.steps.get(d.step) else {
            continue;
        };
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO escalations (incident_id, step, occurrence, at_ms) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                to_i64(incident.id)?,
                key(&step.name),
                d.occurrence,
                now_ms
            ])?;
        if inserted == 0 {
            continue;
        }
        let kind = if step.every.is_some() {
            EventKind::Reminded
        } else {
            EventKind::Escalated
        };
        let detail = step_detail(site, &policy.name, step, d.occurrence, d.due_ms);
        events.push(journal(
            tx,
            kind,
            now_ms,
            ESCALATION_ACTOR,
            None,
            Some(detail.to_string()),
            incident.clone(),
        )?);
        if let Some(to) = &step.raise_to {
            raise = Some((to.clone(), step.name.clone()));
        }
    }
    if let Some((to, step)) = raise {
        raise_level(tx, site, incident, &to, &step, now_ms, events)?;
    }
    Ok(())
}

fn fired_steps(tx: &Connection, id: u64) -> Result<HashSet<(String, u32)>, StoreError> {
    let mut stmt =
        tx.prepare_cached("SELECT step, occurrence FROM escalations WHERE incident_id = ?1")?;
    let rows = stmt.query_map([to_i64(id)?], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The journal detail of a fired step: which step, and whom it reaches through which channels
/// (what the notification channels deliver).
fn step_detail(
    site: &Site,
    policy: &str,
    step: &Step,
    occurrence: u32,
    due_ms: i64,
) -> serde_json::Value {
    let targets: Vec<_> = step
        .notify
        .iter()
        .map(|name| match site.targets.get(name) {
            Some(t) => serde_json::json!({
                "name": t.name,
                "members": t.members,
                "channels": t.channels,
            }),
            None => serde_json::json!({ "name": name, "members": [], "channels": [] }),
        })
        .collect();
    let mut detail = serde_json::json!({
        "policy": policy,
        "step": step.name,
        "when": step.when.as_str(),
        "occurrence": occurrence,
        "due_ms": due_ms,
        "notify": step.notify,
        "targets": targets,
    });
    if let (Some(to), Some(map)) = (&step.raise_to, detail.as_object_mut()) {
        map.insert("raise_to".into(), serde_json::json!(to));
    }
    detail
}

/// Raises `incident` to level `to` (only upward: a step never lowers a level) and recomputes
/// its deadlines from its clock start on the new level's calendar.
fn raise_level(
    tx: &Connection,
    site: &Site,
    incident: &mut Incident,
    to: &str,
    step: &str,
    now_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    let rank = |name: &str| site.levels.iter().position(|l| l.name == name);
    let (Some(new_rank), Some(new_level)) = (rank(to), site.level(to)) else {
        return Ok(());
    };
    if rank(&incident.severity).is_some_and(|old| old <= new_rank) {
        return Ok(());
    }
    let credit = waiting_credit(site, incident);
    let from = std::mem::replace(&mut incident.severity, to.to_owned());
    set_deadlines(site, new_level, incident);
    if credit > 0
        && let Some(due) = incident.handling.resolve_due_ms
    {
        incident.handling.resolve_due_ms = site
            .calendar_of(new_level)
            .add_business(due, credit)
            .or(Some(due));
    }
    incident.updated_ms = now_ms;
    update(tx, incident)?;
    let detail = serde_json::json!({
        "from": from,
        "to": to,
        "step": step,
        "deadlines": serde_json::from_str::<serde_json::Value>(&deadlines_detail(incident))
            .unwrap_or_default(),
    });
    events.push(journal(
        tx,
        EventKind::LevelChanged,
        now_ms,
        ESCALATION_ACTOR,
        None,
        Some(detail.to_string()),
        incident.clone(),
    )?);
    Ok(())
}

/// Working time by which past waits moved the resolve deadline out on the incident's current
/// level: the resolve deadline beyond the level's own target. A raise carries it over, so a
/// wait already credited is not taken back.
fn waiting_credit(site: &Site, incident: &Incident) -> i64 {
    let (Some(level), Some(due)) = (
        site.level(&incident.severity),
        incident.handling.resolve_due_ms,
    ) else {
        return 0;
    };
    let cal = site.calendar_of(level);
    deadlines(level, &cal, incident.handling.clock_start_ms)
        .resolve
        .map_or(0, |target| cal.business_ms(target, due))
}

/// The deadlines of `incident` on `level`, counted from its clock start.
pub(super) fn set_deadlines(site: &Site, level: &Level, incident: &mut Incident) {
    let d = deadlines(
        level,
        &site.calendar_of(level),
        incident.handling.clock_start_ms,
    );
    let h = &mut incident.handling;
    h.respond_due_ms = d.respond;
    h.fix_plan_due_ms = d.fix_plan;
    h.resolve_due_ms = d.resolve;
}
