use std::collections::BTreeMap;

use super::*;
use crate::oracle::failure::OracleFailure;
use crate::oracle::recorded::{PLAIN_DEST, PROD_FRA, RecordedSource, Recording};
use crate::oracle::rows::ResourceLimitRow;
use crate::oracle::source::fetch_snapshot;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn snapshot(recording: &str, fs: Option<crate::oracle::source::FsMeter>) -> Snapshot {
    let rec = Recording::parse(recording).expect("recording parses");
    let mut source = RecordedSource::new(rec);
    fetch_snapshot(&mut source, fs).expect("recorded source answers")
}

/// `name{k="v",...}` → value, with `db` left out of the key for brevity.
fn values(mapped: &Mapped) -> BTreeMap<String, f64> {
    mapped
        .samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| *k != "db")
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            (format!("{}{{{}}}", s.name, labels.join(",")), s.value)
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn fra_database_maps_every_definition() {
    let mapped = map_snapshot("ORCL", &snapshot(PROD_FRA, None), 1_700_000_000_000);
    assert!(
        mapped
            .samples
            .iter()
            .all(|s| s.labels.get("db") == Some("ORCL") && s.timestamp_ms == 1_700_000_000_000)
    );
    let v = values(&mapped);
    let get = |k: &str| {
        *v.get(k)
            .unwrap_or_else(|| panic!("{k} missing from {v:#?}"))
    };
    assert_eq!(get("oracle_up{}"), 1.0);

    // Not autoextensible: used / allocated.
    assert!(close(
        get("oracle_tablespace_used_percent{contents=permanent,tablespace=APP_DATA}"),
        92.5
    ));
    // Autoextensible: used / what the files may grow to, not / allocated (which is 80 %).
    assert!(close(
        get("oracle_tablespace_used_percent{contents=permanent,tablespace=USERS}"),
        12.5
    ));
    assert_eq!(
        get("oracle_tablespace_max_bytes{contents=permanent,tablespace=USERS}"),
        32.0 * GIB
    );
    assert_eq!(
        get("oracle_tablespace_used_bytes{contents=permanent,tablespace=USERS}"),
        4.0 * GIB
    );
    assert!(close(
        get("oracle_tablespace_used_percent{contents=undo,tablespace=UNDOTBS1}"),
        12.5
    ));
    assert!(close(
        get("oracle_tablespace_used_percent{contents=temporary,tablespace=TEMP}"),
        0.78125
    ));
    let tablespaces = v
        .keys()
        .filter(|k| k.starts_with("oracle_tablespace_used_percent"))
        .count();
    assert_eq!(tablespaces, 6);

    // The archived-log share of the recovery area, as v$recovery_area_usage reports it.
    assert!(close(get("oracle_archive_log_used_percent{}"), 42.5));
    // The whole area: (used − reclaimable) / limit = (45 − 5) / 100 GiB.
    assert!(close(get("oracle_recovery_area_used_percent{}"), 40.0));
    assert_eq!(
        get("oracle_archive_dest_error{dest=LOG_ARCHIVE_DEST_1}"),
        0.0
    );
    assert_eq!(
        get("oracle_archive_dest_error{dest=LOG_ARCHIVE_DEST_2}"),
        1.0
    );
    assert!(
        mapped
            .notes
            .iter()
            .any(|n| n.contains("LOG_ARCHIVE_DEST_2 is ERROR: ORA-12541")),
        "{:?}",
        mapped.notes
    );

    assert_eq!(get("oracle_sessions{}"), 95.0);
    assert!(close(
        get("oracle_sessions_used_percent{}"),
        95.0 / 472.0 * 100.0
    ));
    assert_eq!(get("oracle_processes{}"), 87.0);
    assert!(close(get("oracle_processes_used_percent{}"), 29.0));
    assert_eq!(get("oracle_rman_backups{}"), 14.0);
    assert_eq!(get("oracle_rman_backup_age_hours{}"), 20.75);
}

fn fake_df(path: &str) -> Result<f64, String> {
    match path {
        "/u01/oradata/erp1/arch" => Ok(37.5),
        _ => Err("No such file or directory (os error 2)".into()),
    }
}

#[test]
fn plain_destination_uses_its_filesystem_and_reports_the_failed_one() {
    let snap = snapshot(PLAIN_DEST, Some(fake_df));
    // Every local path destination was measured, whatever its status.
    assert_eq!(
        snap.dest_fs_used_percent.keys().collect::<Vec<_>>(),
        ["/u01/oradata/erp1/arch", "/u02/arch2", "/u03/arch3"]
    );
    let mapped = map_snapshot("erp1", &snap, 0);
    let v = values(&mapped);
    assert_eq!(v.get("oracle_archive_log_used_percent{}"), Some(&37.5));
    // No recovery area (limit 0): no share of it to report.
    assert_eq!(v.get("oracle_recovery_area_used_percent{}"), None);
    assert_eq!(
        v.get("oracle_archive_dest_error{dest=LOG_ARCHIVE_DEST_2}"),
        Some(&1.0)
    );
    // DEFERRED is the DBA's choice, not an error.
    assert_eq!(
        v.get("oracle_archive_dest_error{dest=LOG_ARCHIVE_DEST_3}"),
        Some(&0.0)
    );
    assert!(
        mapped
            .notes
            .iter()
            .any(|n| n.contains("/u02/arch2") && n.contains("cannot measure")),
        "{:?}",
        mapped.notes
    );
    // The offline tablespace has no figures and a note; the others are there.
    assert!(!v.keys().any(|k| k.contains("HIST_2019")));
    assert!(mapped.notes.iter().any(|n| n.contains("HIST_2019")));
    assert!(close(
        v["oracle_tablespace_used_percent{contents=permanent,tablespace=SYSTEM}"],
        90.0
    ));
    assert!(close(
        v["oracle_tablespace_used_percent{contents=undo,tablespace=UNDOTBS1}"],
        25.0
    ));
    assert!(close(v["oracle_processes_used_percent{}"], 96.0));
    // No backup on record: a count of 0 and no age.
    assert_eq!(v.get("oracle_rman_backups{}"), Some(&0.0));
    assert_eq!(v.get("oracle_rman_backup_age_hours{}"), None);
}

#[test]
fn remote_database_without_statvfs_gives_no_plain_destination_percent() {
    let mapped = map_snapshot("erp1", &snapshot(PLAIN_DEST, None), 0);
    assert_eq!(
        values(&mapped).get("oracle_archive_log_used_percent{}"),
        None
    );
}

#[test]
fn noarchivelog_database_has_no_archive_percent() {
    let mut snap = snapshot(PROD_FRA, None);
    snap.instance.log_mode = "NOARCHIVELOG".into();
    let v = values(&map_snapshot("ORCL", &snap, 0));
    assert_eq!(v.get("oracle_archive_log_used_percent{}"), None);
    assert!(v.contains_key("oracle_recovery_area_used_percent{}"));
}

#[test]
fn mounted_instance_is_down_and_reports_nothing_else() {
    let mut snap = snapshot(PROD_FRA, None);
    snap.instance.status = "MOUNTED".into();
    let mapped = map_snapshot("ORCL", &snap, 0);
    assert_eq!(
        values(&mapped),
        BTreeMap::from([("oracle_up{}".into(), 0.0)])
    );
    assert!(mapped.notes[0].contains("MOUNTED, not OPEN"));
}

#[test]
fn failed_parts_drop_only_their_metrics() {
    let mut snap = snapshot(PROD_FRA, None);
    let denied = OracleFailure::from_text("ORA-00942: table or view does not exist");
    snap.tablespaces = Err(denied.clone());
    snap.rman = Err(denied.clone());
    // Destinations unreadable: the recovery area's archived-log share still applies.
    snap.archive_dests = Err(denied);
    let v = values(&map_snapshot("ORCL", &snap, 0));
    assert_eq!(v["oracle_up{}"], 1.0);
    assert!(!v.keys().any(|k| k.starts_with("oracle_tablespace")));
    assert!(!v.keys().any(|k| k.starts_with("oracle_rman")));
    assert!(!v.keys().any(|k| k.starts_with("oracle_archive_dest_error")));
    assert!(close(v["oracle_archive_log_used_percent{}"], 42.5));
    assert_eq!(v["oracle_sessions{}"], 95.0);
}

#[test]
fn unlimited_and_zero_limits_have_no_percent() {
    let mut snap = snapshot(PROD_FRA, None);
    snap.resource_limits = Ok(vec![
        ResourceLimitRow {
            resource_name: "sessions".into(),
            current_utilization: 10.0,
            limit_value: "UNLIMITED".into(),
        },
        ResourceLimitRow {
            resource_name: "processes".into(),
            current_utilization: 5.0,
            limit_value: "0".into(),
        },
    ]);
    let v = values(&map_snapshot("ORCL", &snap, 0));
    assert_eq!(v["oracle_sessions{}"], 10.0);
    assert_eq!(v["oracle_processes{}"], 5.0);
    assert!(!v.contains_key("oracle_sessions_used_percent{}"));
    assert!(!v.contains_key("oracle_processes_used_percent{}"));
}

#[test]
fn the_fullest_local_destination_decides() {
    let mut snap = snapshot(PROD_FRA, None);
    let Ok(dests) = &mut snap.archive_dests else {
        panic!("recorded")
    };
    dests.push(ArchiveDestRow {
        dest_name: "LOG_ARCHIVE_DEST_3".into(),
        status: "VALID".into(),
        target: Some("PRIMARY".into()),
        destination: Some("/arch".into()),
        error: None,
    });
    snap.dest_fs_used_percent.insert("/arch".into(), Ok(71.25));
    let v = values(&map_snapshot("ORCL", &snap, 0));
    assert_eq!(v["oracle_archive_log_used_percent{}"], 71.25);
}

#[test]
fn recordings_round_trip_without_unknown_columns() {
    // deny_unknown_fields on every row struct: a typo in a recording fails here.
    for text in [PROD_FRA, PLAIN_DEST] {
        Recording::parse(text).expect("parses");
    }
    let typo = PROD_FRA.replace("SPACE_RECLAIMABLE", "SPACE_RECLAIMABEL");
    assert!(Recording::parse(&typo).is_err());
}
