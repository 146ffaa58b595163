//! The clock runner's work inside the writer: for every live incident, the deadlines that have
//! passed (a `breached` event, once per clock) and the escalation steps that have fallen due
//! (an `escalated` or `reminded` event, once per step occurrence, raising the level when the
//! step says so).
//!
//! What fired is recorded in `incident_breaches` and `escalations` in the same transaction as
//! its journal entry, so a collector killed at any point fires each step exactly once: before
//! the commit nothing of it exists, after it the key refuses a second insert. A step that fell
//! due while the collector was down fires on the first run after the start.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::schema::{INCIDENT_COLUMNS, incident_from_row, to_i64};
use super::writer::{deadlines_detail, journal, update};
use crate::incident::{EventKind, Incident, IncidentEvent, IncidentState};
use patrol_site::escalation::{ClockFacts, Deadlines, breached_clocks, deadlines, due_steps};
use patrol_site::{Level, Site, Step};

/// Actor recorded for what the clocks do.
pub const ESCALATION_ACTOR: &str = "escalation";

/// Fires what is due at `now_ms`; returns how many journal entries it wrote.
///
/// This runs inside the writer every round, so the common case (nothing new is due) costs one
/// pass over light rows and two reads of what already fired; a whole incident is loaded only
/// when something fires for it.
pub(super) fn run_clocks(
    tx: &Connection,
    site: &Site,
    now_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<usize, StoreError> {
    let before = events.len();
    let recorded = Recorded::load(tx)?;
    for clock in live_clocks(tx)? {
        if !recorded.something_due(site, &clock, now_ms) {
            continue;
        }
        let Some(mut incident) = load(tx, clock.id)? else {
            continue;
        };
        breaches(tx, site, &incident, now_ms, events)?;
        steps(tx, site, &mut incident, now_ms, events)?;
    }
    Ok(events.len() - before)
}

/// What the clocks need of a live incident, without its labels, summary and notes.
struct ClockRow {
    id: u64,
    severity: String,
    state: IncidentState,
    acked: bool,
    planned: bool,
    clock_start_ms: i64,
    deadlines: Deadlines,
}

impl ClockRow {
    fn of(incident: &Incident) -> Self {
        let h = &incident.handling;
        Self {
            id: incident.id,
            severity: incident.severity.clone(),
            state: incident.state,
            acked: incident.acked_ms.is_some(),
            planned: h.planned_ms.is_some(),
            clock_start_ms: h.clock_start_ms,
            deadlines: Deadlines {
                respond: h.respond_due_ms,
                fix_plan: h.fix_plan_due_ms,
                resolve: h.resolve_due_ms,
            },
        }
    }

    fn facts(&self, level: &Level) -> ClockFacts {
        ClockFacts {
            start_ms: self.clock_start_ms,
            live: self.state.is_live(),
            taken: self.state.is_taken() || self.acked,
            planned: self.planned,
            resolve_paused: self.state == IncidentState::Waiting && level.waiting_pauses_resolve,
            deadlines: self.deadlines,
        }
    }
}

/// What the schedule needs to know about `incident` on `level`.
fn facts(level: &Level, incident: &Incident) -> ClockFacts {
    ClockRow::of(incident).facts(level)
}

const LIVE: &str = "state IN ('open', 'acknowledged', 'assigned', 'waiting')";

fn live_clocks(tx: &Connection) -> Result<Vec<ClockRow>, StoreError> {
    let sql = format!(
        "SELECT id, severity, state, acked_ms IS NOT NULL, planned_ms IS NOT NULL, \
         clock_start_ms, respond_due_ms, fix_plan_due_ms, resolve_due_ms \
         FROM incidents WHERE {LIVE} ORDER BY id"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let state: String = r.get(2)?;
        // A row that does not read is left to the full load, which reports it when it matters.
        let (Ok(id), Ok(state)) = (u64::try_from(r.get::<_, i64>(0)?), state.parse()) else {
            continue;
        };
        out.push(ClockRow {
            id,
            severity: r.get(1)?,
            state,
            acked: r.get(3)?,
            planned: r.get(4)?,
            clock_start_ms: r.get(5)?,
            deadlines: Deadlines {
                respond: r.get(6)?,
                fix_plan: r.get(7)?,
                resolve: r.get(8)?,
            },
        });
    }
    Ok(out)
}

fn load(tx: &Connection, id: u64) -> Result<Option<Incident>, StoreError> {
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
    let mut stmt = tx.prepare_cached(&sql)?;
    Ok(stmt
        .query_row([to_i64(id)?], incident_from_row)
        .optional()?)
}

/// The breaches and steps already recorded for live incidents, read once per round. Only a
/// filter: the inserts' keys still decide what fires, so a stale view can never fire twice.
struct Recorded {
    breaches: HashSet<(u64, String)>,
    steps: HashMap<u64, HashSet<(String, u32)>>,
}

impl Recorded {
    fn load(tx: &Connection) -> Result<Self, StoreError> {
        let sql = format!(
            "SELECT b.incident_id, b.clock FROM incident_breaches b \
             JOIN incidents i ON i.id = b.incident_id WHERE i.{LIVE}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut breaches = HashSet::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let Ok(id) = u64::try_from(r.get::<_, i64>(0)?) {
                breaches.insert((id, r.get(1)?));
            }
        }
        let sql = format!(
            "SELECT e.incident_id, e.step, e.occurrence FROM escalations e \
             JOIN incidents i ON i.id = e.incident_id WHERE i.{LIVE}"
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut steps: HashMap<u64, HashSet<(String, u32)>> = HashMap::new();
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            if let Ok(id) = u64::try_from(r.get::<_, i64>(0)?) {
                steps.entry(id).or_default().insert((r.get(1)?, r.get(2)?));
            }
        }
        Ok(Self { breaches, steps })
    }

    /// Whether a clock of `clock` is breached or a step of its policy is due, and not recorded.
    fn something_due(&self, site: &Site, clock: &ClockRow, now_ms: i64) -> bool {
        let Some(level) = site.level(&clock.severity) else {
            return false;
        };
        let facts = clock.facts(level);
        let breach = breached_clocks(&facts, now_ms)
            .iter()
            .any(|(name, _)| !self.breaches.contains(&(clock.id, (*name).to_owned())));
        if breach {
            return true;
        }
        let Some(policy) = site.policy_of(level) else {
            return false;
        };
        let fired = self.steps.get(&clock.id);
        !due_steps(
            policy,
            &site.calendar_of(level),
            &facts,
            now_ms,
            |step, occ| fired.is_some_and(|f| f.contains(&(step_key(&policy.name, step), occ))),
        )
        .is_empty()
    }
}

/// Step keys carry the policy: a level raised onto another policy starts that one's steps.
fn step_key(policy: &str, step: &str) -> String {
    format!("{policy}/{step}")
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
    let key = |step: &str| step_key(&policy.name, step);
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
