//! One struct per query: the columns the probe reads, named as Oracle returns them
//! (upper case). The SQL that fills each is in `sql.rs`; recorded rows for tests are in
//! `testdata/*.toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::failure::OracleFailure;

/// `sql::INSTANCE`: `v$instance` joined with `v$database` (always one row).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct InstanceRow {
    pub instance_name: String,
    /// `STARTED`, `MOUNTED`, `OPEN`, `OPEN MIGRATE`.
    pub status: String,
    /// `ARCHIVELOG`, `NOARCHIVELOG` or `MANUAL`.
    pub log_mode: String,
    /// `READ WRITE`, `READ ONLY`, `MOUNTED`...
    pub open_mode: Option<String>,
    /// `PRIMARY`, `PHYSICAL STANDBY`...
    pub database_role: Option<String>,
}

/// `sql::TABLESPACES`: one row per tablespace, sizes in bytes.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct TablespaceRow {
    pub tablespace_name: String,
    /// `PERMANENT`, `UNDO` or `TEMPORARY`.
    pub contents: String,
    /// Allocated size of the files; NULL when every file is offline or needs recovery.
    pub bytes: Option<f64>,
    /// What the files may grow to: per file `GREATEST(BYTES, MAXBYTES)` when autoextensible,
    /// else `BYTES`.
    pub max_bytes: Option<f64>,
    /// Allocated minus free (minus expired undo for UNDO); for TEMPORARY the sort segments'
    /// used blocks.
    pub used_bytes: Option<f64>,
}

/// `sql::RECOVERY_FILE_DEST`: `v$recovery_file_dest` (no row or a zero limit without FRA).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct RecoveryDestRow {
    pub name: Option<String>,
    pub space_limit: f64,
    pub space_used: f64,
    pub space_reclaimable: f64,
    pub number_of_files: f64,
}

/// `sql::RECOVERY_AREA_USAGE`: `v$recovery_area_usage`, one row per file type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct RecoveryUsageRow {
    /// `ARCHIVED LOG`, `BACKUP PIECE`, `FLASHBACK LOG`...
    pub file_type: String,
    /// Share of the recovery-area limit (`DB_RECOVERY_FILE_DEST_SIZE`), 0–100.
    pub percent_space_used: f64,
    pub percent_space_reclaimable: f64,
    pub number_of_files: f64,
}

/// `sql::ARCHIVE_DEST`: `v$archive_dest` rows that are not `INACTIVE`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct ArchiveDestRow {
    /// `LOG_ARCHIVE_DEST_1`...
    pub dest_name: String,
    /// `VALID`, `DEFERRED`, `ERROR`, `DISABLED`, `BAD PARAM`, `ALTERNATE`, `FULL`.
    pub status: String,
    /// `PRIMARY` / `LOCAL` (a directory on this side) or `STANDBY` / `REMOTE` (a service).
    pub target: Option<String>,
    /// A path, `USE_DB_RECOVERY_FILE_DEST`, an ASM disk group (`+ARCH`) or a service name.
    pub destination: Option<String>,
    /// The last error, e.g. `ORA-19504: failed to create file ...`.
    pub error: Option<String>,
}

/// `sql::RESOURCE_LIMIT`: `v$resource_limit` for `sessions` and `processes`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct ResourceLimitRow {
    pub resource_name: String,
    pub current_utilization: f64,
    /// A number, or `UNLIMITED`.
    pub limit_value: String,
}

/// `sql::RMAN`: successful database backups still in the control file's history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct RmanRow {
    /// Completed `DB FULL` / `DB INCR` jobs recorded.
    pub jobs: f64,
    /// Hours since the newest one ended (database clock); NULL when there is none.
    pub age_hours: Option<f64>,
}

/// `sql::DATAGUARD_STATS`: one row per lag, on a standby.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct DataguardRow {
    /// `transport lag` or `apply lag`.
    pub name: String,
    /// A day-to-second interval as text, `+00 00:00:12`; NULL before the first computation.
    pub value: Option<String>,
    /// `day(2) to second(0) interval`.
    pub unit: Option<String>,
    /// When the standby computed it (its local time, `MM/DD/YYYY HH24:MI:SS`).
    pub time_computed: Option<String>,
}

/// `sql::BLOCKING_SESSIONS`: one row.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct BlockingRow {
    /// Sessions waiting on another session's lock.
    pub blocked: f64,
    /// Distinct sessions holding them up.
    pub blockers: f64,
    /// The longest current wait among the blocked, in seconds.
    pub longest_wait_seconds: f64,
}

/// `sql::ACTIVE_CALLS`: a user session in a call now.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct ActiveCallRow {
    pub sid: f64,
    pub username: Option<String>,
    pub sql_id: Option<String>,
    /// Seconds since the call started.
    pub last_call_et: f64,
}

/// `sql::TOP_SQL`: a statement's cumulative statistics (microseconds).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct TopSqlRow {
    pub sql_id: String,
    pub cpu_time: f64,
    pub elapsed_time: f64,
    pub executions: f64,
}

/// `sql::SCHEDULER_FAILURES`: a failed job run of the last day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct SchedulerFailureRow {
    pub owner: String,
    pub job_name: String,
    /// Seconds since the run was logged (database clock).
    pub age_seconds: f64,
}

/// `sql::SCHEDULER_BROKEN`: one row.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct SchedulerBrokenRow {
    pub broken: f64,
}

/// `sql::FILE_IO`: one data file's I/O since instance start.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct FileIoRow {
    pub file_id: f64,
    pub tablespace_name: String,
    /// Physical reads and writes (requests).
    pub phyrds: f64,
    pub phywrts: f64,
    /// Time spent on them, centiseconds.
    pub readtim: f64,
    pub writetim: f64,
}

/// `sql::INVALID_OBJECTS`: invalid objects of one owner and type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", deny_unknown_fields)]
pub struct InvalidObjectsRow {
    pub owner: String,
    pub object_type: String,
    pub objects: f64,
}

/// The depth queries' results (Data Guard, locks, SQL, scheduler, I/O, objects): kept apart
/// from the inspection round's so each can fail alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Depth {
    pub dataguard: Part<Vec<DataguardRow>>,
    pub blocking: Part<BlockingRow>,
    pub active_calls: Part<Vec<ActiveCallRow>>,
    pub top_sql: Part<Vec<TopSqlRow>>,
    pub scheduler_failures: Part<Vec<SchedulerFailureRow>>,
    pub scheduler_broken: Part<SchedulerBrokenRow>,
    pub file_io: Part<Vec<FileIoRow>>,
    pub invalid_objects: Part<Vec<InvalidObjectsRow>>,
}

/// One query's result: rows, or why it failed while the instance itself answered.
pub type Part<T> = Result<T, OracleFailure>;

/// Everything one round read from one database.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub instance: InstanceRow,
    pub tablespaces: Part<Vec<TablespaceRow>>,
    pub recovery_dest: Part<Vec<RecoveryDestRow>>,
    pub recovery_usage: Part<Vec<RecoveryUsageRow>>,
    pub archive_dests: Part<Vec<ArchiveDestRow>>,
    pub resource_limits: Part<Vec<ResourceLimitRow>>,
    pub rman: Part<RmanRow>,
    pub depth: Depth,
    /// `df`-style used percent of each plain local archive destination, by path; filled
    /// only when the agent runs on the database host (`local_archive_dest = true`).
    pub dest_fs_used_percent: BTreeMap<String, Result<f64, String>>,
}
