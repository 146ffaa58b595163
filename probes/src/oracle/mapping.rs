//! Rows → samples: a pure function of one round's [`Snapshot`], so every definition is tested
//! on recorded rows (`testdata/`). Query failures are not handled here: a failed part simply
//! yields no samples, and the probe logs it.

use patrol_proto::{Labels, Sample};

use super::rows::{ArchiveDestRow, InstanceRow, Snapshot};

/// `v$archive_dest.DESTINATION` of a destination that is the recovery area.
const FRA_DESTINATION: &str = "USE_DB_RECOVERY_FILE_DEST";

/// Destination states that mean archiving there has failed or cannot happen
/// (Oracle Reference, `V$ARCHIVE_DEST.STATUS`). `DEFERRED` is a DBA's choice, not an error.
const DEST_ERROR_STATES: &[&str] = &["ERROR", "DISABLED", "BAD PARAM", "FULL"];

/// The samples of one round and the remarks worth a log line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Mapped {
    pub samples: Vec<Sample>,
    /// Conditions the operator should hear about (each logged once while it lasts).
    pub notes: Vec<String>,
}

struct Out<'a> {
    db: &'a str,
    now_ms: i64,
    mapped: Mapped,
}

impl Out<'_> {
    fn push(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels = Labels::from_pairs([("db", self.db)]);
        for (k, v) in extra {
            labels.insert(*k, *v);
        }
        self.mapped
            .samples
            .push(Sample::new(name, labels, value, self.now_ms));
    }

    fn note(&mut self, text: String) {
        self.mapped.notes.push(text);
    }
}

/// The data dictionary can be read: the instance is OPEN.
pub fn is_open(instance: &InstanceRow) -> bool {
    instance.status.eq_ignore_ascii_case("OPEN")
}

/// A physical (or snapshot) standby in its normal state for applying redo: MOUNTED.
pub fn is_mounted_standby(instance: &InstanceRow) -> bool {
    instance.status.eq_ignore_ascii_case("MOUNTED")
        && instance
            .database_role
            .as_deref()
            .is_some_and(|r| r.to_ascii_uppercase().contains("STANDBY"))
}

/// `oracle_up{db} 1` when the instance is OPEN, or a MOUNTED standby (its normal state);
/// 0 otherwise (a primary MOUNTED or STARTED).
pub fn is_up(instance: &InstanceRow) -> bool {
    is_open(instance) || is_mounted_standby(instance)
}

/// Maps one round's rows to samples labelled `db`.
pub fn map_snapshot(db: &str, snap: &Snapshot, now_ms: i64) -> Mapped {
    let mut out = Out {
        db,
        now_ms,
        mapped: Mapped::default(),
    };
    let up = is_up(&snap.instance);
    out.push("oracle_up", &[], if up { 1.0 } else { 0.0 });
    if !up {
        out.note(format!(
            "instance {} is {}, not OPEN: other metrics skipped",
            snap.instance.instance_name, snap.instance.status
        ));
        return out.mapped;
    }
    tablespaces(&mut out, snap);
    archive(&mut out, snap);
    resources(&mut out, snap);
    if let Ok(rman) = &snap.rman {
        out.push("oracle_rman_backups", &[], rman.jobs);
        if let Some(age) = rman.age_hours {
            // The database clock can lag the end time by a second of rounding; never negative.
            out.push("oracle_rman_backup_age_hours", &[], age.max(0.0));
        }
    }
    out.mapped
}

fn tablespaces(out: &mut Out<'_>, snap: &Snapshot) {
    let Ok(rows) = &snap.tablespaces else { return };
    for row in rows {
        let name = row.tablespace_name.as_str();
        let contents = row.contents.to_ascii_lowercase();
        let labels = [("tablespace", name), ("contents", contents.as_str())];
        let (Some(used), Some(max)) = (row.used_bytes, row.max_bytes) else {
            out.note(format!(
                "tablespace {name} reports no size: its files are offline or need recovery"
            ));
            continue;
        };
        // Free space can be reported a little above the allocation while extents are being
        // freed; used space is never negative.
        let used = used.max(0.0);
        out.push("oracle_tablespace_used_bytes", &labels, used);
        out.push("oracle_tablespace_max_bytes", &labels, max);
        if max > 0.0 {
            out.push(
                "oracle_tablespace_used_percent",
                &labels,
                used / max * 100.0,
            );
        }
    }
}

fn archive(out: &mut Out<'_>, snap: &Snapshot) {
    let limit = snap
        .recovery_dest
        .as_ref()
        .ok()
        .and_then(|rows| rows.iter().find(|r| r.space_limit > 0.0));
    if let Some(fra) = limit {
        let in_use = (fra.space_used - fra.space_reclaimable).max(0.0);
        out.push(
            "oracle_recovery_area_used_percent",
            &[],
            in_use / fra.space_limit * 100.0,
        );
    }
    let fra_archived_percent = limit.and_then(|_| {
        snap.recovery_usage.as_ref().ok().map(|rows| {
            rows.iter()
                .filter(|r| r.file_type.eq_ignore_ascii_case("ARCHIVED LOG"))
                .map(|r| r.percent_space_used)
                .sum::<f64>()
        })
    });
    let dests = snap
        .archive_dests
        .as_ref()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for dest in dests {
        let failed = DEST_ERROR_STATES
            .iter()
            .any(|s| dest.status.eq_ignore_ascii_case(s));
        out.push(
            "oracle_archive_dest_error",
            &[("dest", dest.dest_name.as_str())],
            if failed { 1.0 } else { 0.0 },
        );
        if failed {
            out.note(format!(
                "archive destination {} is {}: {}",
                dest.dest_name,
                dest.status,
                dest.error.as_deref().unwrap_or("no error text")
            ));
        }
    }
    if !snap.instance.log_mode.eq_ignore_ascii_case("ARCHIVELOG") {
        return;
    }
    // The fullest local destination decides: archiving stops when any mandatory one fills.
    let mut worst: Option<f64> = None;
    let mut consider = |v: f64| worst = Some(worst.map_or(v, |w: f64| w.max(v)));
    let mut fra_seen = false;
    for dest in dests.iter().filter(|d| is_local(d)) {
        let Some(path) = dest.destination.as_deref() else {
            continue;
        };
        if path.eq_ignore_ascii_case(FRA_DESTINATION) {
            fra_seen = true;
            if let Some(p) = fra_archived_percent {
                consider(p);
            }
        } else if path.starts_with('/') {
            match snap.dest_fs_used_percent.get(path) {
                Some(Ok(p)) => consider(*p),
                Some(Err(e)) => out.note(format!(
                    "archive destination {} ({path}): cannot measure its filesystem: {e}",
                    dest.dest_name
                )),
                None => {}
            }
        } else {
            out.note(format!(
                "archive destination {} ({path}) is not a local directory (ASM or other): \
                 its space is not measured",
                dest.dest_name
            ));
        }
    }
    // Destinations unreadable but a recovery area configured: Oracle then archives to it
    // (implicit LOG_ARCHIVE_DEST_10), so its archived-log share still applies.
    if !fra_seen
        && snap.archive_dests.is_err()
        && let Some(p) = fra_archived_percent
    {
        consider(p);
    }
    if let Some(p) = worst {
        out.push("oracle_archive_log_used_percent", &[], p);
    }
}

/// A destination on this side of the link (a directory, the FRA or ASM), not a standby service.
fn is_local(dest: &ArchiveDestRow) -> bool {
    dest.target
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("PRIMARY") || t.eq_ignore_ascii_case("LOCAL"))
}

fn resources(out: &mut Out<'_>, snap: &Snapshot) {
    let Ok(rows) = &snap.resource_limits else {
        return;
    };
    for row in rows {
        let (count, percent) = match row.resource_name.to_ascii_lowercase().as_str() {
            "sessions" => ("oracle_sessions", "oracle_sessions_used_percent"),
            "processes" => ("oracle_processes", "oracle_processes_used_percent"),
            _ => continue,
        };
        out.push(count, &[], row.current_utilization);
        // UNLIMITED (or 0) has no percentage.
        if let Ok(limit) = row.limit_value.trim().parse::<f64>()
            && limit > 0.0
        {
            out.push(percent, &[], row.current_utilization / limit * 100.0);
        }
    }
}

#[cfg(test)]
mod tests;
