//! The writer thread: sole owner of the write connection. It drains every request queued at
//! the moment (up to [`GROUP_MAX`]) into one transaction (group commit), publishes the events
//! after the commit, then answers each caller.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::create::{NewIncident, apply_create};
use super::manual::{Manual, apply_manual, leave_waiting};
use super::open::{Opening, open_incident};
use super::outbox::Router;
use super::schema::{INCIDENT_COLUMNS, fingerprint_text, incident_from_row, to_i64};
use super::{AppliedSeq, Change, Op, Refused, StoreError, WriteBatch};
use crate::incident::{Action, EventKind, Incident, IncidentEvent};
use patrol_site::Site;
use patrol_site::SiteHandle;

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
    /// A person's operation.
    Manual {
        id: u64,
        op: Op,
        by: String,
        note: Option<String>,
        at_ms: i64,
        reply: oneshot::Sender<Result<Incident, StoreError>>,
    },
    /// The outcome of delivering an outbox row.
    Delivered {
        id: u64,
        outcome: super::outbox::Delivery,
        at_ms: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Fire the deadlines and escalation steps due at `now_ms`.
    Clocks {
        now_ms: i64,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    /// An agent's latest facts, replacing what it had.
    Facts {
        facts: super::AgentFacts,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A person reports an incident (phone, e-mail, inspection round).
    Create {
        new: NewIncident,
        by: String,
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
    Clocks(Result<usize, StoreError>),
    Delivered(Result<(), StoreError>),
    Saved(Result<(), StoreError>),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        match self {
            Outcome::Commit(r) => r.is_ok(),
            Outcome::Manual(r) => r.is_ok(),
            Outcome::Clocks(r) => r.is_ok(),
            Outcome::Delivered(r) => r.is_ok(),
            Outcome::Saved(r) => r.is_ok(),
        }
    }

    /// The same kind of outcome, failed with `e`.
    fn failed(self, e: StoreError) -> Outcome {
        match self {
            Outcome::Commit(_) => Outcome::Commit(Err(e)),
            Outcome::Manual(_) => Outcome::Manual(Err(e)),
            Outcome::Clocks(_) => Outcome::Clocks(Err(e)),
            Outcome::Delivered(_) => Outcome::Delivered(Err(e)),
            Outcome::Saved(_) => Outcome::Saved(Err(e)),
        }
    }
}

/// Runs until every sender is dropped (the last `Store` clone), finishing the queued work first.
pub fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Request>,
    events: broadcast::Sender<Arc<IncidentEvent>>,
    site: SiteHandle,
    router: Option<Router>,
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
        let site = patrol_site::current(&site);
        process_group(&mut conn, &mut group, &events, &site, router.as_ref());
    }
    tracing::debug!("incident store writer stopped");
}

fn process_group(
    conn: &mut Connection,
    group: &mut Vec<Request>,
    bus: &broadcast::Sender<Arc<IncidentEvent>>,
    site: &Site,
    router: Option<&Router>,
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
                    Outcome::Commit(apply_batch(&sp, site, batch, &mut events))
                }
                Request::Manual {
                    id,
                    op,
                    by,
                    note,
                    at_ms,
                    ..
                } => Outcome::Manual(apply_manual(
                    &sp,
                    site,
                    Manual {
                        id: *id,
                        op,
                        by,
                        note: note.as_deref(),
                        at_ms: *at_ms,
                    },
                    &mut events,
                )),
                Request::Clocks { now_ms, .. } => {
                    Outcome::Clocks(super::escalate::run_clocks(&sp, site, *now_ms, &mut events))
                }
                Request::Delivered {
                    id, outcome, at_ms, ..
                } => Outcome::Delivered(
                    super::outbox::record(&sp, *id, outcome, *at_ms).map(|ev| events.extend(ev)),
                ),
                Request::Facts { facts, .. } => Outcome::Saved(super::facts::save(&sp, facts)),
                // Same result type as a person's operation: it is answered the same way.
                Request::Create { new, by, at_ms, .. } => {
                    Outcome::Manual(apply_create(&sp, site, new, by, *at_ms, &mut events))
                }
            };
            // The event's notifications are written with it, or neither is.
            let outcome = match router {
                Some(router) if outcome.is_ok() => {
                    let mut refused = Vec::new();
                    let queued = super::outbox::enqueue(&sp, router, site, &events, &mut refused);
                    events.append(&mut refused);
                    match queued {
                        Ok(()) => outcome,
                        Err(e) => outcome.failed(e),
                    }
                }
                _ => outcome,
            };
            let ok = outcome.is_ok();
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
                    Request::Manual { reply, .. } | Request::Create { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                    Request::Clocks { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                    Request::Delivered { reply, .. } | Request::Facts { reply, .. } => {
                        let _ = reply.send(Err(err));
                    }
                }
            }
        }
    }
}

fn reply(req: Request, outcome: Outcome) {
    // A send error means the caller stopped waiting (its future was dropped): nothing to do.
    // Outcomes are built from the same request, so the kinds always pair up; a mismatch is
    // answered with an error rather than a panic.
    match req {
        Request::Commit { reply, .. } => {
            let _ = reply.send(match outcome {
                Outcome::Commit(r) => r,
                _ => Err(StoreError::Closed),
            });
        }
        Request::Manual { reply, .. } | Request::Create { reply, .. } => {
            let _ = reply.send(match outcome {
                Outcome::Manual(r) => r,
                _ => Err(StoreError::Closed),
            });
        }
        Request::Clocks { reply, .. } => {
            let _ = reply.send(match outcome {
                Outcome::Clocks(r) => r,
                _ => Err(StoreError::Closed),
            });
        }
        Request::Delivered { reply, .. } => {
            let _ = reply.send(match outcome {
                Outcome::Delivered(r) => r,
                _ => Err(StoreError::Closed),
            });
        }
        Request::Facts { reply, .. } => {
            let _ = reply.send(match outcome {
                Outcome::Saved(r) => r,
                _ => Err(StoreError::Closed),
            });
        }
    }
}

fn apply_batch(
    tx: &Connection,
    site: &Site,
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
                threshold,
                value,
                at_ms,
            } => {
                if find_live(tx, rule, *fingerprint)?.is_some() {
                    // Already live: a restart or a resent batch must not duplicate it.
                    continue;
                }
                let reopen_ms =
                    i64::try_from(site.incidents.reopen_within.as_millis()).unwrap_or(i64::MAX);
                if let Some(mut incident) =
                    find_recently_resolved(tx, rule, *fingerprint, at_ms.saturating_sub(reopen_ms))?
                {
                    reopen(tx, &mut incident, *value, summary, *at_ms, events)?;
                    continue;
                }
                open_incident(
                    tx,
                    site,
                    Opening {
                        rule,
                        severity,
                        fingerprint: *fingerprint,
                        host,
                        labels,
                        summary,
                        threshold: threshold.as_deref(),
                        value: *value,
                        source: RULE_ACTOR,
                        actor: RULE_ACTOR,
                        at_ms: *at_ms,
                    },
                    events,
                )?;
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
                leave_waiting(site, &mut incident, *at_ms);
                update(tx, &incident)?;
                let detail = deadlines_detail(&incident);
                events.push(journal(
                    tx,
                    EventKind::Resolved,
                    *at_ms,
                    RULE_ACTOR,
                    None,
                    Some(detail),
                    incident,
                )?);
            }
            Change::Flapping {
                rule,
                fingerprint,
                flapping,
                percent,
                at_ms,
            } => {
                let Some(mut incident) = find_live(tx, rule, *fingerprint)? else {
                    continue;
                };
                if incident.handling.flapping == *flapping {
                    continue;
                }
                incident.handling.flapping = *flapping;
                incident.updated_ms = *at_ms;
                update(tx, &incident)?;
                let detail = serde_json::json!({ "flapping": flapping, "percent": percent });
                events.push(journal(
                    tx,
                    EventKind::Flapping,
                    *at_ms,
                    RULE_ACTOR,
                    None,
                    Some(detail.to_string()),
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

/// The clocks of an incident as journal detail: each deadline and whether it was met, so a
/// resolution records which targets were kept.
pub(super) fn deadlines_detail(incident: &Incident) -> String {
    let h = &incident.handling;
    let clock = |due: Option<i64>, met: Option<i64>| match due {
        None => serde_json::Value::Null,
        Some(due) => serde_json::json!({
            "due_ms": due,
            "met_ms": met,
            "met": met.map(|m| m <= due),
        }),
    };
    serde_json::json!({
        "level": incident.severity,
        "clock_start_ms": h.clock_start_ms,
        "respond": clock(h.respond_due_ms, incident.acked_ms),
        "fix_plan": clock(h.fix_plan_due_ms, h.planned_ms),
        "resolve": clock(h.resolve_due_ms, incident.resolved_ms),
    })
    .to_string()
}

/// The condition came back soon after its incident resolved: the same incident goes on.
fn reopen(
    tx: &Connection,
    incident: &mut Incident,
    value: f64,
    summary: &str,
    at_ms: i64,
    events: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    incident.state = incident.state.apply(Action::Reopen).map_err(|transition| {
        StoreError::Illegal(Refused {
            id: incident.id,
            transition,
        })
    })?;
    incident.value = value;
    summary.clone_into(&mut incident.summary);
    incident.updated_ms = at_ms;
    incident.resolved_ms = None;
    incident.resolved_by = None;
    incident.handling.resolution = None;
    incident.handling.reopened += 1;
    update(tx, incident)?;
    let detail = serde_json::json!({ "reopened": incident.handling.reopened });
    events.push(journal(
        tx,
        EventKind::Reopened,
        at_ms,
        RULE_ACTOR,
        None,
        Some(detail.to_string()),
        incident.clone(),
    )?);
    Ok(())
}

fn find_recently_resolved(
    tx: &Connection,
    rule: &str,
    fingerprint: u64,
    since_ms: i64,
) -> Result<Option<Incident>, StoreError> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents \
         WHERE rule = ?1 AND fingerprint = ?2 AND state = 'resolved' AND resolved_ms >= ?3 \
         ORDER BY id DESC LIMIT 1"
    );
    Ok(tx
        .prepare_cached(&sql)?
        .query_row(
            params![rule, fingerprint_text(fingerprint), since_ms],
            incident_from_row,
        )
        .optional()?)
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

pub(super) fn get(tx: &Connection, id: u64) -> Result<Option<Incident>, StoreError> {
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
pub(super) fn update(tx: &Connection, incident: &Incident) -> Result<(), StoreError> {
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
pub(super) fn journal(
    tx: &Connection,
    kind: EventKind,
    at_ms: i64,
    actor: &str,
    note: Option<&str>,
    detail: Option<String>,
    incident: Incident,
) -> Result<IncidentEvent, StoreError> {
    tx.prepare_cached(
        "INSERT INTO incident_events (incident_id, kind, at_ms, actor, note, state, detail, level) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        to_i64(incident.id)?,
        kind.as_str(),
        at_ms,
        actor,
        note,
        incident.state.as_str(),
        detail,
        incident.severity,
    ])?;
    Ok(IncidentEvent {
        id: u64::try_from(tx.last_insert_rowid()).unwrap_or_default(),
        kind,
        at_ms,
        actor: actor.to_owned(),
        note: note.map(str::to_owned),
        detail,
        incident,
    })
}

/// Epochs remembered per agent: the current one and a few before it, in case two streams of
/// the agent (a restart racing its old connection) commit out of order.
pub const EPOCHS_KEPT: usize = 4;

fn upsert_applied(tx: &Connection, a: &AppliedSeq) -> Result<(), StoreError> {
    let (epoch, seq) = (to_i64(a.epoch)?, to_i64(a.seq)?);
    let inserted = tx
        .prepare_cached(
            "INSERT INTO agent_seq (agent_id, epoch, seq) VALUES (?1, ?2, ?3) \
             ON CONFLICT (agent_id, epoch) DO NOTHING",
        )?
        .execute(params![a.agent_id, epoch, seq])?;
    if inserted == 0 {
        // Within an epoch numbers only grow: a late, older batch must not move it back.
        tx.prepare_cached(
            "UPDATE agent_seq SET seq = ?3 WHERE agent_id = ?1 AND epoch = ?2 AND seq < ?3",
        )?
        .execute(params![a.agent_id, epoch, seq])?;
    } else {
        // A new epoch: forget all but the most recently begun ones (rowid order is the order
        // epochs were first seen, whatever their values).
        tx.prepare_cached(
            "DELETE FROM agent_seq WHERE agent_id = ?1 AND rowid NOT IN \
             (SELECT rowid FROM agent_seq WHERE agent_id = ?1 ORDER BY rowid DESC LIMIT ?2)",
        )?
        .execute(params![a.agent_id, EPOCHS_KEPT as i64])?;
    }
    Ok(())
}
