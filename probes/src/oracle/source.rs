//! The seam between the probe and a database: [`OracleSource`], one method per query, and
//! [`fetch_snapshot`], which runs one round over any source. The real source is
//! `session.rs` (the `oracle` crate); `recorded.rs` replays recorded rows for tests.

use std::collections::BTreeMap;

use super::failure::{FailureKind, OracleFailure};
use super::mapping::is_open;
use super::rows::{
    ArchiveDestRow, InstanceRow, Part, RecoveryDestRow, RecoveryUsageRow, ResourceLimitRow,
    RmanRow, Snapshot, TablespaceRow,
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
    if !is_open(&instance) {
        // dba_* views cannot be read on a mounted instance; the mapping reports oracle_up 0.
        broken = Some(OracleFailure {
            kind: FailureKind::NotOpen,
            message: format!("instance status {}", instance.status),
        });
    }
    let tablespaces = step(source, &mut broken, |s| s.tablespaces());
    let recovery_dest = step(source, &mut broken, |s| s.recovery_dest());
    let recovery_usage = step(source, &mut broken, |s| s.recovery_usage());
    let archive_dests = step(source, &mut broken, |s| s.archive_dests());
    let resource_limits = step(source, &mut broken, |s| s.resource_limits());
    let rman = step(source, &mut broken, |s| s.rman());
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
        dest_fs_used_percent,
    })
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
