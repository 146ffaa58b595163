//! The writer thread: sole owner of the write connection. It drains every request queued at
//! the moment (up to [`GROUP_MAX`]) into one transaction (group commit), publishes the events
//! after the commit, then answers each caller.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::schema::{
    INCIDENT_COLUMNS, fingerprint_text, incident_from_row, labels_to_json, to_i64,
};
use super::{AppliedSeq, Change, Refused, StoreError, WriteBatch};
use crate::incident::{Action, EventKind, Handling, Incident, IncidentEvent, IncidentState};

/// Most requests folded into one transaction: bounds the latency of the first caller in a group.
pub const GROUP_MAX: usize = 256;

/// Actor recorded for rule-driven changes.
pub const RULE_ACTOR: &str = "rule";

/// One unit of work for the writer.
pub enum Request {
    /// Rule decisions and applied batch numbers.
    Commit {
        batch: WriteBatch,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Acknowledge or resolve by hand.
    Manual {
        id: u64,
        action: Action,
        by: String,
        note: Option<String>,
        at_ms: i64,
        reply: oneshot::Sender<Result<Incident, StoreError>>,
    },
}

/// What a request yields inside the transaction, before it is known to be durable.
// Short-lived (one per queued request, at most GROUP_MAX at a time): boxing buys nothing.
#[allow(clippy::large_enum_variant)]
enum Outcome {
    Commit(Result<(), StoreError>),
    Manual(Result<Incident, StoreError>),
}

/// Runs until every sender is dropped (the last `Store` clone), finishing the queued work first.
pub fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Request>,
    events: broadcast::Sender<Arc<IncidentEvent>>,
) {
    let mut group = Vec::with_capacity(GROUP_MAX);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < GROUP_MAX {
            match rx.try_recv() {
                Ok(req) => group.push(req),
                Err(_) => break,
            }
        }
        process_group(&mut conn, &mut group, &events);
    }
    tracing::debug!("incident store writer stopped");
}

fn process_group(
    conn: &mut Connection,
    group: &mut Vec<Request>,
    bus: &broadcast::Sender<Arc<IncidentEvent>>,
) {
    let n = group.len();
    let mut outcomes = Vec::with_capacity(n);
    let mut published = Vec::new();
    let result = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for req in group.iter() {
            let mut events = Vec::new();
            // A savepoint per request: one failing request is rolled back alone and the rest of
            // the group still commits.
            let sp = tx.savepoint()?;
            let outcome = match req {
                Request::Commit { batch, .. } => {
                    Outcome::Commit(apply_batch(&sp, batch, &mut events))
                }
                Request::Manual {
                    id,
                    action,
                    by,
                    note,
                    at_ms,
                    ..
                } => Outcome::Manual(apply_manual(
                    &sp,
                    *id,
                    *action,
                    by,
                    note.as_deref(),
                    *at_ms,
                    &mut events,
                )),
            };
            let ok = matches!(outcome, Outcome::Commit(Ok(_)) | Outcome::Manual(Ok(_)));
            if ok {
                sp.commit()?;
                published.append(&mut events);
            } // else: dropping the savepoint rolls it back.
            outcomes.push(outcome);
        }
        tx.commit()
    })();

    match result {
        Ok(()) => {
            tracing::trace!(requests = n, events = published.len(), "group committed");
            // Durable now: publish in event-id order (they were appended in that order).
            for ev in published {
                // A send error only means no watcher is subscribed.
                let _ = bus.send(Arc::new(ev));
            }
            for (req, outcome) in group.drain(..).zip(outcomes) {
                reply(req, outcome);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, requests = n, "incident store commit failed");
            let msg = e.to_string();
            for req in group.drain(..) {
                let err = StoreError::CommitFailed(msg.clone());
                match req {
                    Request::Commit { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                    Request::Manual { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                }
            }
        }
    }
}

fn reply(req: Request, outcome: Outcome) {
    // A send error means the caller stopped waiting (its future was dropped): nothing to do.
    match (req, outcome) {
        (Request::Commit { reply, .. }, Outcome::Commit(r)) => {
            let _ = reply.send(r);
        }
        (Request::Manual { reply, .. }, Outcome::Manual(r)) => {
            let _ = reply.send(r);
        }
        // Outcomes are built from the same request, so the kinds always pair up; answer
        // defensively rather than panic if that ever changes.
        (Request::Commit { reply, .. }, Outcome::Manual(_)) => {
            let _ = reply.send(Err(StoreError::Closed));
        }
        (Request::Manual { reply, .. }, Outcome::Commit(_)) => {
            let _ = reply.send(Err(StoreError::Closed));
        }
    }
}

fn apply_batch(
    tx: &Connection,
    batch: &WriteBatch,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    for change in &batch.changes {
        match change {
            Change::Open {
                rule,
                severity,
                fingerprint,
                host,
                labels,
                summary,
                value,
                at_ms,
            } => {
                if find_live(tx, rule, *fingerprint)?.is_some() {
                    // Already live: a restart or a resent batch must not duplicate it.
                    continue;
                }
                tx.execute(
                    "INSERT INTO incidents (rule, severity, state, host, labels_json, summary, \
                     value, fingerprint, opened_ms, updated_ms, clock_start_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9)",
                    params![
                        rule,
                        severity,
                        IncidentState::Open.as_str(),
                        host,
                        labels_to_json(labels),
                        summary,
                        value,
                        fingerprint_text(*fingerprint),
                        at_ms
                    ],
                )?;
                let incident = Incident {
                    id: u64::try_from(tx.last_insert_rowid()).unwrap_or_default(),
                    rule: rule.clone(),
                    severity: severity.clone(),
                    state: IncidentState::Open,
                    host: host.clone(),
                    labels: labels.clone(),
                    summary: summary.clone(),
                    value: *value,
                    fingerprint: *fingerprint,
                    opened_ms: *at_ms,
                    updated_ms: *at_ms,
                    acked_by: None,
                    acked_ms: None,
                    ack_note: None,
                    resolved_ms: None,
                    resolved_by: None,
                    handling: Handling::rule(*at_ms),
                };
                events.push(journal(
                    tx,
                    EventKind::Opened,
                    *at_ms,
                    RULE_ACTOR,
                    None,
                    incident,
                )?);
            }
            Change::Resolve {
                rule,
                fingerprint,
                value,
                at_ms,
            } => {
                let Some(mut incident) = find_live(tx, rule, *fingerprint)? else {
                    // Nothing live (e.g. resolved by hand already): nothing to do.
                    continue;
                };
                incident.state = incident
                    .state
                    .apply(Action::Resolve)
                    .map_err(|transition| {
                        StoreError::Illegal(Refused {
                            id: incident.id,
                            transition,
                        })
                    })?;
                incident.value = *value;
                incident.updated_ms = *at_ms;
                incident.resolved_ms = Some(*at_ms);
                incident.resolved_by = Some(RULE_ACTOR.to_owned());
                update(tx, &incident)?;
                events.push(journal(
                    tx,
                    EventKind::Resolved,
                    *at_ms,
                    RULE_ACTOR,
                    None,
                    incident,
                )?);
            }
        }
    }
    for applied in &batch.applied {
        upsert_applied(tx, applied)?;
    }
    Ok(())
}

fn apply_manual(
    tx: &Connection,
    id: u64,
    action: Action,
    by: &str,
    note: Option<&str>,
    at_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<Incident, StoreError> {
    let mut incident = get(tx, id)?.ok_or(StoreError::NotFound(id))?;
    incident.state = incident
        .state
        .apply(action)
        .map_err(|transition| StoreError::Illegal(Refused { id, transition }))?;
    incident.updated_ms = at_ms;
    let kind = match action {
        Action::Acknowledge => {
            incident.acked_by = Some(by.to_owned());
            incident.acked_ms = Some(at_ms);
            incident.ack_note = note.map(str::to_owned);
            EventKind::Acknowledged
        }
        Action::Resolve => {
            incident.resolved_by = Some(by.to_owned());
            incident.resolved_ms = Some(at_ms);
            EventKind::Resolved
        }
        // The NOC lifecycle (assign, wait, close, reopen) lands with the store's schema v2.
        Action::Assign | Action::Wait | Action::Close | Action::Reopen => {
            return Err(StoreError::Unsupported(action.verb()));
        }
    };
    update(tx, &incident)?;
    events.push(journal(tx, kind, at_ms, by, note, incident.clone())?);
    Ok(incident)
}

fn find_live(
    tx: &Connection,
    rule: &str,
    fingerprint: u64,
) -> Result<Option<Incident>, StoreError> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE rule = ?1 AND fingerprint = ?2 \
         AND state IN ('open', 'acknowledged', 'assigned', 'waiting')"
    );
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(
            params![rule, fingerprint_text(fingerprint)],
            incident_from_row,
        )
        .optional()?)
}

fn get(tx: &Connection, id: u64) -> Result<Option<Incident>, StoreError> {
    // Ids beyond i64 cannot exist in SQLite.
    let Ok(id) = i64::try_from(id) else {
        return Ok(None);
    };
    let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
    Ok(tx
        .prepare_cached(&sql)?
        .query_row([id], incident_from_row)
        .optional()?)
}

/// Writes the mutable columns of `incident` back.
fn update(tx: &Connection, incident: &Incident) -> Result<(), StoreError> {
    let h = &incident.handling;
    tx.prepare_cached(
        "UPDATE incidents SET state = ?2, value = ?3, updated_ms = ?4, acked_by = ?5, \
         acked_ms = ?6, ack_note = ?7, resolved_ms = ?8, resolved_by = ?9, severity = ?10, \
         summary = ?11, assignee = ?12, clock_start_ms = ?13, suppressed_by = ?14, \
         flapping = ?15, reopened = ?16, planned_ms = ?17, waiting_since_ms = ?18, \
         closed_ms = ?19, resolution = ?20, respond_due_ms = ?21, fix_plan_due_ms = ?22, \
         resolve_due_ms = ?23 WHERE id = ?1",
    )?
    .execute(params![
        to_i64(incident.id)?,
        incident.state.as_str(),
        incident.value,
        incident.updated_ms,
        incident.acked_by,
        incident.acked_ms,
        incident.ack_note,
        incident.resolved_ms,
        incident.resolved_by,
        incident.severity,
        incident.summary,
        h.assignee,
        h.clock_start_ms,
        h.suppressed_by,
        h.flapping,
        h.reopened,
        h.planned_ms,
        h.waiting_since_ms,
        h.closed_ms,
        h.resolution,
        h.respond_due_ms,
        h.fix_plan_due_ms,
        h.resolve_due_ms,
    ])?;
    Ok(())
}

/// Appends the journal row; its row id is the event id.
fn journal(
    tx: &Connection,
    kind: EventKind,
    at_ms: i64,
    actor: &str,
    note: Option<&str>,
    incident: Incident,
) -> Result<IncidentEvent, StoreError> {
    tx.prepare_cached(
        "INSERT INTO incident_events (incident_id, kind, at_ms, actor, note, state) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        to_i64(incident.id)?,
        kind.as_str(),
        at_ms,
        actor,
        note,
        incident.state.as_str()
    ])?;
    Ok(IncidentEvent {
        id: u64::try_from(tx.last_insert_rowid()).unwrap_or_default(),
        kind,
        at_ms,
        actor: actor.to_owned(),
        note: note.map(str::to_owned),
        incident,
    })
}

fn upsert_applied(tx: &Connection, a: &AppliedSeq) -> Result<(), StoreError> {
    // Keep the newest (epoch, seq): a late, older batch number must not move it back.
    tx.prepare_cached(
        "INSERT INTO agent_seq (agent_id, epoch, seq) VALUES (?1, ?2, ?3) \
         ON CONFLICT (agent_id) DO UPDATE SET epoch = excluded.epoch, seq = excluded.seq \
         WHERE (excluded.epoch, excluded.seq) > (agent_seq.epoch, agent_seq.seq)",
    )?
    .execute(params![a.agent_id, to_i64(a.epoch)?, to_i64(a.seq)?])?;
    Ok(())
}
