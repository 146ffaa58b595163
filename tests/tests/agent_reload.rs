//! `systemctl reload patrol-agent` (SIGHUP) with the real binaries: a probe added to the file
//! starts reporting, a broken file is refused at file:line:column while the agent runs on,
//! and neither reload loses a batch or reconnects.

mod support;

use std::path::Path;
use std::time::Duration;

use support::daemon::{Daemon, num, queued_batches};
use support::procs::{eventually, free_port, http_get, patrolctl_json};

const AGENT: &str = "reload-agent";

fn config(state: &Path, port: u16, dirs: &[&Path]) -> String {
    let mut text = format!(
        "agent_id = \"{AGENT}\"\nhost = \"reload-host\"\nstate_dir = {state:?}\n\
         [collector]\naddress = \"http://127.0.0.1:{port}\"\nbackoff_min = \"20ms\"\nbackoff_max = \"200ms\"\n"
    );
    for d in dirs {
        text.push_str(&format!(
            "[[probe]]\ntype = \"dir\"\ninterval = \"100ms\"\npath = {d:?}\n"
        ));
    }
    text
}

fn applied_batches(port: u16) -> u64 {
    patrolctl_json(
        &format!("http://127.0.0.1:{port}"),
        &["agents", "list", "--json"],
    )
    .as_array()
    .and_then(|a| a.iter().find(|x| x["agent_id"] == AGENT))
    .and_then(|a| a["batches"].as_u64())
    .unwrap_or(0)
}

#[test]
fn sighup_adds_probes_refuses_broken_files_and_keeps_every_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let (first_dir, second_dir) = (dir.path().join("one"), dir.path().join("two"));
    for d in [&first_dir, &second_dir] {
        std::fs::create_dir_all(d).expect("dir");
    }
    let port = free_port();
    let s = |p: &Path| p.to_str().expect("utf-8").to_owned();
    let mut collector = Daemon::spawn(
        "patrol-collector",
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--http",
            "127.0.0.1:0",
            "--rules",
            &s(&rules),
            "--data",
            &s(&dir.path().join("data")),
        ],
        "info",
    );
    let http = collector.wait_line(Duration::from_secs(30), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|p| p.strip_prefix("http="))
            .map(str::to_owned)
    });
    let state = dir.path().join("state");
    let file = dir.path().join("agent.toml");
    std::fs::write(&file, config(&state, port, &[&first_dir])).expect("config");
    let mut agent = Daemon::agent(&file);
    agent.wait_line(Duration::from_secs(30), |l| {
        l.contains("connected to collector").then_some(())
    });
    assert!(eventually(Duration::from_secs(30), || applied_batches(
        port
    ) >= 3));
    let metrics = || http_get(&http, "/metrics").1;
    let second_path = format!("path=\"{}\"", second_dir.display());
    assert!(!metrics().contains(&second_path));

    // A probe added to the file: after SIGHUP its samples arrive; the first probe keeps running.
    std::fs::write(&file, config(&state, port, &[&first_dir, &second_dir])).expect("config");
    agent.signal("HUP");
    let done = agent.wait_line(Duration::from_secs(30), |l| {
        l.contains("configuration reloaded").then(|| l.to_owned())
    });
    assert_eq!(num(&done, "probes_added"), Some(1), "{done}");
    assert_eq!(num(&done, "probes_kept"), Some(1), "{done}");
    assert!(done.contains("reconnect=false"), "{done}");
    assert!(
        eventually(Duration::from_secs(30), || metrics().lines().any(|l| l
            .starts_with("dir_used_bytes{")
            && l.contains(&second_path))),
        "the added probe never reported"
    );

    // A broken file: every problem logged at file:line:column, the agent runs on as it was.
    let broken = format!(
        "{}[[probe]]\ntype = \"dir\"\ninterval = \"1ns\"\npath = \"/\"\n",
        config(&state, port, &[&first_dir])
    );
    let interval_line = broken.lines().count() - 1;
    std::fs::write(&file, &broken).expect("config");
    agent.signal("HUP");
    let refused = agent.wait_line(Duration::from_secs(30), |l| {
        l.contains("reload refused").then(|| l.to_owned())
    });
    let at = format!(
        "{}:{interval_line}:12: probe 'dir' interval 1ns is too short",
        file.display()
    );
    assert!(refused.contains(&at), "wanted {at} in: {refused}");
    assert!(agent.running(), "a broken file must not stop the agent");
    let before = applied_batches(port);
    assert!(
        eventually(Duration::from_secs(30), || applied_batches(port)
            > before + 5),
        "the agent stopped delivering after a refused reload"
    );
    assert!(
        eventually(Duration::from_secs(30), || metrics()
            .lines()
            .any(|l| l.starts_with("patrol_agent_reload_failures_total{")
                && l.contains("host=\"reload-host\"")
                && l.ends_with(" 1"))),
        "the refused reload is counted"
    );
    // Both probes still report (the refused file would have removed the second).
    let last = metrics();
    assert!(last.contains(&second_path));
    assert!(
        last.contains(
            "patrol_agent_dropped_samples_total{host=\"reload-host\",reason=\"backlog_full\"} 0"
        ),
        "the agent's drop counters are reported: {last}"
    );

    // Stop while connected: every batch this agent made was applied, once, on one connection.
    assert!(agent.stop(Duration::from_secs(30)).success());
    let made = queued_batches(&agent.seen);
    assert_eq!(applied_batches(port), made.len() as u64);
    let connects = agent
        .seen
        .iter()
        .filter(|l| l.contains("connected to collector"))
        .count();
    assert_eq!(connects, 1, "a reload must not reconnect needlessly");
}
