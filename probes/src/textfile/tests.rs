//! The textfile probe on real directories written by the tests.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::sample_out::{assert_cataloged, parse_section, round};

fn probe(dir: &Path, extra: &str) -> Box<dyn Probe> {
    let text = format!(
        "type = \"textfile\"\ndirectory = {:?}\n{extra}\n",
        dir.display().to_string()
    );
    parse_section(&text)
        .unwrap()
        .build(&crate::BuildContext::new(dir))
        .unwrap()
}

fn find<'a>(out: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    out.iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn value(out: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(out, name, labels)
        .unwrap_or_else(|| panic!("{name} {labels:?} missing from {out:#?}"))
        .value
}

fn write_at(path: &Path, text: &str, mtime: SystemTime) {
    std::fs::write(path, text).unwrap();
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[tokio::test]
async fn samples_pass_through_with_file_status() {
    let dir = tempfile::tempdir().unwrap();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    write_at(
        &dir.path().join("backup.prom"),
        "# HELP backup_last_success_timestamp_seconds End of the last good backup.\n\
         # TYPE backup_last_success_timestamp_seconds gauge\n\
         backup_last_success_timestamp_seconds{job=\"rman\",db=\"ORCL\"} 1.7e9\n\
         backup_size_bytes{job=\"rman\"} 123456789 1700000000000\n",
        an_hour_ago,
    );
    write_at(
        &dir.path().join("apt.prom"),
        "apt_upgrades_pending{origin=\"Debian\",arch=\"amd64\"} 3\nnot a sample\n\
         # TYPE apt_reboot_required gauge\napt_reboot_required 0\n",
        SystemTime::now(),
    );
    // Not finished yet (written before a rename) and not .prom: ignored.
    std::fs::write(dir.path().join("apt.prom.12345"), "half_written 1\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "free text\n").unwrap();

    let out = round(&mut probe(dir.path(), "")).await;
    assert_eq!(
        value(
            &out,
            "backup_last_success_timestamp_seconds",
            &[("job", "rman"), ("db", "ORCL")]
        ),
        1.7e9
    );
    assert_eq!(value(&out, "backup_size_bytes", &[]), 123_456_789.0);
    assert_eq!(
        value(&out, "apt_upgrades_pending", &[("origin", "Debian")]),
        3.0
    );
    assert_eq!(
        value(&out, "apt_reboot_required", &[]),
        0.0,
        "lines after a bad one are kept"
    );
    assert!(find(&out, "half_written", &[]).is_none());
    assert_eq!(
        value(&out, "textfile_scrape_error", &[("file", "backup.prom")]),
        0.0
    );
    assert_eq!(
        value(&out, "textfile_scrape_error", &[("file", "apt.prom")]),
        1.0
    );
    assert_eq!(value(&out, "textfile_errors", &[("file", "apt.prom")]), 1.0);
    let mtime = value(&out, "textfile_mtime_seconds", &[("file", "backup.prom")]);
    let expected = an_hour_ago
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((mtime - expected).abs() < 1.0, "{mtime} vs {expected}");
    let age = value(&out, "textfile_age_seconds", &[("file", "backup.prom")]);
    assert!((3599.0..3700.0).contains(&age), "age {age}");
    assert_eq!(value(&out, "textfile_ok", &[]), 1.0);
    // The samples carry the timestamp of the round, as every probe's do.
    assert!(out.iter().all(|s| s.timestamp_ms == 1));
    let own: Vec<&Sample> = out
        .iter()
        .filter(|s| s.name.starts_with("textfile_"))
        .collect();
    assert_cataloged(&own.into_iter().cloned().collect::<Vec<_>>());
}

#[tokio::test]
async fn reserved_names_and_duplicates_are_refused_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.prom"), "m{x=\"1\"} 1\n").unwrap();
    std::fs::write(
        dir.path().join("b.prom"),
        "m{x=\"1\"} 2\nm{host=\"other\"} 3\npatrol_probe_up 1\nm{__name__=\"y\"} 4\nok 5\n",
    )
    .unwrap();
    let out = round(&mut probe(dir.path(), "")).await;
    assert_eq!(value(&out, "m", &[("x", "1")]), 1.0, "the first file wins");
    assert_eq!(out.iter().filter(|s| s.name == "m").count(), 1);
    assert!(find(&out, "patrol_probe_up", &[]).is_none());
    assert_eq!(value(&out, "ok", &[]), 5.0);
    assert_eq!(value(&out, "textfile_errors", &[("file", "b.prom")]), 4.0);
}

/// Series the collector would refuse (and with them the agent's whole batch) never leave.
#[tokio::test]
async fn series_the_collector_refuses_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let long_value = "v".repeat(1025);
    let long_name = "n".repeat(201);
    let many: String = (0..17).map(|i| format!("l{i}=\"x\",")).collect();
    std::fs::write(
        dir.path().join("big.prom"),
        format!(
            "a{{x=\"{long_value}\"}} 1\n{long_name} 2\nb{{{many}}} 3\nfine{{x=\"{}\"}} 4\n",
            "v".repeat(1024)
        ),
    )
    .unwrap();
    let out = round(&mut probe(dir.path(), "")).await;
    assert!(find(&out, "a", &[]).is_none());
    assert!(find(&out, &long_name, &[]).is_none());
    assert!(find(&out, "b", &[]).is_none());
    assert_eq!(
        value(&out, "fine", &[]),
        4.0,
        "1024 bytes is still accepted"
    );
    assert_eq!(value(&out, "textfile_errors", &[("file", "big.prom")]), 3.0);
}

#[tokio::test]
async fn limits_bound_what_is_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.prom"), "x 1\n".repeat(1000)).unwrap();
    let lines: String = (0..50).map(|i| format!("s{i} {i}\n")).collect();
    std::fs::write(dir.path().join("many.prom"), lines).unwrap();
    std::fs::write(dir.path().join("bin.prom"), b"ok 1\n\xff\xfe\n").unwrap();
    let out = round(&mut probe(
        dir.path(),
        "max_file_bytes = 2048\nmax_samples = 10",
    ))
    .await;
    assert_eq!(
        value(&out, "textfile_scrape_error", &[("file", "big.prom")]),
        1.0
    );
    assert!(
        find(&out, "x", &[]).is_none(),
        "an oversized file is skipped whole"
    );
    assert_eq!(
        value(&out, "textfile_scrape_error", &[("file", "bin.prom")]),
        1.0
    );
    assert!(
        find(&out, "ok", &[]).is_none(),
        "a file that is not text is skipped whole"
    );
    assert_eq!(
        out.iter()
            .filter(|s| s.name.starts_with('s') && s.name.len() <= 3)
            .count(),
        10
    );
    assert_eq!(
        value(&out, "textfile_errors", &[("file", "many.prom")]),
        40.0
    );
}

#[tokio::test]
async fn a_missing_directory_is_a_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = round(&mut probe(&dir.path().join("gone"), "")).await;
    assert_eq!(value(&out, "textfile_ok", &[]), 0.0);
    assert_eq!(out.len(), 1);
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_options_are_named() {
    let err = parse_section(
        "type = \"textfile\"\ndirectory = \"/x\"\nmax_samples = 0\nmax_file_bytes = 1\n",
    )
    .unwrap()
    .build(&crate::BuildContext::new("/tmp"))
    .err()
    .unwrap()
    .to_string();
    assert!(
        err.contains("max_samples") && err.contains("max_file_bytes"),
        "{err}"
    );
    let err = parse_section("type = \"textfile\"\ndir = \"/x\"\n").unwrap_err();
    assert!(err.to_string().contains("dir"), "{err}");
}
