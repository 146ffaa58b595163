//! The durable notification outbox, in the incident store.
//!
//! Which notifications an event produces is decided by a [`Router`] inside the writer's
//! transaction that journals the event, and written as `pending` rows there: an event that
//! committed has its notifications recorded, whatever happens next. Channel workers read their
//! pending rows in order, deliver, and report the outcome here; only a confirmed delivery
//! (MQTT PUBACK, HTTP 2xx, SMTP 250) marks a row `sent`, and a sent row is never handed out
//! again. A crash between the peer's confirmation and the `sent` commit resends that one
//! message after the restart, with the same event id for the receiver to drop.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::schema::to_i64;
use super::writer::{get, journal};
use crate::incident::{EventKind, IncidentEvent};
use patrol_site::Site;
use patrol_site::notify::DEFAULT_MAX_BACKLOG;

/// One notification an event calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The channel (`[channel.<name>]`).
    pub channel: String,
    /// Why it goes there (a route's name, or `escalation/<policy>/<step>`), for status and the
    /// journal.
    pub route: String,
    /// What the channel sends, as built at the event's commit.
    pub payload: String,
    /// For a grouping route: the group (rows with the same key on a channel go out as one
    /// message) and when it is sent at the earliest.
    pub group: Option<(String, i64)>,
}

/// Decides the notifications of a committed event (called inside the writer's transaction,
/// so it must be quick and must not block).
pub type Router = Arc<dyn Fn(&Site, &IncidentEvent) -> Vec<Notification> + Send + Sync>;

/// A pending notification as a channel worker gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// The outbox row.
    pub id: u64,
    /// The event it is about (the receiver's deduplication key).
    pub event_id: u64,
    /// The incident.
    pub incident_id: u64,
    /// Why it goes to this channel.
    pub route: String,
    /// What to send.
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Its group, when its route groups changes.
    pub group_key: Option<String>,
    /// When it may go out: at once, at the end of its group's wait, or at its next retry.
    pub next_ms: i64,
}

/// What a channel's worker may send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// Rows that may go out, oldest first.
    pub items: Vec<OutboxItem>,
    /// When the first row still waiting (for its group or a retry) falls due.
    pub next_ms: Option<i64>,
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The peer confirmed it.
    Sent,
    /// Failed for now; try again at `next_ms`.
    Retry {
        /// When to try again.
        next_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// Given up on (a permanent failure, or too many attempts): kept as a dead letter.
    Dead {
        /// Why.
        error: String,
    },
}

/// One channel's outbox figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// The channel.
    pub channel: String,
    /// Waiting to be delivered.
    pub pending: u64,
    /// Confirmed by the peer.
    pub sent: u64,
    /// Given up on.
    pub dead: u64,
    /// Of the dead, those refused because the channel's backlog was full.
    pub refused: u64,
    /// When the oldest pending notification was written.
    pub oldest_pending_ms: Option<i64>,
    /// The last failure, if the oldest pending one has failed.
    pub last_error: Option<String>,
}

/// Writes the rows for `events` (inside the writer's transaction). Delivery reports
/// (`notified`) are never routed: a notification about a notification would never end.
///
/// A channel already holding its `max_backlog` pending rows gets the row as a dead letter
/// instead, journalled as a `notified` event (returned in `journalled`): the outbox of a
/// channel that stays down is bounded, and what it refused is on record.
pub(super) fn enqueue(
    tx: &Connection,
    router: &Router,
    site: &Site,
    events: &[IncidentEvent],
    journalled: &mut Vec<IncidentEvent>,
) -> Result<(), StoreError> {
    for ev in events {
        if ev.kind == EventKind::Notified {
            continue;
        }
        for n in router(site, ev) {
            let (group_key, next_ms) = match n.group {
                Some((key, not_before)) => (Some(key), not_before),
                None => (None, ev.at_ms),
            };
            let limit = site
                .notify
                .channels
                .get(&n.channel)
                .map_or(DEFAULT_MAX_BACKLOG, |c| c.max_backlog);
            let pending = pending_rows(tx, &n.channel)?;
            let full = pending >= limit;
            let error = full.then(|| {
                format!(
                    "not queued: {pending} notifications already wait for this channel \
                     (max_backlog = {limit})"
                )
            });
            let inserted = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO notify_outbox \
                     (event_id, incident_id, channel, route, payload, next_ms, created_ms, \
                      group_key, state, last_error, done_ms) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )?
                .execute(params![
                    to_i64(ev.id)?,
                    to_i64(ev.incident.id)?,
                    n.channel,
                    n.route,
                    n.payload,
                    next_ms,
                    ev.at_ms,
                    group_key,
                    if full { "dead" } else { "pending" },
                    error,
                    full.then_some(ev.at_ms),
                ])?;
            if let (Some(error), 1) = (error, inserted) {
                tracing::warn!(channel = %n.channel, route = %n.route, event = ev.id,
                    "notification refused: {error}; it is kept as a dead letter");
                let detail = serde_json::json!({
                    "channel": n.channel,
                    "route": n.route,
                    "event_id": ev.id,
                    "outcome": "dead",
                    "attempts": 0,
                    "error": error,
                });
                let actor = format!("channel:{}", n.channel);
                // As it stands now: an earlier event of this transaction may have changed it.
                let incident = get(tx, ev.incident.id)?.unwrap_or_else(|| ev.incident.clone());
                journalled.push(journal(
                    tx,
                    EventKind::Notified,
                    ev.at_ms,
                    &actor,
                    None,
                    Some(detail.to_string()),
                    incident,
                )?);
            }
        }
    }
    Ok(())
}

/// Pending rows of `channel` (kept by the schema's triggers).
fn pending_rows(tx: &Connection, channel: &str) -> Result<u64, StoreError> {
    let n: Option<i64> = tx
        .prepare_cached("SELECT pending FROM notify_totals WHERE channel = ?1")?
        .query_row([channel], |r| r.get(0))
        .optional()?;
    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or_default())
}

/// Records the outcome of delivering row `id`; a final outcome (sent or dead) is journalled
/// as a `notified` event on the incident. Returns that event.
pub(super) fn record(
    tx: &Connection,
    id: u64,
    outcome: &Delivery,
    at_ms: i64,
) -> Result<Option<IncidentEvent>, StoreError> {
    let row: Option<(i64, i64, String, String, String, u32)> = tx
        .prepare_cached(
            "SELECT event_id, incident_id, channel, route, state, attempts \
             FROM notify_outbox WHERE id = ?1",
        )?
        .query_row([to_i64(id)?], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .optional()?;
    let Some((event_id, incident_id, channel, route, state, attempts)) = row else {
        return Err(StoreError::Setup(format!("outbox row {id} does not exist")));
    };
    if state != "pending" {
        // Reported twice (a worker restarted mid-report): the first report stands.
        return Ok(None);
    }
    let attempts = attempts + 1;
    let (new_state, error) = match outcome {
        Delivery::Sent => ("sent", None),
        Delivery::Retry { next_ms, error } => {
            tx.prepare_cached(
                "UPDATE notify_outbox SET attempts = ?2, next_ms = ?3, last_error = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![to_i64(id)?, attempts, next_ms, error])?;
            return Ok(None);
        }
        Delivery::Dead { error } => ("dead", Some(error.as_str())),
    };
    tx.prepare_cached(
        "UPDATE notify_outbox SET state = ?2, attempts = ?3, last_error = COALESCE(?4, last_error), \
         done_ms = ?5 WHERE id = ?1",
    )?
    .execute(params![to_i64(id)?, new_state, attempts, error, at_ms])?;
    let Some(incident) = get(tx, u64::try_from(incident_id).unwrap_or_default())? else {
        return Ok(None);
    };
    let detail = serde_json::json!({
        "channel": channel,
        "route": route,
        "event_id": event_id,
        "outcome": new_state,
        "attempts": attempts,
        "error": error,
    });
    journal(
        tx,
        EventKind::Notified,
        at_ms,
        &format!("channel:{channel}"),
        None,
        Some(detail.to_string()),
        incident,
    )
    .map(Some)
}

/// A pending row is held while it waits (for its group, or for a retry) or while its route is
/// over its rate limit; a row is blocked while an older row of the same incident is held, so
/// each incident's changes reach a channel in order while other incidents' go ahead. `?1` is
/// the channel, `?2` now, `?3` the held routes as a JSON array.
const NOT_BLOCKED: &str = "NOT EXISTS (SELECT 1 FROM notify_outbox p \
     WHERE p.channel = ?1 AND p.state = 'pending' AND p.incident_id = o.incident_id \
     AND p.id < o.id \
     AND (p.next_ms > ?2 OR p.route IN (SELECT value FROM json_each(?3))))";

const ITEM_COLUMNS: &str =
    "o.id, o.event_id, o.incident_id, o.route, o.payload, o.attempts, o.group_key, o.next_ms";

fn item(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxItem> {
    Ok(OutboxItem {
        id: r.get::<_, i64>(0)? as u64,
        event_id: r.get::<_, i64>(1)? as u64,
        incident_id: r.get::<_, i64>(2)? as u64,
        route: r.get(3)?,
        payload: r.get(4)?,
        attempts: r.get(5)?,
        group_key: r.get(6)?,
        next_ms: r.get(7)?,
    })
}

fn routes_json(routes: &[String]) -> String {
    serde_json::to_string(routes).unwrap_or_else(|_| "[]".to_owned())
}

/// Up to `limit` rows of `channel` that may go out at `now_ms`, oldest first: pending, not
/// held, not on a route in `held_routes`, not blocked by a held row of their incident. Also
/// when the first held row falls due.
pub(super) fn due(
    conn: &Connection,
    channel: &str,
    now_ms: i64,
    held_routes: &[String],
    limit: usize,
) -> Result<Due, StoreError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM notify_outbox o \
         WHERE o.channel = ?1 AND o.state = 'pending' AND o.next_ms <= ?2 \
         AND o.route NOT IN (SELECT value FROM json_each(?3)) AND {NOT_BLOCKED} \
         ORDER BY o.id LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let held = routes_json(held_routes);
    let items = stmt
        .query_map(params![channel, now_ms, held, limit as i64], item)?
        .collect::<Result<_, _>>()?;
    let next_ms = conn
        .prepare_cached(
            "SELECT MIN(next_ms) FROM notify_outbox \
             WHERE channel = ?1 AND state = 'pending' AND next_ms > ?2",
        )?
        .query_row(params![channel, now_ms], |r| r.get(0))?;
    Ok(Due { items, next_ms })
}

/// The figures of every channel with rows.
pub(super) fn backlog(conn: &Connection) -> Result<Vec<Backlog>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.channel, t.pending, t.sent, t.dead, t.refused, \
           (SELECT created_ms FROM notify_outbox o WHERE o.channel = t.channel \
              AND o.state = 'pending' ORDER BY o.id LIMIT 1), \
           (SELECT last_error FROM notify_outbox o WHERE o.channel = t.channel \
              AND o.state = 'pending' ORDER BY o.id LIMIT 1) \
         FROM notify_totals t ORDER BY t.channel",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Backlog {
            channel: r.get(0)?,
            pending: r.get::<_, i64>(1)? as u64,
            sent: r.get::<_, i64>(2)? as u64,
            dead: r.get::<_, i64>(3)? as u64,
            refused: r.get::<_, i64>(4)? as u64,
            oldest_pending_ms: r.get(5)?,
            last_error: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Up to `limit` pending rows of `channel` in group `key`, oldest first, leaving out rows
/// blocked by a held row of their incident (they go out with a later message of the group).
pub(super) fn group(
    conn: &Connection,
    channel: &str,
    key: &str,
    now_ms: i64,
    held_routes: &[String],
    limit: usize,
) -> Result<Vec<OutboxItem>, StoreError> {
    let sql = format!(
        "SELECT {ITEM_COLUMNS} FROM notify_outbox o \
         WHERE o.channel = ?1 AND o.state = 'pending' AND o.group_key = ?4 AND {NOT_BLOCKED} \
         ORDER BY o.id LIMIT ?5"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let held = routes_json(held_routes);
    let rows = stmt.query_map(params![channel, now_ms, held, key, limit as i64], item)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Messages `channel` sent for `route` since `since_ms`, and when the oldest of them was sent
/// (a grouped message counts once: its rows share their `done_ms` and group).
pub(super) fn sent_since(
    conn: &Connection,
    channel: &str,
    route: &str,
    since_ms: i64,
) -> Result<(u64, Option<i64>), StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT COUNT(DISTINCT done_ms || '/' || COALESCE(group_key, id)), MIN(done_ms) \
             FROM notify_outbox \
             WHERE channel = ?1 AND route = ?2 AND state = 'sent' AND done_ms > ?3",
        )?
        .query_row(params![channel, route, since_ms], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
        })?)
}
