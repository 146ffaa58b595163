//! The durable incident store: incidents and their lifecycle (the model and its transition
//! table are `patrol-incident`'s, re-exported here as [`incident`]), the journal of every
//! change, the clocks and escalation steps fired, the notification outbox, the highest
//! batch applied per agent and each agent's latest facts — on SQLite (`<data_dir>/patrol.db`) today.
//!
//! One writer thread owns the write connection ([`writer`]); every change — rule decisions,
//! acknowledge and resolve by hand — goes through it, so they are ordered, and requests queued
//! at the same time share one transaction (group commit). Events are published on the bus
//! only after their commit. Reads use a second connection behind a mutex; WAL mode lets them
//! run beside the writer. The schema and its migrations live in [`schema`].
//!
//! The seam for a second backend (PostgreSQL, shared by several collectors) is
//! [`IncidentStore`]: the collector and the dispatcher hold an `Arc<dyn IncidentStore>` and
//! never see SQLite; the request and answer types ([`WriteBatch`], [`Change`], [`Op`],
//! [`NewIncident`], [`Delivery`], [`Due`], [`JournalEntry`]...) are backend-neutral.
//!
//! Must never depend on: the notification channels (`patrol-notify` depends on this crate to
//! read and record the outbox), the collector, or any network code. Which channels an event
//! goes to is decided by a [`Router`] the caller passes in.

pub use patrol_incident as incident;

mod escalate;
mod facts;
mod outbox;
mod schema;
mod writer;
// Manual incidents and the insert they share with rule-opened ones.
mod create;
mod manual;
mod open;
mod seam;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use patrol_proto::Labels;
use rusqlite::{Connection, OpenFlags, params, params_from_iter};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::incident::{IllegalTransition, Incident, IncidentEvent, IncidentState};
use schema::{INCIDENT_COLUMNS, get_u64, incident_from_row};
use writer::Request;

use patrol_site::{Site, SiteHandle};

pub use escalate::ESCALATION_ACTOR;
pub use facts::AgentFacts;
pub use outbox::{Backlog, Delivery, Due, Notification, OutboxItem, Router};
pub use schema::{SCHEMA_VERSION, SYNCHRONOUS};
pub use writer::{EPOCHS_KEPT, GROUP_MAX, RULE_ACTOR};

pub use create::{MANUAL_RULE, NewIncident, SOURCES};
pub use seam::IncidentStore;

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "patrol.db";

/// Requests that may wait for the writer before `commit`/`acknowledge`/`resolve` callers are
/// held back (backpressure instead of unbounded memory).
const QUEUE_CAPACITY: usize = 1024;

/// Errors of the incident store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No incident has this id.
    #[error("incident {0} not found")]
    NotFound(u64),
    /// The transition table refuses the change.
    #[error(transparent)]
    Illegal(Refused),
    /// SQLite failed.
    #[error("incident store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The group transaction this request was part of failed to commit; nothing of it is stored.
    #[error("incident store commit failed: {0}")]
    CommitFailed(String),
    /// The writer thread is gone (the store is shutting down or it died).
    #[error("incident store writer is not running")]
    Closed,
    /// The database was written by a newer Patrol.
    #[error(
        "incident store schema version {found} is newer than this build knows ({known}): upgrade patrol-collector"
    )]
    SchemaTooNew {
        /// Version found in the file.
        found: u32,
        /// Highest version this build knows.
        known: u32,
    },
    /// Opening the store failed before SQLite was involved (directory, thread, pragmas).
    #[error("incident store setup: {0}")]
    Setup(String),
    /// A u64 (id, epoch, seq) above i64::MAX, which SQLite cannot store.
    #[error("value {0} is too large for the incident store")]
    OutOfRange(u64),
    /// The operation needs something the request did not give.
    #[error("incident {id}: {message}")]
    Invalid {
        /// The incident.
        id: u64,
        /// What is missing or wrong, for a person.
        message: String,
    },
    /// A new incident described badly (unknown level or source, no host or summary): the
    /// message says what and, where there is a list, what is known.
    #[error("{0}")]
    InvalidNew(String),
}

/// A transition refused for a given incident: `incident 7: cannot acknowledge a resolved incident`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("incident {id}: {transition}")]
pub struct Refused {
    /// The incident.
    pub id: u64,
    /// What the transition table refused.
    #[source]
    pub transition: IllegalTransition,
}

/// One journal entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// The event id.
    pub event_id: u64,
    /// The event kind's name (`opened`, `escalated`...).
    pub kind: String,
    /// When.
    pub at_ms: i64,
    /// Who (`rule`, `escalation`, a person).
    pub actor: String,
    /// Free text given with it.
    pub note: Option<String>,
    /// The incident's state after it.
    pub state: String,
    /// Particulars as JSON.
    pub detail: Option<String>,
    /// The incident's level at the time (absent for entries before schema v2).
    pub level: Option<String>,
}

/// What a person does to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Take it.
    Acknowledge,
    /// Hand it to someone (takes it if nobody had).
    Assign(String),
    /// Park it while waiting on a vendor or the customer.
    Wait,
    /// Add a note to the journal (the note is required).
    Comment,
    /// Record the fix plan (the note is the plan); meets the fix-plan clock.
    Plan,
    /// Resolve it; the note is the resolution.
    Resolve,
    /// Close a resolved incident.
    Close,
}

/// What rule evaluation decided for one or more ingested batches, committed in one go.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Incident changes, applied in order.
    pub changes: Vec<Change>,
    /// Highest batch number applied per agent, recorded in the same transaction.
    pub applied: Vec<AppliedSeq>,
}

/// The highest batch applied for one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedSeq {
    /// The agent.
    pub agent_id: String,
    /// The agent's batch-numbering epoch (a new one after the agent loses its spool).
    pub epoch: u64,
    /// Batch number within the epoch.
    pub seq: u64,
}

/// One rule decision for a series.
#[derive(Debug, Clone)]
pub enum Change {
    /// A rule started firing for a series. No-op (no event) when an incident for (rule,
    /// fingerprint) is already open or acknowledged — that is what makes a restart or a resent
    /// batch not duplicate incidents.
    Open {
        /// Rule name.
        rule: String,
        /// Severity level name.
        severity: String,
        /// Hash of the series' sorted label set.
        fingerprint: u64,
        /// Host of the series.
        host: String,
        /// The series' labels.
        labels: Labels,
        /// Rendered summary.
        summary: String,
        /// Which threshold applied and where it came from (`97 (override {tablespace="UNDOTBS1"}
        /// at rules/oracle.toml:14)`), recorded in the `opened` journal entry's detail.
        threshold: Option<String>,
        /// Value that breached.
        value: f64,
        /// When (ms since the epoch).
        at_ms: i64,
    },
    /// The condition cleared. Resolves the open/acknowledged incident for (rule, fingerprint)
    /// with `resolved_by = "rule"`; no-op when there is none (e.g. resolved by hand already).
    Resolve {
        /// Rule name.
        rule: String,
        /// Hash of the series' sorted label set.
        fingerprint: u64,
        /// Value at clearing.
        value: f64,
        /// When (ms since the epoch).
        at_ms: i64,
    },
    /// The series started or stopped flapping: marks its live incident (no-op without one).
    Flapping {
        /// Rule name.
        rule: String,
        /// Hash of the series' sorted label set.
        fingerprint: u64,
        /// Started (true) or stopped (false).
        flapping: bool,
        /// The flap detector's weighted share of state changes, percent.
        percent: f64,
        /// When (ms since the epoch).
        at_ms: i64,
    },
}

/// The incident store. Cheap to clone; the writer thread stops (and is joined) when the last
/// clone is dropped, after finishing the requests already queued.
///
/// Writes are `async` and never block the executor. Reads (`get`, `list`, ...) are synchronous
/// indexed queries that take well under a millisecond on a normal store; call them directly
/// from request handlers, or through `tokio::task::spawn_blocking` from latency-critical loops.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    /// `Option` only so `Drop` can close the queue before joining the writer.
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    reader: Mutex<Connection>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer's loop once it has drained what is queued.
        self.requests = None;
        if let Some(handle) = self.writer.take()
            && handle.join().is_err()
        {
            tracing::error!("incident store writer thread panicked");
        }
    }
}

impl Store {
    /// Opens (creating) `<data_dir>/patrol.db`, migrates the schema (a `schema_version` table;
    /// version 1 now), starts the writer thread. Events are published on `events` after their
    /// commit.
    pub fn open(
        data_dir: &Path,
        events: broadcast::Sender<Arc<IncidentEvent>>,
    ) -> Result<Store, StoreError> {
        Self::open_with_site(data_dir, events, patrol_site::site_handle(Site::default()))
    }

    /// [`Store::open`] with the site configuration whose levels, calendars and maintenance
    /// windows set the clocks of new incidents.
    pub fn open_with_site(
        data_dir: &Path,
        events: broadcast::Sender<Arc<IncidentEvent>>,
        site: SiteHandle,
    ) -> Result<Store, StoreError> {
        Self::open_with(data_dir, events, site, None)
    }

    /// [`Store::open_with_site`] with the router that turns committed events into outbox rows
    /// (in the same transaction).
    pub fn open_with(
        data_dir: &Path,
        events: broadcast::Sender<Arc<IncidentEvent>>,
        site: SiteHandle,
        router: Option<Router>,
    ) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Setup(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DB_FILE);
        private_file(&path)?;
        let mut conn = Connection::open(&path)?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn)?;

        // Opened after the migration so it never sees a half-made schema.
        // Read-write flags with `query_only` rather than a read-only open: a read-only
        // connection to a WAL database fails when it cannot create the `-shm` file.
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        schema::configure_reader(&reader)?;

        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let writer = std::thread::Builder::new()
            .name("patrol-store-writer".into())
            .spawn(move || writer::run(conn, rx, events, site, router))
            .map_err(|e| StoreError::Setup(format!("cannot start the writer thread: {e}")))?;
        Ok(Store {
            inner: Arc::new(Inner {
                requests: Some(tx),
                writer: Some(writer),
                reader: Mutex::new(reader),
            }),
        })
    }

    /// Applies what rule evaluation decided for one or more ingested batches, in one transaction
    /// shared with other callers' requests queued at the same time (group commit). Returns once
    /// durable; the events are published after the commit, in event-id order.
    pub async fn commit(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Commit { batch, reply }).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Acknowledges incident `id` by hand; returns it as it is after the change.
    pub async fn acknowledge(
        &self,
        id: u64,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        self.act(id, Op::Acknowledge, by, note, at_ms).await
    }

    /// Resolves incident `id` by hand; returns it as it is after the change.
    pub async fn resolve(
        &self,
        id: u64,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        self.act(id, Op::Resolve, by, note, at_ms).await
    }

    /// Applies a person's operation to incident `id` and journals it; returns the incident as
    /// it is after the change.
    pub async fn act(
        &self,
        id: u64,
        op: Op,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Incident, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Manual {
            id,
            op,
            by: by.to_owned(),
            note: note.map(str::to_owned),
            at_ms,
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Fires the deadlines and escalation steps due at `now_ms` (breaches, escalations,
    /// reminders, level raises), each exactly once; returns how many journal entries it wrote.
    pub async fn run_clocks(&self, now_ms: i64) -> Result<usize, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Clocks { now_ms, reply }).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Up to `limit` notifications of `channel` that may go out at `now_ms`, oldest first
    /// (see [`Due`]); rows of `held_routes` (over their rate limit) wait, and so do later rows
    /// of an incident whose earlier row waits.
    pub fn outbox_due(
        &self,
        channel: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Due, StoreError> {
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        outbox::due(&conn, channel, now_ms, held_routes, limit)
    }

    /// Up to `limit` pending notifications of `channel` in group `key`, oldest first, without
    /// rows whose incident has an earlier row waiting.
    pub fn outbox_group(
        &self,
        channel: &str,
        key: &str,
        now_ms: i64,
        held_routes: &[String],
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        outbox::group(&conn, channel, key, now_ms, held_routes, limit)
    }

    /// Messages `channel` sent for `route` since `since_ms`, and when the oldest was sent.
    pub fn outbox_sent_since(
        &self,
        channel: &str,
        route: &str,
        since_ms: i64,
    ) -> Result<(u64, Option<i64>), StoreError> {
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        outbox::sent_since(&conn, channel, route, since_ms)
    }

    /// Records what delivering outbox row `id` came to; sent and dead rows are journalled.
    pub async fn outbox_record(
        &self,
        id: u64,
        outcome: Delivery,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Delivered {
            id,
            outcome,
            at_ms,
            reply,
        })
        .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Pending, sent and dead counts per channel.
    pub fn outbox_backlog(&self) -> Result<Vec<Backlog>, StoreError> {
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        outbox::backlog(&conn)
    }

    async fn send(&self, req: Request) -> Result<(), StoreError> {
        let requests = self.inner.requests.as_ref().ok_or(StoreError::Closed)?;
        requests.send(req).await.map_err(|_| StoreError::Closed)
    }

    /// The incident with this id, if any.
    pub fn get(&self, id: u64) -> Result<Option<Incident>, StoreError> {
        // Ids beyond i64 cannot exist in SQLite.
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1");
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query_map([id], incident_from_row)?;
            Ok(rows.next().transpose()?)
        })
    }

    /// Incidents in `states` (empty = the live states), newest (highest id) first, at most
    /// `limit` of them (0 = no limit).
    pub fn list(
        &self,
        states: &[IncidentState],
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        let live = IncidentState::LIVE;
        let states = if states.is_empty() { &live[..] } else { states };
        let placeholders = vec!["?"; states.len()].join(", ");
        // SQLite treats a negative LIMIT as "no limit".
        let limit = if limit == 0 {
            -1
        } else {
            i64::try_from(limit).unwrap_or(i64::MAX)
        };
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE state IN ({placeholders}) \
             ORDER BY id DESC LIMIT {limit}"
        );
        self.read(|c| {
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(params_from_iter(states.iter().map(|s| s.as_str())), |r| {
                    incident_from_row(r)
                })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Incidents that existed at some time in `[from_ms, to_ms]`: opened by `to_ms` and not
    /// resolved (nor closed) before `from_ms`, oldest first. What a report of that period
    /// reads, so its memory follows the period, not the store's whole past.
    pub fn overlapping(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE opened_ms <= ?2 AND COALESCE(resolved_ms, closed_ms, ?1) >= ?1 \
             ORDER BY id ASC"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![from_ms, to_ms], incident_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Live incidents, oldest first (e.g. to seed rule state after a restart,
    /// or the snapshot at the start of a watch).
    pub fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE state IN ('open', 'acknowledged', 'assigned', 'waiting') ORDER BY id ASC"
        );
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([], incident_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Live incidents with an id above `after`, oldest first, at most `limit`.
    pub fn open_incidents_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents \
             WHERE state IN ('open', 'acknowledged', 'assigned', 'waiting') AND id > ?1 \
             ORDER BY id ASC LIMIT ?2"
        );
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![after, limit], incident_from_row)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// The id of the newest committed event (0 when there is none).
    pub fn last_event_id(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(id), 0) FROM incident_events",
                [],
                |r| get_u64(r, 0),
            )?)
        })
    }

    /// The journal of incident `id`, oldest entry first.
    pub fn journal(&self, id: u64) -> Result<Vec<JournalEntry>, StoreError> {
        Ok(self.journal_newest(id, u32::MAX)?.0)
    }

    /// The newest `limit` entries of incident `id`'s journal, oldest first, and how many it
    /// has in all.
    pub fn journal_newest(
        &self,
        id: u64,
        limit: u32,
    ) -> Result<(Vec<JournalEntry>, u64), StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok((Vec::new(), 0));
        };
        self.read(|c| {
            let total: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM incident_events WHERE incident_id = ?1")?
                .query_row([id], |r| r.get(0))?;
            let mut stmt = c.prepare_cached(
                "SELECT id, kind, at_ms, actor, note, state, detail, level FROM \
                 (SELECT * FROM incident_events WHERE incident_id = ?1 ORDER BY id DESC LIMIT ?2) \
                 ORDER BY id",
            )?;
            let rows = stmt.query_map(params![id, i64::from(limit)], |r| {
                Ok(JournalEntry {
                    event_id: get_u64(r, 0)?,
                    kind: r.get(1)?,
                    at_ms: r.get(2)?,
                    actor: r.get(3)?,
                    note: r.get(4)?,
                    state: r.get(5)?,
                    detail: r.get(6)?,
                    level: r.get(7)?,
                })
            })?;
            let entries = rows.collect::<Result<Vec<_>, _>>()?;
            Ok((entries, u64::try_from(total).unwrap_or_default()))
        })
    }

    /// The highest batch applied per agent and epoch (a few recent epochs per agent), by agent
    /// id, each agent's epochs in the order they were first seen (the current one last).
    pub fn applied_seqs(&self) -> Result<Vec<AppliedSeq>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT agent_id, epoch, seq FROM agent_seq ORDER BY agent_id, rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(AppliedSeq {
                    agent_id: r.get(0)?,
                    epoch: get_u64(r, 1)?,
                    seq: get_u64(r, 2)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Keeps an agent's latest facts, replacing what it had; returns once durable.
    pub async fn save_facts(&self, facts: AgentFacts) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.send(Request::Facts { facts, reply }).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Every agent's latest facts.
    pub fn agent_facts(&self) -> Result<Vec<AgentFacts>, StoreError> {
        self.read(facts::load)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave the connection half-changed (reads only).
        let conn = self
            .inner
            .reader
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&conn)
    }
}

#[cfg(test)]
mod escalate_tests;

#[cfg(test)]
mod outbox_tests;

/// Creates the database file readable and writable by its owner only (0600), or takes an
/// existing file down to that: incident notes and names are not for every local user. SQLite
/// gives its `-wal` and `-shm` files the database file's permissions.
fn private_file(path: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let setup = |e: std::io::Error| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                " (it belongs to the user the collector runs as, patrol in the package: start \
                 it with `sudo -u patrol`, or use another data directory)"
            } else {
                ""
            };
            StoreError::Setup(format!("{}: {e}{hint}", path.display()))
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(setup)?;
        let meta = file.metadata().map_err(setup)?;
        if meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(setup)?;
            tracing::info!(path = %path.display(), "incident database made private to its owner (mode 600)");
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
