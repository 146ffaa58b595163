//! The WebLogic probe end to end with the real binaries and the shipped rules: a log
//! directory written by the test grows past 50 % of its quota and `weblogic_log_high` opens
//! an incident; a STUCK-thread message opens `weblogic_stuck_threads`, which resolves in the
//! next quiet interval. Both seen through `patrolctl tail --json`.

mod support;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector, run};

const STUCK: &str = "####<Dec 7, 2016 3:12:21 PM GMT> <Error> <WebLogicServer> <prlprws01> <ms1> <[ACTIVE] ExecuteThread: '22' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <> <1481123541709> <BEA-000337> <[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Workmanager: default\n\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:\n\tsun.misc.Unsafe.park(Native Method)\n> \n";

fn info(n: usize) -> String {
    format!(
        "####<Mar 24, 2022 10:29:51,636 AM GMT> <Info> <Health> <host> <ms1> <t> <<WLS Kernel>> <> <> <1648117791636> <BEA-310002> <{n}% of the total memory in the server is free.> \n"
    )
}

fn append(path: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("append to the server log");
}

/// Appends INFO messages until the file holds at least `bytes`.
fn grow_to(path: &Path, bytes: u64) {
    let mut n = 0;
    while std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) < bytes {
        let chunk: String = (0..50).map(|i| info(n + i)).collect();
        append(path, &chunk);
        n += 50;
    }
}

fn event(line: &str, kind: &str, rule: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["kind"] == kind && v["incident"]["rule"] == rule).then_some(v)
}

fn agent_config(dir: &Path, grpc: &str, logs: &Path) -> std::path::PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "agent_id = \"wl-agent\"\nhost = \"wl-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://{grpc}\"\n\
             [[probe]]\ntype = \"weblogic\"\ninterval = \"1s\"\n\
             [[probe.server]]\nname = \"ms1\"\nlog_dir = {logs:?}\nquota_bytes = 100000\n",
            state = dir.join("state").display().to_string(),
            logs = logs.display().to_string(),
        ),
    )
    .expect("agent config");
    path
}

#[test]
fn log_space_and_stuck_threads_open_incidents_through_the_shipped_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/default");
    let (_collector, grpc, _http) = collector(&shipped, &dir.path().join("data"));
    let logs = dir.path().join("domain/servers/ms1/logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    let log = logs.join("ms1.log");
    grow_to(&log, 10_000);

    let cfg = agent_config(dir.path(), &grpc, &logs);
    let _agent = Proc::agent(&cfg);
    let tail = Proc::tail_json(&grpc.to_string());

    // About 14 % of the quota now; past 50 % after this. The agent may report it before
    // patrolctl's watch is established, and then the open incident comes in the watch's
    // snapshot instead of as an `opened` event: either shows it opened through the rule.
    grow_to(&log, 60_000);
    let opened = tail.wait_line(Duration::from_secs(30), |l| {
        event(l, "opened", "weblogic_log_high")
            .or_else(|| event(l, "snapshot", "weblogic_log_high"))
    });
    let incident = &opened["incident"];
    assert_eq!(incident["severity"], "P3");
    assert_eq!(incident["host"], "wl-host");
    assert_eq!(incident["labels"]["server"], "ms1");
    assert_eq!(incident["labels"]["basis"], "quota");
    let summary = incident["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("WebLogic server ms1 on wl-host: log space at ")
            && summary.ends_with("% (limit 50%)"),
        "{incident}"
    );

    // A STUCK thread is reported; the next message closes its record.
    append(&log, STUCK);
    append(&log, &info(1));
    let stuck = tail.wait_line(Duration::from_secs(30), |l| {
        event(l, "opened", "weblogic_stuck_threads")
    });
    assert_eq!(stuck["incident"]["severity"], "P2");
    assert_eq!(stuck["incident"]["labels"]["server"], "ms1");
    assert!(
        stuck["incident"]["summary"]
            .as_str()
            .is_some_and(|s| s.contains("1 STUCK thread message(s)")),
        "{stuck}"
    );
    // The gauge is per interval: the next quiet round resolves it.
    let resolved = tail.wait_line(Duration::from_secs(30), |l| {
        event(l, "resolved", "weblogic_stuck_threads")
    });
    assert_eq!(resolved["incident"]["id"], stuck["incident"]["id"]);
}

#[test]
fn agent_once_shows_the_weblogic_metrics_and_leaves_state_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("log dir");
    append(&logs.join("ms1.log"), &info(5));
    let cfg = agent_config(dir.path(), "127.0.0.1:1", &logs);
    let (code, out, err) = run(
        "patrol-agent",
        &["--config", cfg.to_str().expect("utf-8"), "--once"],
    );
    assert_eq!(code, 0, "{err}");
    for line in [
        "weblogic_log_used_percent{basis=\"quota\",host=\"wl-host\",server=\"ms1\"} ",
        "weblogic_log_ok{host=\"wl-host\",server=\"ms1\"} 1",
        "weblogic_stuck_threads{host=\"wl-host\",server=\"ms1\"} 0",
        "weblogic_messages_total{host=\"wl-host\",server=\"ms1\",severity=\"error\"} 0",
        "patrol_probe_up{host=\"wl-host\",probe=\"weblogic\"} 1",
    ] {
        assert!(out.contains(line), "{line} missing:\n{out}");
    }
    assert!(
        out.contains("# HELP weblogic_stuck_threads "),
        "HELP text from the catalog:\n{out}"
    );
    assert!(
        !dir.path().join("state").exists(),
        "--once must not write probe state"
    );
}

#[test]
fn shipped_example_config_is_valid() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/examples/agent-weblogic.toml"
    );
    let (code, out, err) = run("patrol-agent", &["--config", example, "--check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok (2 probes)"), "{out}");
}
