//! The Oracle probe in the real binaries. No Oracle Database can run here and no Oracle client
//! library is installed, so every database is unreachable: these tests check that this is
//! reported as `oracle_up 0` with a log line saying what to do, that it opens the shipped
//! `oracle_down` incident, and that bad password setups are refused before anything runs.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, binary, collector, run};

fn password_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("oracle.password");
    std::fs::write(&path, "Change_me_1\n").expect("write password");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// An agent config with one oracle probe on a port where nothing listens.
fn agent_config(dir: &Path, password: &Path, collector: &str, extra: &str) -> PathBuf {
    let path = dir.join("agent.toml");
    std::fs::write(
        &path,
        format!(
            "agent_id = \"e2e-oracle\"\nhost = \"db-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://{collector}\"\n\
             [[probe]]\ntype = \"oracle\"\ndb = \"ORCL\"\nconnect = \"127.0.0.1:1/ORCLPDB1\"\n\
             user = \"patrol_mon\"\npassword_file = \"{}\"\n{extra}",
            password.display(),
            state = dir.join("agent-state"),
        ),
    )
    .expect("agent config");
    path
}

#[test]
fn agent_once_reports_oracle_down_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = password_file(dir.path(), 0o600);
    let cfg = agent_config(
        dir.path(),
        &pw,
        "127.0.0.1:1",
        "timeout = \"5s\"\nquery_timeout = \"2s\"\n",
    );
    let (code, out, err) = run(
        "patrol-agent",
        &["--config", cfg.to_str().expect("utf-8"), "--once"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .any(|l| l == "oracle_up{db=\"ORCL\",host=\"db-host\"} 0"),
        "{out}"
    );
    // The probe's round itself completed: the failure is the database's, not the agent's.
    assert!(
        out.contains("patrol_probe_up{host=\"db-host\",probe=\"oracle\"} 1"),
        "{out}"
    );
    // One log line naming the cause and the fix (no Instant Client on this machine).
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("oracle_up 0")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("DPI-1047"), "{err}");
    assert!(lines[0].contains("install Oracle Instant Client"), "{err}");
    assert!(lines[0].contains("db=ORCL"), "{err}");
}

#[test]
fn shipped_example_config_runs_once() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/examples/agent-oracle.toml"
    );
    let out = Command::new(binary("patrol-agent"))
        .args(["--config", example, "--once"])
        .env("PATROL_ORACLE_ORCL_PASSWORD", "Change_me_1")
        .env("NO_COLOR", "1")
        .output()
        .expect("run patrol-agent");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("oracle_up{db=\"ORCL\",") && l.ends_with(" 0")),
        "{stdout}"
    );
    // The host probe beside it is unaffected.
    assert!(
        stdout.lines().any(|l| l.starts_with("patrol_probe_up{")
            && l.contains("probe=\"host\"")
            && l.ends_with(" 1")),
        "{stdout}"
    );
}

#[test]
fn world_readable_password_file_stops_the_agent_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = password_file(dir.path(), 0o644);
    let cfg = agent_config(dir.path(), &pw, "127.0.0.1:1", "");
    let (code, out, err) = run(
        "patrol-agent",
        &["--config", cfg.to_str().expect("utf-8"), "--once"],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        err.contains(&format!("chmod 600 {}", pw.display())),
        "{err}"
    );
    assert!(!err.contains("Change_me_1"), "the password leaked: {err}");
}

#[test]
fn inline_password_is_refused_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pw = password_file(dir.path(), 0o600);
    let cfg = agent_config(dir.path(), &pw, "127.0.0.1:1", "password = \"tiger\"\n");
    let (code, _, err) = run(
        "patrol-agent",
        &["--config", cfg.to_str().expect("utf-8"), "--check"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("agent.toml:"), "{err}");
    assert!(err.contains("inline password is not accepted"), "{err}");
    assert!(!err.contains("tiger"), "{err}");
}

#[test]
fn unreachable_database_opens_the_oracle_down_incident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default/oracle.toml"),
        rules.join("oracle.toml"),
    )
    .expect("copy shipped rules");
    let (_collector, grpc, _http) = collector(&rules, &dir.path().join("data"));
    let pw = password_file(dir.path(), 0o600);
    let cfg = agent_config(
        dir.path(),
        &pw,
        &grpc,
        "interval = \"2s\"\ntimeout = \"1s\"\nquery_timeout = \"1s\"\n",
    );
    let _agent = Proc::agent(&cfg);
    let tail = Proc::tail_json(&grpc.to_string());
    let opened = tail.wait_line(Duration::from_secs(60), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        // Opened before the watcher connected, it comes in the snapshot instead.
        let kind_ok = v["kind"] == "opened" || v["kind"] == "snapshot";
        (kind_ok && v["incident"]["rule"] == "oracle_down").then_some(v)
    });
    let incident = &opened["incident"];
    assert_eq!(incident["state"], "open");
    assert_eq!(incident["severity"], "P1");
    assert_eq!(incident["host"], "db-host");
    assert_eq!(incident["labels"]["db"], "ORCL");
    assert!(
        incident["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Oracle ORCL on db-host is unreachable")),
        "{incident}"
    );
}
