//! The files probe on real trees with set modification times.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

const HOUR: Duration = Duration::from_secs(3600);

fn write(path: &Path, bytes: usize, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, vec![b'x'; bytes]).unwrap();
    set_age(path, age);
}

fn set_age(path: &Path, age: Duration) {
    let file = std::fs::File::open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

async fn collect(section: &str) -> Vec<Sample> {
    let dir = tempfile::tempdir().unwrap();
    let mut probe = parse_section(section)
        .unwrap()
        .build(&crate::BuildContext::new(dir.path()))
        .unwrap();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms }, &mut out)
        .await
        .unwrap();
    assert_cataloged(&out);
    out
}

fn value(out: &[Sample], name: &str, check: &str) -> Option<f64> {
    out.iter()
        .find(|s| s.name == name && s.labels.get("check") == Some(check))
        .map(|s| s.value)
}

fn near(v: Option<f64>, expected: f64) -> bool {
    v.is_some_and(|v| (v - expected).abs() < 60.0)
}

#[tokio::test]
async fn dump_files_newest_oldest_sizes_and_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("expdp_mon.dmp"), 3000, 50 * HOUR);
    write(&d.join("expdp_tue.dmp"), 2000, 26 * HOUR);
    write(&d.join("expdp_wed.dmp"), 100, 2 * HOUR); // failed half-way: below min_bytes
    write(&d.join("expdp_wed.log"), 10, HOUR);
    let section = format!(
        "type = \"files\"\n\
         [[check]]\nname = \"dumps\"\npaths = [\"{0}/expdp_*.dmp\"]\nmin_bytes = 1000\nmax_age = \"25h\"\n\
         [[check]]\nname = \"all\"\npaths = [\"{0}/expdp_*\", \"{0}/*.dmp\"]\nmax_age = \"3h\"\n\
         [[check]]\nname = \"none\"\npaths = [\"{0}/nothing_*\"]\nmax_age = \"1h\"\n",
        d.display()
    );
    let out = collect(&section).await;
    assert_eq!(value(&out, "files_count", "dumps"), Some(2.0));
    assert_eq!(value(&out, "files_total_bytes", "dumps"), Some(5000.0));
    assert_eq!(value(&out, "files_newest_bytes", "dumps"), Some(2000.0));
    assert!(near(
        value(&out, "files_newest_age_seconds", "dumps"),
        26.0 * 3600.0
    ));
    assert!(near(
        value(&out, "files_oldest_age_seconds", "dumps"),
        50.0 * 3600.0
    ));
    assert_eq!(
        value(&out, "files_stale", "dumps"),
        Some(1.0),
        "26 h > 25 h"
    );
    // Two patterns matching one file count it once.
    assert_eq!(value(&out, "files_count", "all"), Some(4.0));
    assert_eq!(value(&out, "files_total_bytes", "all"), Some(5110.0));
    assert_eq!(value(&out, "files_stale", "all"), Some(0.0));
    assert_eq!(value(&out, "files_ok", "none"), Some(1.0));
    assert_eq!(value(&out, "files_count", "none"), Some(0.0));
    assert_eq!(value(&out, "files_newest_age_seconds", "none"), None);
    assert_eq!(
        value(&out, "files_stale", "none"),
        Some(1.0),
        "nothing matched is stale"
    );
}

#[tokio::test]
async fn backup_sets_as_directories() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(&d.join("set_0101/datafile1.bkp"), 1000, 30 * HOUR);
    write(&d.join("set_0101/arch/arch1.bkp"), 500, 30 * HOUR);
    set_age(&d.join("set_0101/arch"), 30 * HOUR);
    set_age(&d.join("set_0101"), 30 * HOUR);
    write(&d.join("set_0102/datafile1.bkp"), 1200, 5 * HOUR);
    // A file changed later inside an old set dates the set.
    write(&d.join("set_0102/controlfile.bkp"), 10, HOUR);
    set_age(&d.join("set_0102"), 6 * HOUR);
    write(&d.join("set_note.txt"), 1, Duration::ZERO); // a file: not a set
    let section = format!(
        "type = \"files\"\n[[check]]\nname = \"rman_sets\"\npaths = [\"{}/set_*\"]\nmode = \"dirs\"\n",
        d.display()
    );
    let out = collect(&section).await;
    assert_eq!(value(&out, "files_count", "rman_sets"), Some(2.0));
    assert_eq!(value(&out, "files_total_bytes", "rman_sets"), Some(2710.0));
    assert_eq!(value(&out, "files_newest_bytes", "rman_sets"), Some(1210.0));
    assert!(near(
        value(&out, "files_newest_age_seconds", "rman_sets"),
        3600.0
    ));
    assert!(near(
        value(&out, "files_oldest_age_seconds", "rman_sets"),
        30.0 * 3600.0
    ));
    assert_eq!(
        value(&out, "files_stale", "rman_sets"),
        None,
        "no max_age, no files_stale"
    );
}

#[tokio::test]
async fn too_many_entries_is_a_status_not_a_partial_answer() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..20 {
        write(&dir.path().join(format!("f{i}")), 1, HOUR);
    }
    let section = format!(
        "type = \"files\"\nmax_entries = 10\n[[check]]\nname = \"many\"\npaths = [\"{}/f*\"]\n",
        dir.path().display()
    );
    let out = collect(&section).await;
    assert_eq!(value(&out, "files_ok", "many"), Some(0.0));
    assert_eq!(value(&out, "files_count", "many"), None);
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_checks_are_named() {
    let err = parse_section(
        "type = \"files\"\n[[check]]\nname = \"a\"\npaths = [\"relative/*\", \"/x/[\"]\n[[check]]\nname = \"a\"\npaths = []\n",
    )
    .unwrap()
    .build(&crate::BuildContext::new("/tmp"))
    .err()
    .unwrap()
    .to_string();
    for part in [
        "check[0].paths[0]",
        "check[0].paths[1]",
        "listed twice",
        "check[1].paths:",
    ] {
        assert!(err.contains(part), "{part} missing from {err}");
    }
    let err = parse_section(
        "type = \"files\"\n[[check]]\nname = \"a\"\npaths = [\"/x\"]\nmax_age = \"a day\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("max_age"), "{err}");
    let err = parse_section(
        "type = \"files\"\n[[check]]\nname = \"a\"\npaths = [\"/x\"]\nmode = \"trees\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("trees"), "{err}");
}
