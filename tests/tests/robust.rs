//! The collector under abuse, as an operator or an attacker would try it: two collectors on
//! one data directory, idle connections, label explosions, non-finite samples.

mod support;

use std::time::Duration;

use support::daemon::Daemon;
use support::procs;

/// A second collector on the same data directory is refused with a sentence naming the pid
/// of the one that holds it; the first keeps running.
#[test]
fn a_second_collector_on_the_same_data_directory_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let (first, _, http) = procs::collector(&rules, &data);
    let mut second = Daemon::spawn(
        "patrol-collector",
        &[
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
        ],
        "info",
    );
    let want = format!(
        "is in use by another patrol-collector (pid {})",
        first.pid()
    );
    second.wait_line(Duration::from_secs(30), |l| {
        assert!(
            !l.starts_with("patrol-collector listening"),
            "the second collector must not start: {l}"
        );
        l.contains(&want).then_some(())
    });
    let status = second.stop(Duration::from_secs(10));
    assert_eq!(status.code(), Some(1), "{}", second.tail(10));
    let (status, _) = procs::http_get(&http, "/healthz");
    assert_eq!(status, 200, "the first collector keeps running");
}
