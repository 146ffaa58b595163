//! The seam between the probe and a database: [`OracleSource`], one method per query, and
//! [`fetch_snapshot`], which runs one round over any source. The real source is
//! `session.rs` (the `oracle` crate); `recorded.rs` replays recorded rows for tests.

use std::collections::BTreeMap;

use super::failure::{FailureKind, OracleFailure};
use super::mapping::{is_mounted_standby, is_open};
use super::rows::{
    ActiveCallRow, ArchiveDestRow, BlockingRow, DataguardRow, Depth, FileIoRow, InstanceRow,
    InvalidObjectsRow, Part, RecoveryDestRow, RecoveryUsageRow, ResourceLimitRow, RmanRow,
    SchedulerBrokenRow, SchedulerFailureRow, Snapshot, TablespaceRow, TopSqlRow,
};

/// A database the probe can read. Blocking: it runs on the probe's worker thread.
pub trait OracleSource: Send + 'static {
    /// Opens the session unless one is open.
    fn connect(&mut self) -> Result<(), OracleFailure>;
    /// Drops the session, so the next round connects anew.
    fn disconnect(&mut self);
    fn instance(&mut self) -> Result<InstanceRow, OracleFailure>;
    fn tablespaces(&mut self) -> Part<Vec<TablespaceRow>>;
    fn recovery_dest(&mut self) -> Part<Vec<RecoveryDestRow>>;
    fn recovery_usage(&mut self) -> Part<Vec<RecoveryUsageRow>>;
    fn archive_dests(&mut self) -> Part<Vec<ArchiveDestRow>>;
    fn resource_limits(&mut self) -> Part<Vec<ResourceLimitRow>>;
    fn rman(&mut self) -> Part<RmanRow>;
    fn dataguard(&mut self) -> Part<Vec<DataguardRow>>;
    fn blocking(&mut self) -> Part<BlockingRow>;
    fn active_calls(&mut self) -> Part<Vec<ActiveCallRow>>;
    fn top_sql(&mut self) -> Part<Vec<TopSqlRow>>;
    fn scheduler_failures(&mut self) -> Part<Vec<SchedulerFailureRow>>;
    fn scheduler_broken(&mut self) -> Part<SchedulerBrokenRow>;
    fn file_io(&mut self) -> Part<Vec<FileIoRow>>;
    fn invalid_objects(&mut self) -> Part<Vec<InvalidObjectsRow>>;
}

/// Measures the filesystem of a plain archive destination: `df`'s used percent.
pub type FsMeter = fn(&str) -> Result<f64, String>;

/// One round: connect, check the instance, run every query. `Err` means the database could
/// not be asked at all (→ `oracle_up 0`). A query that fails leaves its part `Err` and the
/// others still run, unless the failure broke the session (timeout, connection lost): then the
/// session is dropped and the remaining parts carry the same failure, so a hung database costs
/// one call timeout per round, not one per query.
pub fn fetch_snapshot(
    source: &mut dyn OracleSource,
    fs_meter: Option<FsMeter>,
) -> Result<Snapshot, OracleFailure> {
    let instance = source.connect().and_then(|()| source.instance());
    let instance = match instance {
        Ok(i) => i,
        Err(e) => {
            source.disconnect();
            return Err(e);
        }
    };
    let mut broken: Option<OracleFailure> = None;
    // A physical standby is MOUNTED while it applies redo: its v$ views answer, the data
    // dictionary (dba_*) does not. Any other instance that is not OPEN answers nothing more.
    let dictionary = is_open(&instance);
    if !dictionary && !is_mounted_standby(&instance) {
        // dba_* views cannot be read on a mounted instance; the mapping reports oracle_up 0.
        broken = Some(OracleFailure {
            kind: FailureKind::NotOpen,
            message: format!("instance status {}", instance.status),
        });
    }
    let not_open = OracleFailure {
        kind: FailureKind::NotOpen,
        message: format!(
            "instance status {}: the data dictionary is not open",
            instance.status
        ),
    };
    let tablespaces = dict_step(source, &mut broken, dictionary, &not_open, |s| {
        s.tablespaces()
    });
    let recovery_dest = step(source, &mut broken, |s| s.recovery_dest());
    let recovery_usage = step(source, &mut broken, |s| s.recovery_usage());
    let archive_dests = step(source, &mut broken, |s| s.archive_dests());
    let resource_limits = step(source, &mut broken, |s| s.resource_limits());
    let rman = step(source, &mut broken, |s| s.rman());
    let depth = Depth {
        dataguard: step(source, &mut broken, |s| s.dataguard()),
        blocking: step(source, &mut broken, |s| s.blocking()),
        active_calls: step(source, &mut broken, |s| s.active_calls()),
        top_sql: step(source, &mut broken, |s| s.top_sql()),
        scheduler_failures: dict_step(source, &mut broken, dictionary, &not_open, |s| {
            s.scheduler_failures()
        }),
        scheduler_broken: dict_step(source, &mut broken, dictionary, &not_open, |s| {
            s.scheduler_broken()
        }),
        file_io: step(source, &mut broken, |s| s.file_io()),
        invalid_objects: dict_step(source, &mut broken, dictionary, &not_open, |s| {
            s.invalid_objects()
        }),
    };
    let mut dest_fs_used_percent = BTreeMap::new();
    if let (Some(meter), Ok(dests)) = (fs_meter, &archive_dests) {
        for dest in dests {
            if let Some(path) = dest.destination.as_deref().filter(|p| p.starts_with('/')) {
                dest_fs_used_percent.insert(path.to_owned(), meter(path));
            }
        }
    }
    Ok(Snapshot {
        instance,
        tablespaces,
        recovery_dest,
        recovery_usage,
        archive_dests,
        resource_limits,
        rman,
        depth,
        dest_fs_used_percent,
    })
}

/// A query on the data dictionary: run only when the database is open.
fn dict_step<T>(
    source: &mut dyn OracleSource,
    broken: &mut Option<OracleFailure>,
    dictionary: bool,
    not_open: &OracleFailure,
    query: impl FnOnce(&mut dyn OracleSource) -> Part<T>,
) -> Part<T> {
    if dictionary {
        step(source, broken, query)
    } else {
        Err(broken.clone().unwrap_or_else(|| not_open.clone()))
    }
}

fn step<T>(
    source: &mut dyn OracleSource,
    broken: &mut Option<OracleFailure>,
    query: impl FnOnce(&mut dyn OracleSource) -> Part<T>,
) -> Part<T> {
    if let Some(failure) = broken {
        return Err(failure.clone());
    }
    let result = query(source);
    if let Err(e) = &result
        && e.kind.breaks_connection()
    {
        source.disconnect();
        *broken = Some(e.clone());
    }
    result
}

/// `df`'s used percent of the filesystem holding `path` (the host probe's definition).
pub fn statvfs_used_percent(path: &str) -> Result<f64, String> {
    let stat = rustix::fs::statvfs(path).map_err(|e| e.to_string())?;
    crate::host::disk_space(&stat)
        .and_then(|space| space.used_percent)
        .ok_or_else(|| "the filesystem reports no size".to_owned())
}
