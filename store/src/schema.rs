//! The SQLite schema of the incident store, its migrations (`schema_version`), connection
//! settings, and the row ↔ [`Incident`] mapping shared by the reader and the writer.

use std::time::Duration;

use patrol_proto::Labels;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};

use super::StoreError;
use crate::incident::{Handling, Incident, IncidentState, format_fingerprint, parse_fingerprint};

/// `synchronous` setting of the write connection.
///
/// In WAL mode `NORMAL` syncs the WAL only at checkpoints, not at every commit. A commit that
/// returned has been written to the WAL file, i.e. it is in the OS page cache, so it survives
/// a crash or kill of the collector process (the OS still writes it out). It is not enough for
/// a power loss or kernel crash, which may lose the last commits (the database stays consistent,
/// never corrupt). A site that must survive power loss needs `FULL` (one fsync per commit; group
/// commit keeps that to one per batch of requests).
pub const SYNCHRONOUS: &str = "NORMAL";

/// How long a connection waits for a lock held by the other connection (e.g. a checkpoint)
/// before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Migrations in order; `MIGRATIONS[i]` brings the schema from version `i` to `i + 1`.
/// Never edit a released migration: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // Version 1.
    "
    CREATE TABLE incidents (
        id          INTEGER PRIMARY KEY,
        rule        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        state       TEXT NOT NULL
                    CHECK (state IN ('open', 'acknowledged', 'resolved', 'closed')),
        host        TEXT NOT NULL,
        labels_json TEXT NOT NULL,
        summary     TEXT NOT NULL,
        value       REAL NOT NULL,
        -- 16 hex digits: SQLite integers are signed, a u64 fingerprint does not fit one.
        fingerprint TEXT NOT NULL,
        opened_ms   INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        acked_by    TEXT,
        acked_ms    INTEGER,
        ack_note    TEXT,
        resolved_ms INTEGER,
        resolved_by TEXT
    );
    -- At most one live incident per (rule, series): the database itself refuses a duplicate.
    CREATE UNIQUE INDEX incidents_live ON incidents (rule, fingerprint)
        WHERE state IN ('open', 'acknowledged');
    CREATE INDEX incidents_state ON incidents (state, id);

    -- The journal: every change appended. AUTOINCREMENT so an id is never reused, which makes
    -- the row id usable as the store-wide increasing event id.
    CREATE TABLE incident_events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        kind        TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        actor       TEXT NOT NULL,
        note        TEXT,
        state       TEXT NOT NULL
    );
    CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

    -- Highest batch applied per agent, so a restarted collector still drops resent batches.
    CREATE TABLE agent_seq (
        agent_id TEXT PRIMARY KEY,
        epoch    INTEGER NOT NULL,
        seq      INTEGER NOT NULL
    );
    ",
    // Version 2: the NOC lifecycle (assigned, waiting), clocks, escalation and the journal's
    // details. SQLite cannot change a CHECK constraint in place, so `incidents` is rebuilt
    // (SQLite's documented procedure; `migrate` turns foreign keys off around it).
    "
    CREATE TABLE incidents_v2 (
        id          INTEGER PRIMARY KEY,
        rule        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        state       TEXT NOT NULL
                    CHECK (state IN ('open', 'acknowledged', 'assigned', 'waiting',
                                     'resolved', 'closed')),
        host        TEXT NOT NULL,
        labels_json TEXT NOT NULL,
        summary     TEXT NOT NULL,
        value       REAL NOT NULL,
        fingerprint TEXT NOT NULL,
        opened_ms   INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        acked_by    TEXT,
        acked_ms    INTEGER,
        ack_note    TEXT,
        resolved_ms INTEGER,
        resolved_by TEXT,
        -- Where it came from: 'rule', or how a person reported it ('phone', 'email'...).
        source      TEXT NOT NULL DEFAULT 'rule',
        assignee    TEXT,
        -- When its clocks started: opened_ms, or the end of the maintenance window it opened in.
        clock_start_ms  INTEGER NOT NULL,
        suppressed_by   TEXT,
        flapping        INTEGER NOT NULL DEFAULT 0,
        reopened        INTEGER NOT NULL DEFAULT 0,
        planned_ms      INTEGER,
        waiting_since_ms INTEGER,
        closed_ms       INTEGER,
        resolution      TEXT,
        respond_due_ms  INTEGER,
        fix_plan_due_ms INTEGER,
        resolve_due_ms  INTEGER
    );
    INSERT INTO incidents_v2 (id, rule, severity, state, host, labels_json, summary, value,
        fingerprint, opened_ms, updated_ms, acked_by, acked_ms, ack_note, resolved_ms,
        resolved_by, clock_start_ms)
    SELECT id, rule, severity, state, host, labels_json, summary, value, fingerprint,
        opened_ms, updated_ms, acked_by, acked_ms, ack_note, resolved_ms, resolved_by, opened_ms
    FROM incidents;
    DROP TABLE incidents;
    ALTER TABLE incidents_v2 RENAME TO incidents;
    CREATE UNIQUE INDEX incidents_live ON incidents (rule, fingerprint)
        WHERE state IN ('open', 'acknowledged', 'assigned', 'waiting');
    CREATE INDEX incidents_state ON incidents (state, id);

    -- The journal entry's particulars (clock, step, targets, level change) as JSON, and the
    -- level at the time.
    ALTER TABLE incident_events ADD COLUMN detail TEXT;
    ALTER TABLE incident_events ADD COLUMN level TEXT;

    -- A clock's deadline passed unmet: recorded once per (incident, clock).
    CREATE TABLE incident_breaches (
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        clock       TEXT NOT NULL,
        due_ms      INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (incident_id, clock)
    );

    -- Escalation steps fired, once per (incident, policy/step, occurrence): what makes a step
    -- that fell due during a restart fire once and never twice.
    CREATE TABLE escalations (
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        step        TEXT NOT NULL,
        occurrence  INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        PRIMARY KEY (incident_id, step, occurrence)
    );
    ",
    // Version 3: the notification outbox.
    "
    -- One row per (event, channel) a notification is due on, written in the transaction that
    -- journals the event, so nothing committed can miss its notification. `sent` only after
    -- the channel confirmed; `dead` after a permanent failure or too many attempts.
    CREATE TABLE notify_outbox (
        id          INTEGER PRIMARY KEY,
        event_id    INTEGER NOT NULL REFERENCES incident_events (id),
        incident_id INTEGER NOT NULL REFERENCES incidents (id),
        channel     TEXT NOT NULL,
        route       TEXT NOT NULL,
        payload     TEXT NOT NULL,
        state       TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'dead')),
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_ms     INTEGER NOT NULL,
        last_error  TEXT,
        created_ms  INTEGER NOT NULL,
        done_ms     INTEGER,
        UNIQUE (event_id, channel)
    );
    CREATE INDEX notify_outbox_pending ON notify_outbox (channel, id) WHERE state = 'pending';
    ",
    // Version 4: grouped notifications (a route's group_by/group_wait).
    "
    -- Rows with the same key on a channel go out as one message (NULL: not grouped).
    ALTER TABLE notify_outbox ADD COLUMN group_key TEXT;
    ",
    // Version 5: a worker skips rows whose incident has an older row waiting.
    "
    CREATE INDEX notify_outbox_pending_incident ON notify_outbox (channel, incident_id, id)
        WHERE state = 'pending';
    ",
    // Version 6: per-channel figures kept by triggers, so status, /metrics and the backlog
    // bound read a row instead of counting the whole outbox. Sent, dead and refused are
    // lifetime counters: deleting old rows would not lower them.
    "
    CREATE TABLE notify_totals (
        channel TEXT PRIMARY KEY,
        pending INTEGER NOT NULL DEFAULT 0,
        sent    INTEGER NOT NULL DEFAULT 0,
        dead    INTEGER NOT NULL DEFAULT 0,
        -- Dead letters written because the channel's backlog was full (never attempted).
        refused INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO notify_totals (channel, pending, sent, dead, refused)
        SELECT channel, SUM(state = 'pending'), SUM(state = 'sent'), SUM(state = 'dead'),
               SUM(state = 'dead' AND attempts = 0)
        FROM notify_outbox GROUP BY channel;
    CREATE TRIGGER notify_totals_insert AFTER INSERT ON notify_outbox BEGIN
        INSERT INTO notify_totals (channel) VALUES (NEW.channel) ON CONFLICT (channel) DO NOTHING;
        UPDATE notify_totals SET
            pending = pending + (NEW.state = 'pending'),
            sent = sent + (NEW.state = 'sent'),
            dead = dead + (NEW.state = 'dead'),
            refused = refused + (NEW.state = 'dead' AND NEW.attempts = 0)
        WHERE channel = NEW.channel;
    END;
    CREATE TRIGGER notify_totals_update AFTER UPDATE OF state ON notify_outbox
        WHEN OLD.state <> NEW.state BEGIN
        UPDATE notify_totals SET
            pending = pending - (OLD.state = 'pending') + (NEW.state = 'pending'),
            sent = sent - (OLD.state = 'sent') + (NEW.state = 'sent'),
            dead = dead - (OLD.state = 'dead') + (NEW.state = 'dead')
        WHERE channel = NEW.channel;
    END;
    CREATE TRIGGER notify_totals_delete AFTER DELETE ON notify_outbox BEGIN
        UPDATE notify_totals SET pending = pending - (OLD.state = 'pending')
        WHERE channel = OLD.channel;
    END;
    ",
    // Version 7: the applied batch number per agent *and epoch*. One row per agent kept only
    // the larger (epoch, seq), but epochs carry no order (old agents pick them at random), so
    // an agent restarted with a smaller epoch had its numbering unsaved and, after a collector
    // restart, its resent batches were applied a second time. A few recent epochs per agent
    // are kept (see writer.rs), so a late commit of an older epoch cannot hide the newer one.
    "
    CREATE TABLE agent_epoch_seq (
        agent_id TEXT NOT NULL,
        epoch    INTEGER NOT NULL,
        seq      INTEGER NOT NULL,
        PRIMARY KEY (agent_id, epoch)
    );
    INSERT INTO agent_epoch_seq (agent_id, epoch, seq) SELECT agent_id, epoch, seq FROM agent_seq;
    DROP TABLE agent_seq;
    ALTER TABLE agent_epoch_seq RENAME TO agent_seq;
    ",
    // Version 8: the latest inventory facts per agent (docs/inventory.md), so what a box is
    // (model, serial, OS, addresses) is known after a restart, before its agent is back.
    "
    CREATE TABLE IF NOT EXISTS agent_facts (
        agent_id    TEXT PRIMARY KEY,
        host        TEXT NOT NULL,
        -- {\"host\": {key: value}, \"devices\": {device: {key: value}}}
        facts_json  TEXT NOT NULL,
        gathered_ms INTEGER NOT NULL
    );
    ",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Settings for the single write connection: WAL so readers run beside the writer.
pub fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode returns the resulting mode as a row; WAL is persistent in the file.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Setup(format!(
            "could not switch the database to WAL mode (got '{mode}')"
        )));
    }
    conn.pragma_update(None, "synchronous", SYNCHRONOUS)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Settings for the read connection: it must never write.
pub fn configure_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")?;
    Ok(())
}

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Rebuilding a referenced table needs foreign keys off (they cannot be switched inside a
    // transaction); the check after the commit proves the rebuild kept every reference whole.
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let r = migrate_tx(conn);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    r?;
    let broken: Option<String> = conn
        .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        return Err(StoreError::Setup(format!(
            "the migrated store has dangling references in table '{table}'"
        )));
    }
    Ok(())
}

fn migrate_tx(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: Option<u32> = tx
        .query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))
        .optional()?
        .flatten();
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for sql in &MIGRATIONS[found as usize..] {
        tx.execute_batch(sql)?;
    }
    if found < SCHEMA_VERSION {
        tx.execute("DELETE FROM schema_version", [])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )?;
        tracing::info!(from = found, to = SCHEMA_VERSION, "migrated incident store");
    }
    tx.commit()?;
    Ok(())
}

/// The columns [`incident_from_row`] expects, in order.
pub const INCIDENT_COLUMNS: &str = "id, rule, severity, state, host, labels_json, summary, value, \
     fingerprint, opened_ms, updated_ms, acked_by, acked_ms, ack_note, resolved_ms, resolved_by, \
     source, assignee, clock_start_ms, suppressed_by, flapping, reopened, planned_ms, \
     waiting_since_ms, closed_ms, resolution, respond_due_ms, fix_plan_due_ms, resolve_due_ms";

/// Maps a row selected with [`INCIDENT_COLUMNS`].
pub fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<Incident> {
    let state: String = row.get(3)?;
    let labels_json: String = row.get(5)?;
    let fingerprint: String = row.get(8)?;
    Ok(Incident {
        id: get_u64(row, 0)?,
        rule: row.get(1)?,
        severity: row.get(2)?,
        state: state
            .parse::<IncidentState>()
            .map_err(|e| conversion(3, e))?,
        host: row.get(4)?,
        labels: labels_from_json(&labels_json).map_err(|e| conversion(5, e))?,
        summary: row.get(6)?,
        value: row.get(7)?,
        fingerprint: parse_fingerprint(&fingerprint)
            .ok_or_else(|| conversion(8, BadColumn(format!("bad fingerprint '{fingerprint}'"))))?,
        opened_ms: row.get(9)?,
        updated_ms: row.get(10)?,
        acked_by: row.get(11)?,
        acked_ms: row.get(12)?,
        ack_note: row.get(13)?,
        resolved_ms: row.get(14)?,
        resolved_by: row.get(15)?,
        handling: Handling {
            source: row.get(16)?,
            assignee: row.get(17)?,
            clock_start_ms: row.get(18)?,
            suppressed_by: row.get(19)?,
            flapping: row.get(20)?,
            reopened: row.get(21)?,
            planned_ms: row.get(22)?,
            waiting_since_ms: row.get(23)?,
            closed_ms: row.get(24)?,
            resolution: row.get(25)?,
            respond_due_ms: row.get(26)?,
            fix_plan_due_ms: row.get(27)?,
            resolve_due_ms: row.get(28)?,
        },
    })
}

/// A column value the mapping could not understand.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadColumn(String);

fn conversion(idx: usize, e: impl std::error::Error + Send + Sync + 'static) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

/// Labels as a JSON object (`{"host":"db1","mount":"/"}`), readable with the sqlite3 shell.
pub fn labels_to_json(labels: &Labels) -> String {
    let map: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

fn labels_from_json(s: &str) -> Result<Labels, BadColumn> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(s).map_err(|e| BadColumn(format!("bad labels_json: {e}")))?;
    let mut labels = Labels::new();
    for (k, v) in map {
        match v {
            serde_json::Value::String(v) => labels.insert(k, v),
            other => return Err(BadColumn(format!("label '{k}' is not a string: {other}"))),
        }
    }
    Ok(labels)
}

/// The stored form of a fingerprint.
pub fn fingerprint_text(fp: u64) -> String {
    format_fingerprint(fp)
}

/// SQLite integers are signed; ids, epochs and sequence numbers are u64 in the domain but
/// never reach 2^63 in practice, so they are stored as i64 and refused beyond that.
pub fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange(v))
}

/// Reads a non-negative integer column as u64.
pub fn get_u64(row: &Row<'_>, idx: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(idx)?;
    u64::try_from(v).map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            idx,
            Type::Integer,
            Box::new(BadColumn(format!("negative value {v}"))),
        )
    })
}
