//! The depth mapping on recorded rows (`testdata/prod_fra.toml`'s depth section, a mounted
//! standby in `testdata/standby_mounted.toml`), the interval parser, and deadlocks from the
//! alert log through the probe.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::oracle::mapping::{Mapped, map_snapshot};
use crate::oracle::recorded::{Call, PROD_FRA, RecordedSource, Recording, STANDBY_MOUNTED};
use crate::oracle::source::fetch_snapshot;

const LIMITS: Thresholds = Thresholds {
    long_sql: Duration::from_secs(600),
    top_sql: 10,
    interval: Duration::from_secs(60),
};

fn map_recording(recording: &str, limits: &Thresholds) -> (Mapped, Vec<Call>) {
    let source = RecordedSource::new(Recording::parse(recording).unwrap());
    let journal = source.journal();
    let mut source = source;
    let snap = fetch_snapshot(&mut source, None).unwrap();
    let mut mapped = map_snapshot("ORCL", &snap, 0);
    map_depth("ORCL", &snap.depth, limits, 0, &mut mapped);
    let calls = journal.lock().unwrap().calls.clone();
    (mapped, calls)
}

/// `name{non-db labels}` → value.
fn values(mapped: &Mapped) -> BTreeMap<String, f64> {
    mapped
        .samples
        .iter()
        .map(|s| {
            let labels =
                patrol_proto::Labels::from_pairs(s.labels.iter().filter(|(k, _)| *k != "db"));
            let key = if labels.is_empty() {
                s.name.clone()
            } else {
                format!("{}{}", s.name, labels)
            };
            (key, s.value)
        })
        .collect()
}

#[test]
fn interval_text_becomes_seconds() {
    assert_eq!(interval_seconds("+00 00:00:12"), Some(12.0));
    assert_eq!(interval_seconds("+00 00:21:13"), Some(1273.0));
    assert_eq!(interval_seconds("+01 02:03:04.5"), Some(93_784.5));
    assert_eq!(interval_seconds(" +00 00:00:00 "), Some(0.0));
    assert_eq!(
        interval_seconds("-00 00:00:03"),
        Some(0.0),
        "clock skew is no lag"
    );
    for bad in [
        "",
        "12",
        "+00 00:61:00",
        "+00 25:00:00",
        "+x 00:00:01",
        "00:00:12",
        "+00 00:00",
    ] {
        assert_eq!(interval_seconds(bad), None, "{bad:?}");
    }
}

proptest::proptest! {
    #[test]
    fn interval_parser_never_panics(text in "[-+ 0-9:.a-z]{0,24}") {
        if let Some(v) = interval_seconds(&text) {
            proptest::prop_assert!(v.is_finite() && v >= 0.0);
        }
    }
}

#[test]
fn primary_depth_figures_from_recorded_rows() {
    let (mapped, _) = map_recording(PROD_FRA, &LIMITS);
    let v = values(&mapped);
    assert_eq!(v["oracle_blocked_sessions"], 2.0);
    assert_eq!(v["oracle_blocking_sessions"], 1.0);
    assert_eq!(v["oracle_blocked_wait_seconds"], 451.2);
    // 2520 s and 903 s are past 10 minutes; 2 s is not.
    assert_eq!(v["oracle_long_running_sql"], 2.0);
    assert_eq!(v["oracle_longest_sql_seconds"], 2520.0);
    assert_eq!(
        v["oracle_top_sql_cpu_seconds_total{sql_id=\"9babjv8yq8ru3\"}"],
        1843.0
    );
    assert_eq!(
        v["oracle_top_sql_elapsed_seconds_total{sql_id=\"5qgz1p0cut7mx\"}"],
        1104.0
    );
    assert_eq!(
        v["oracle_top_sql_executions_total{sql_id=\"0w2qpuc6u2zsp\"}"],
        48213.0
    );
    // One failed run within the last interval (20 s ago), two jobs failing today, one broken.
    assert_eq!(v["oracle_scheduler_job_failures"], 1.0);
    assert_eq!(v["oracle_scheduler_failed_jobs"], 2.0);
    assert_eq!(v["oracle_scheduler_broken_jobs"], 1.0);
    assert_eq!(
        v["oracle_datafile_reads_total{file=\"7\",tablespace=\"APP_DATA\"}"],
        8_812_093.0
    );
    assert_eq!(
        v["oracle_datafile_read_seconds_total{file=\"7\",tablespace=\"APP_DATA\"}"],
        15_320.01
    );
    assert_eq!(v["oracle_invalid_objects"], 4.0);
    assert_eq!(
        v["oracle_invalid_objects_by_type{owner=\"APP\",type=\"PACKAGE BODY\"}"],
        3.0
    );
    assert!(
        !v.keys().any(|k| k.starts_with("oracle_dataguard")),
        "a primary has no lag rows"
    );
    assert!(
        mapped.notes.iter().any(|n| n
            == "2 user call(s) running longer than 600 s; the longest: sid 214, user REPORTING, sql_id 9babjv8yq8ru3"),
        "{:?}",
        mapped.notes
    );
    assert!(
        mapped
            .notes
            .iter()
            .any(|n| n
                == "scheduler jobs that failed in the last day: APP.NIGHTLY_LOAD, SYS.PURGE_LOG"),
        "{:?}",
        mapped.notes
    );
}

#[test]
fn top_sql_is_bounded_by_the_setting() {
    let limits = Thresholds {
        top_sql: 1,
        ..LIMITS
    };
    let (mapped, _) = map_recording(PROD_FRA, &limits);
    let ids: Vec<_> = mapped
        .samples
        .iter()
        .filter(|s| s.name == "oracle_top_sql_cpu_seconds_total")
        .filter_map(|s| s.labels.get("sql_id"))
        .collect();
    assert_eq!(ids, ["9babjv8yq8ru3"]);
    let none = Thresholds {
        top_sql: 0,
        ..LIMITS
    };
    let (mapped, _) = map_recording(PROD_FRA, &none);
    assert!(
        mapped
            .samples
            .iter()
            .all(|s| !s.name.starts_with("oracle_top_sql"))
    );
}

#[test]
fn a_mounted_standby_is_up_with_its_lags_and_no_dictionary_queries() {
    let (mapped, calls) = map_recording(STANDBY_MOUNTED, &LIMITS);
    let v = values(&mapped);
    assert_eq!(v["oracle_up"], 1.0, "MOUNTED is a standby's normal state");
    assert_eq!(v["oracle_dataguard_transport_lag_seconds"], 4.0);
    assert_eq!(v["oracle_dataguard_apply_lag_seconds"], 1273.0);
    assert_eq!(v["oracle_recovery_area_used_percent"], 20.0);
    assert!(v.contains_key("oracle_datafile_writes_total{file=\"1\",tablespace=\"SYSTEM\"}"));
    for skipped in [
        "oracle_tablespace_used_percent",
        "oracle_scheduler_failed_jobs",
        "oracle_invalid_objects",
    ] {
        assert!(
            !v.keys().any(|k| k.starts_with(skipped)),
            "{skipped}: {v:?}"
        );
    }
    for call in [
        Call::Tablespaces,
        Call::SchedulerFailures,
        Call::SchedulerBroken,
        Call::InvalidObjects,
    ] {
        assert!(
            !calls.contains(&call),
            "{call:?} would fail with ORA-01219 on a mounted database"
        );
    }
    assert!(calls.contains(&Call::Dataguard));
}

#[test]
fn a_mounted_primary_is_still_down() {
    let text = PROD_FRA.replace("STATUS = \"OPEN\"", "STATUS = \"MOUNTED\"");
    let (mapped, calls) = map_recording(&text, &LIMITS);
    assert_eq!(
        values(&mapped),
        BTreeMap::from([("oracle_up".to_owned(), 0.0)])
    );
    assert_eq!(calls, [Call::Connect, Call::Instance]);
}

#[test]
fn a_lag_not_computed_yet_gives_no_sample_and_a_note() {
    let text = STANDBY_MOUNTED.replace("VALUE = \"+00 00:21:13\"\n", "");
    let (mapped, _) = map_recording(&text, &LIMITS);
    let v = values(&mapped);
    assert!(!v.contains_key("oracle_dataguard_apply_lag_seconds"));
    assert_eq!(v["oracle_dataguard_transport_lag_seconds"], 4.0);
    assert!(
        mapped
            .notes
            .iter()
            .any(|n| n.starts_with("Data Guard apply lag is not computed")),
        "{:?}",
        mapped.notes
    );
}

#[test]
fn a_failing_depth_query_leaves_the_others() {
    let source = RecordedSource::new(Recording::parse(PROD_FRA).unwrap())
        .failing(Call::TopSql, "ORA-00942: table or view does not exist");
    let mut source = source;
    let snap = fetch_snapshot(&mut source, None).unwrap();
    let mut mapped = map_snapshot("ORCL", &snap, 0);
    map_depth("ORCL", &snap.depth, &LIMITS, 0, &mut mapped);
    let v = values(&mapped);
    assert!(!v.keys().any(|k| k.starts_with("oracle_top_sql")));
    assert_eq!(v["oracle_invalid_objects"], 4.0);
    assert_eq!(
        v["oracle_tablespace_used_percent{contents=\"permanent\",tablespace=\"USERS\"}"],
        12.5
    );
}

#[test]
fn every_depth_metric_is_catalogued() {
    for recording in [PROD_FRA, STANDBY_MOUNTED] {
        let (mapped, _) = map_recording(recording, &LIMITS);
        crate::sample_out::assert_cataloged(&mapped.samples);
    }
}
