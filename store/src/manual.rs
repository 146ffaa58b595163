//! A person's operations on an incident (acknowledge, assign, wait, comment, plan, resolve,
//! close) as the store writer applies them: the state change, the clocks it meets or moves,
//! and the journal entry.

use rusqlite::Connection;

use super::writer::{deadlines_detail, get, journal, update};
use super::{Op, Refused, StoreError};
use crate::incident::{Action, EventKind, Incident, IncidentEvent, IncidentState};
use patrol_site::Site;

/// A person's operation as the writer applies it.
pub(super) struct Manual<'a> {
    pub id: u64,
    pub op: &'a Op,
    pub by: &'a str,
    pub note: Option<&'a str>,
    pub at_ms: i64,
}

pub(super) fn apply_manual(
    tx: &Connection,
    site: &Site,
    m: Manual<'_>,
    events: &mut Vec<IncidentEvent>,
) -> Result<Incident, StoreError> {
    let Manual {
        id,
        op,
        by,
        note,
        at_ms,
    } = m;
    let mut incident = get(tx, id)?.ok_or(StoreError::NotFound(id))?;
    let refuse = |transition| StoreError::Illegal(Refused { id, transition });
    let invalid = |message: &str| StoreError::Invalid {
        id,
        message: message.to_owned(),
    };
    let mut detail = None;
    let kind = match op {
        Op::Acknowledge => {
            incident.state = incident.state.apply(Action::Acknowledge).map_err(refuse)?;
            take(&mut incident, by, note, at_ms);
            EventKind::Acknowledged
        }
        Op::Assign(to) => {
            if to.trim().is_empty() {
                return Err(invalid("assign needs the name of whom to assign it to"));
            }
            incident.state = incident.state.apply(Action::Assign).map_err(refuse)?;
            if incident.acked_ms.is_none() {
                // Assigning takes the incident: it meets the respond clock.
                take(&mut incident, by, None, at_ms);
            }
            leave_waiting(site, &mut incident, at_ms);
            detail = Some(serde_json::json!({ "assignee": to }).to_string());
            incident.handling.assignee = Some(to.clone());
            EventKind::Assigned
        }
        Op::Wait => {
            incident.state = incident.state.apply(Action::Wait).map_err(refuse)?;
            incident.handling.waiting_since_ms = Some(at_ms);
            EventKind::Waiting
        }
        Op::Comment => {
            if note.is_none_or(|n| n.trim().is_empty()) {
                return Err(invalid("a comment needs its text"));
            }
            if incident.state == IncidentState::Closed {
                return Err(invalid("a closed incident takes no more comments"));
            }
            EventKind::Commented
        }
        Op::Plan => {
            if note.is_none_or(|n| n.trim().is_empty()) {
                return Err(invalid("a fix plan needs its text"));
            }
            if !incident.state.is_live() {
                return Err(invalid(&format!(
                    "a fix plan is for a live incident, this one is {}",
                    incident.state
                )));
            }
            incident.handling.planned_ms = Some(at_ms);
            EventKind::Planned
        }
        Op::Resolve => {
            incident.state = incident.state.apply(Action::Resolve).map_err(refuse)?;
            incident.resolved_by = Some(by.to_owned());
            incident.resolved_ms = Some(at_ms);
            incident.handling.resolution = note.map(str::to_owned);
            leave_waiting(site, &mut incident, at_ms);
            detail = Some(deadlines_detail(&incident));
            EventKind::Resolved
        }
        Op::Close => {
            incident.state = incident.state.apply(Action::Close).map_err(refuse)?;
            incident.handling.closed_ms = Some(at_ms);
            EventKind::Closed
        }
    };
    incident.updated_ms = at_ms;
    update(tx, &incident)?;
    events.push(journal(
        tx,
        kind,
        at_ms,
        by,
        note,
        detail,
        incident.clone(),
    )?);
    Ok(incident)
}

/// Records who took the incident (acknowledged it, or was first to assign it).
fn take(incident: &mut Incident, by: &str, note: Option<&str>, at_ms: i64) {
    incident.acked_by = Some(by.to_owned());
    incident.acked_ms = Some(at_ms);
    incident.ack_note = note.map(str::to_owned);
}

/// Ends a wait; on a level where waiting pauses the resolve clock, moves the resolve deadline
/// out by the working time spent waiting.
pub(super) fn leave_waiting(site: &Site, incident: &mut Incident, at_ms: i64) {
    let Some(since) = incident.handling.waiting_since_ms.take() else {
        return;
    };
    let Some(level) = site.level(&incident.severity) else {
        return;
    };
    if !level.waiting_pauses_resolve {
        return;
    }
    let cal = site.calendar_of(level);
    let waited = cal.business_ms(since, at_ms);
    if let Some(due) = incident.handling.resolve_due_ms {
        incident.handling.resolve_due_ms = cal.add_business(due, waited).or(Some(due));
    }
}
