//! The archive of inspection sheets: `data/reports.db`, a SQLite file of its own beside the
//! incident store (mode 0600, WAL). Every table is append-only — triggers refuse an UPDATE or
//! a DELETE — so a sheet, once made, stays as it was made:
//!
//! - `sheets`: one row per sheet, with the JSON it reads back from (the values, worst values,
//!   thresholds and remarks it was made with) and, for listing, its counts. `(schedule, at_ms)`
//!   is unique, which is what makes a scheduled sheet exist once even across restarts.
//! - `journal`: what happened to a sheet afterwards — the reviewer's sign-off (at most one per
//!   sheet, by a unique index) and each delivery's outcome per channel.
//! - `schedules`: when the collector first saw each schedule, so a restart catches up a missed
//!   inspection but never makes sheets for times before the schedule existed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use patrol_report::Sheet;
use rusqlite::{Connection, OptionalExtension, params};

/// How long a statement waits for a lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema. Additive only: a later version adds tables or columns, never rewrites rows.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sheets (
    id              INTEGER PRIMARY KEY,
    schedule        TEXT NOT NULL,
    at_ms           INTEGER NOT NULL,
    previous_ms     INTEGER NOT NULL,
    local_date      TEXT NOT NULL,
    time_zone       TEXT NOT NULL,
    language        TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    caught_up       INTEGER NOT NULL,
    no_data         INTEGER NOT NULL,
    checks          INTEGER NOT NULL,
    abnormal_checks INTEGER NOT NULL,
    open_incidents  INTEGER NOT NULL,
    send_json       TEXT NOT NULL,
    sheet_json      TEXT NOT NULL,
    UNIQUE (schedule, at_ms)
);
CREATE INDEX IF NOT EXISTS sheets_by_date ON sheets (local_date, at_ms);
CREATE TRIGGER IF NOT EXISTS sheets_no_update BEFORE UPDATE ON sheets
    BEGIN SELECT RAISE(ABORT, 'inspection sheets are kept as made'); END;
CREATE TRIGGER IF NOT EXISTS sheets_no_delete BEFORE DELETE ON sheets
    BEGIN SELECT RAISE(ABORT, 'inspection sheets are kept as made'); END;

CREATE TABLE IF NOT EXISTS journal (
    id       INTEGER PRIMARY KEY,
    sheet_id INTEGER NOT NULL REFERENCES sheets (id),
    at_ms    INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('signed', 'sent', 'dead')),
    actor    TEXT NOT NULL,
    note     TEXT,
    detail   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS journal_one_sign_off ON journal (sheet_id) WHERE kind = 'signed';
CREATE INDEX IF NOT EXISTS journal_by_sheet ON journal (sheet_id, id);
CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal
    BEGIN SELECT RAISE(ABORT, 'the sheet journal is append-only'); END;
CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal
    BEGIN SELECT RAISE(ABORT, 'the sheet journal is append-only'); END;

CREATE TABLE IF NOT EXISTS schedules (
    name          TEXT PRIMARY KEY,
    first_seen_ms INTEGER NOT NULL
);
CREATE TRIGGER IF NOT EXISTS schedules_no_update BEFORE UPDATE ON schedules
    BEGIN SELECT RAISE(ABORT, 'schedules are append-only'); END;
";

/// Errors of the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file could not be created or its mode set.
    #[error("{path}: {source}")]
    File {
        /// The database file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("inspection sheet archive: {0}")]
    Db(#[from] rusqlite::Error),
    /// A stored sheet's JSON does not read back (the file was damaged or edited).
    #[error("inspection sheet #{id} does not read back from its JSON: {reason}")]
    Damaged {
        /// The sheet.
        id: u64,
        /// Why.
        reason: String,
    },
}

/// A sheet to store.
#[derive(Debug, Clone)]
pub struct NewSheet<'a> {
    /// The sheet as built.
    pub sheet: &'a Sheet,
    /// Its local date (YYYY-MM-DD) in the sheet's zone.
    pub local_date: String,
    /// When it was made.
    pub created_ms: i64,
    /// Made after a restart for a time the collector missed.
    pub caught_up: bool,
    /// The channels it must be sent to.
    pub send: &'a [String],
}

/// What storing a sheet came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Stored under this id.
    New(u64),
    /// A sheet of that schedule and time already exists (this id): nothing was written.
    Exists(u64),
}

/// A stored sheet's particulars (everything but its rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetRow {
    /// Its id.
    pub id: u64,
    /// The schedule.
    pub schedule: String,
    /// The inspection time.
    pub at_ms: i64,
    /// The start of its period.
    pub previous_ms: i64,
    /// Local date of `at_ms`.
    pub local_date: String,
    /// IANA zone of `local_date`.
    pub time_zone: String,
    /// `en` or `zh-CN`.
    pub language: String,
    /// When it was made.
    pub created_ms: i64,
    /// Made after a restart for a time the collector missed.
    pub caught_up: bool,
    /// No sample and no incident.
    pub no_data: bool,
    /// Rows.
    pub checks: u32,
    /// Abnormal rows.
    pub abnormal_checks: u32,
    /// Incidents open at inspection time.
    pub open_incidents: u32,
    /// The channels it must be sent to.
    pub send: Vec<String>,
    /// Its sign-off, once signed.
    pub signed: Option<SignOff>,
}

/// A reviewer's sign-off as journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOff {
    /// Who.
    pub by: String,
    /// When.
    pub at_ms: i64,
    /// Their note.
    pub note: Option<String>,
}

/// What a sign-off came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signing {
    /// Journaled.
    Signed(SheetRow),
    /// No such sheet.
    NotFound,
    /// Signed before (by whom, when): a sheet is signed once.
    Already(SignOff),
}

/// A delivery still owed: sheet `sheet_id` to `channel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    /// The sheet.
    pub sheet_id: u64,
    /// Its inspection time (deliveries are given up a while after it).
    pub at_ms: i64,
    /// The channel.
    pub channel: String,
}

/// The archive: one connection, used from blocking tasks.
pub struct Archive {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const ROW_COLUMNS: &str = "id, schedule, at_ms, previous_ms, local_date, time_zone, language, \
     created_ms, caught_up, no_data, checks, abnormal_checks, open_incidents, send_json";

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<SheetRow> {
    let send: String = r.get(13)?;
    Ok(SheetRow {
        id: r.get::<_, i64>(0)?.try_into().unwrap_or_default(),
        schedule: r.get(1)?,
        at_ms: r.get(2)?,
        previous_ms: r.get(3)?,
        local_date: r.get(4)?,
        time_zone: r.get(5)?,
        language: r.get(6)?,
        created_ms: r.get(7)?,
        caught_up: r.get(8)?,
        no_data: r.get(9)?,
        checks: r.get(10)?,
        abnormal_checks: r.get(11)?,
        open_incidents: r.get(12)?,
        // Written by this module from a Vec<String>; unreadable means no channel to owe.
        send: serde_json::from_str(&send).unwrap_or_default(),
        signed: None,
    })
}

fn id_param(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

impl Archive {
    /// Opens (or creates, mode 0600) `path` and brings its tables up.
    pub fn open(path: &Path) -> Result<Archive, ArchiveError> {
        let file_error = |source| ArchiveError::File {
            path: path.display().to_string(),
            source,
        };
        create_private(path).map_err(file_error)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(file_error(std::io::Error::other(format!(
                "could not switch the database to WAL mode (got '{mode}')"
            ))));
        }
        // A sheet is written twice a day: a sync per commit costs nothing and survives power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Archive {
            conn: Mutex::new(conn),
            path: path.to_owned(),
        })
    }

    /// Where the archive lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, ArchiveError>,
    ) -> Result<T, ArchiveError> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }

    /// When the collector first saw schedule `name` (recorded now, as `now_ms`, if never).
    pub fn first_seen(&self, name: &str, now_ms: i64) -> Result<i64, ArchiveError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO schedules (name, first_seen_ms) VALUES (?1, ?2)",
                params![name, now_ms],
            )?;
            Ok(c.query_row(
                "SELECT first_seen_ms FROM schedules WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )?)
        })
    }

    /// The inspection time of the newest sheet of schedule `name`.
    pub fn last_made(&self, name: &str) -> Result<Option<i64>, ArchiveError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT MAX(at_ms) FROM sheets WHERE schedule = ?1",
                params![name],
                |r| r.get(0),
            )?)
        })
    }

    /// Stores a sheet, unless its schedule already has one at that time.
    pub fn insert(&self, new: &NewSheet<'_>) -> Result<Stored, ArchiveError> {
        let s = new.sheet;
        let json = serde_json::to_string(s).map_err(|e| ArchiveError::Damaged {
            id: 0,
            reason: e.to_string(),
        })?;
        let send = serde_json::to_string(new.send).unwrap_or_else(|_| "[]".to_owned());
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let existing: Option<i64> = tx
                .query_row(
                    "SELECT id FROM sheets WHERE schedule = ?1 AND at_ms = ?2",
                    params![s.schedule, s.at_ms],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(id) = existing {
                return Ok(Stored::Exists(id.try_into().unwrap_or_default()));
            }
            tx.execute(
                "INSERT INTO sheets (schedule, at_ms, previous_ms, local_date, time_zone, \
                 language, created_ms, caught_up, no_data, checks, abnormal_checks, \
                 open_incidents, send_json, sheet_json) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    s.schedule,
                    s.at_ms,
                    s.previous_ms,
                    new.local_date,
                    s.time_zone,
                    s.language.code(),
                    new.created_ms,
                    new.caught_up,
                    s.no_data,
                    count(s.summary.checks),
                    count(s.summary.abnormal_checks),
                    count(s.summary.open_incidents),
                    send,
                    json,
                ],
            )?;
            let id = tx.last_insert_rowid();
            tx.commit()?;
            Ok(Stored::New(id.try_into().unwrap_or_default()))
        })
    }

    fn signed(c: &Connection, id: u64) -> Result<Option<SignOff>, ArchiveError> {
        Ok(c.query_row(
            "SELECT actor, at_ms, note FROM journal WHERE sheet_id = ?1 AND kind = 'signed'",
            params![id_param(id)],
            |r| {
                Ok(SignOff {
                    by: r.get(0)?,
                    at_ms: r.get(1)?,
                    note: r.get(2)?,
                })
            },
        )
        .optional()?)
    }

    fn row_where(
        c: &Connection,
        condition: &str,
        p: impl rusqlite::Params,
    ) -> Result<Option<SheetRow>, ArchiveError> {
        let sql = format!(
            "SELECT {ROW_COLUMNS} FROM sheets WHERE {condition} ORDER BY at_ms DESC, id DESC LIMIT 1"
        );
        let row = c.query_row(&sql, p, row_of).optional()?;
        match row {
            Some(mut row) => {
                row.signed = Self::signed(c, row.id)?;
                Ok(Some(row))
            }
            None => Ok(None),
        }
    }

    /// Sheet `id`'s particulars.
    pub fn row(&self, id: u64) -> Result<Option<SheetRow>, ArchiveError> {
        self.with(|c| Self::row_where(c, "id = ?1", params![id_param(id)]))
    }

    /// The newest sheet of local date `date` (YYYY-MM-DD).
    pub fn row_of_date(&self, date: &str) -> Result<Option<SheetRow>, ArchiveError> {
        self.with(|c| Self::row_where(c, "local_date = ?1", params![date]))
    }

    /// The newest sheet.
    pub fn newest(&self) -> Result<Option<SheetRow>, ArchiveError> {
        self.with(|c| Self::row_where(c, "1 = 1", []))
    }

    /// Sheet `id` as it reads back from its JSON, with its sign-off filled in.
    pub fn sheet(&self, row: &SheetRow) -> Result<Sheet, ArchiveError> {
        let json: String = self.with(|c| {
            Ok(c.query_row(
                "SELECT sheet_json FROM sheets WHERE id = ?1",
                params![id_param(row.id)],
                |r| r.get(0),
            )?)
        })?;
        let mut sheet: Sheet = serde_json::from_str(&json).map_err(|e| ArchiveError::Damaged {
            id: row.id,
            reason: e.to_string(),
        })?;
        if let Some(s) = &row.signed {
            sheet.sign(&s.by, s.at_ms, s.note.as_deref());
        }
        Ok(sheet)
    }

    /// Sheets newest first, at most `limit`, optionally of one schedule and of one month
    /// (`YYYY-MM`, by local date).
    pub fn list(
        &self,
        limit: usize,
        schedule: Option<&str>,
        month: Option<&str>,
    ) -> Result<Vec<SheetRow>, ArchiveError> {
        self.with(|c| {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM sheets \
                 WHERE (?1 IS NULL OR schedule = ?1) AND (?2 IS NULL OR substr(local_date, 1, 7) = ?2) \
                 ORDER BY at_ms DESC, id DESC LIMIT ?3"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(
                    params![schedule, month, i64::try_from(limit).unwrap_or(i64::MAX)],
                    row_of,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for mut row in rows {
                row.signed = Self::signed(c, row.id)?;
                out.push(row);
            }
            Ok(out)
        })
    }

    /// Every sheet whose inspection time is in `[from_ms, to_ms)`, oldest first, signed ones
    /// with their sign-off (the monthly summary's input).
    pub fn sheets_between(&self, from_ms: i64, to_ms: i64) -> Result<Vec<Sheet>, ArchiveError> {
        let rows: Vec<SheetRow> = self.with(|c| {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM sheets WHERE at_ms >= ?1 AND at_ms < ?2 ORDER BY at_ms, id"
            );
            let mut stmt = c.prepare(&sql)?;
            let rows = stmt
                .query_map(params![from_ms, to_ms], row_of)?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::with_capacity(rows.len());
            for mut row in rows {
                row.signed = Self::signed(c, row.id)?;
                out.push(row);
            }
            Ok(out)
        })?;
        rows.iter().map(|r| self.sheet(r)).collect()
    }

    /// Journals the reviewer's sign-off on sheet `id`; a sheet is signed once.
    pub fn sign(
        &self,
        id: u64,
        by: &str,
        note: Option<&str>,
        at_ms: i64,
    ) -> Result<Signing, ArchiveError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let Some(mut row) = Self::row_where(&tx, "id = ?1", params![id_param(id)])? else {
                return Ok(Signing::NotFound);
            };
            if let Some(s) = row.signed {
                return Ok(Signing::Already(s));
            }
            tx.execute(
                "INSERT INTO journal (sheet_id, at_ms, kind, actor, note) \
                 VALUES (?1, ?2, 'signed', ?3, ?4)",
                params![id_param(id), at_ms, by, note],
            )?;
            tx.commit()?;
            row.signed = Some(SignOff {
                by: by.to_owned(),
                at_ms,
                note: note.map(str::to_owned),
            });
            Ok(Signing::Signed(row))
        })
    }

    /// Journals what sending sheet `id` to `channel` came to: `sent`, or `dead` (given up).
    pub fn record_delivery(
        &self,
        id: u64,
        channel: &str,
        delivered: bool,
        attempts: u32,
        error: Option<&str>,
        at_ms: i64,
    ) -> Result<(), ArchiveError> {
        let detail = serde_json::json!({
            "channel": channel,
            "outcome": if delivered { "sent" } else { "dead" },
            "attempts": attempts,
            "error": error,
        });
        self.with(|c| {
            c.execute(
                "INSERT INTO journal (sheet_id, at_ms, kind, actor, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    id_param(id),
                    at_ms,
                    if delivered { "sent" } else { "dead" },
                    format!("channel:{channel}"),
                    detail.to_string(),
                ],
            )?;
            Ok(())
        })
    }

    /// The journal of sheet `id`, oldest first: (kind, at_ms, actor, note, detail).
    #[allow(clippy::type_complexity)]
    pub fn journal(
        &self,
        id: u64,
    ) -> Result<Vec<(String, i64, String, Option<String>, Option<String>)>, ArchiveError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT kind, at_ms, actor, note, detail FROM journal WHERE sheet_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map(params![id_param(id)], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    /// Deliveries owed: channels a sheet made since `since_ms` must go to and that have
    /// neither confirmed nor been given up.
    pub fn owed(&self, since_ms: i64) -> Result<Vec<Owed>, ArchiveError> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT id, at_ms, send_json FROM sheets WHERE at_ms >= ?1 AND send_json != '[]' ORDER BY id",
            )?;
            let rows: Vec<(i64, i64, String)> = stmt
                .query_map(params![since_ms], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<_, _>>()?;
            let mut done = c.prepare(
                "SELECT 1 FROM journal WHERE sheet_id = ?1 AND kind IN ('sent', 'dead') \
                 AND actor = ?2 LIMIT 1",
            )?;
            let mut out = Vec::new();
            for (id, at_ms, send) in rows {
                let channels: Vec<String> = serde_json::from_str(&send).unwrap_or_default();
                for channel in channels {
                    let finished = done
                        .query_row(params![id, format!("channel:{channel}")], |_| Ok(()))
                        .optional()?
                        .is_some();
                    if !finished {
                        out.push(Owed {
                            sheet_id: id.try_into().unwrap_or_default(),
                            at_ms,
                            channel,
                        });
                    }
                }
            }
            Ok(out)
        })
    }
}

/// Creates `path` with mode 0600 when it does not exist (SQLite gives its `-wal` and `-shm`
/// files the database file's mode), and narrows an existing file to 0600: the sheets name
/// hosts, values and people.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
