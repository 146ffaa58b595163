//! The whole path with the real binaries: `patrol-agent` → `patrol-collector` → rule →
//! incident → `patrolctl tail --json`, on free loopback ports.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector, eventually, http_get, run};

const RULE: &str = "e2e_memory_in_use";

fn write_rule(dir: &std::path::Path, threshold: &str) {
    let text = format!(
        r#"[[rule]]
name     = "{RULE}"
expr     = 'memory_used_percent{{host="e2e-host"}} > {threshold}'
severity = "P3"
summary  = "Memory at {{{{value}}}}% on {{{{host}}}}"
"#
    );
    // Written aside and renamed into place, as editors save, so the watcher never sees half.
    let tmp = dir.join(".e2e.toml.tmp");
    std::fs::write(&tmp, text).expect("write rule");
    std::fs::rename(&tmp, dir.join("e2e.toml")).expect("rename rule");
}

fn json_event(line: &str, kind: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["kind"] == kind && v["incident"]["rule"] == RULE).then_some(v)
}

/// `promtool check metrics` (Debian package `prometheus`) parses the scrape. Its only allowed
/// complaint is the `_ms` unit suffix, which DESIGN.md fixes for Patrol's metric names.
fn promtool_accepts(body: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is missing: run scripts/setup.sh (apt-get install prometheus)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let problems: Vec<_> = report
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !(l.contains("_ms ") && l.contains("abbreviated units")))
        .collect();
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)) && problems.is_empty(),
        "promtool: {:?}\n{report}",
        out.status
    );
}

#[test]
fn breach_opens_an_incident_and_clearing_resolves_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    // Every running host uses some memory: this rule must fire here.
    write_rule(&rules, "0");
    let (_collector, grpc, http) = collector(&rules, &dir.path().join("data"));

    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "agent_id = \"e2e-agent\"\nhost = \"e2e-host\"\nstate_dir = {state:?}\n[labels]\nsite = \"lab\"\n\
             [collector]\naddress = \"http://{grpc}\"\n[[probe]]\ntype = \"host\"\ninterval = \"1s\"\n",
            state = dir.path().join("agent-state"),
        ),
    )
    .expect("agent config");
    let _agent = Proc::agent(&agent_cfg);

    let url = format!("http://{grpc}");
    let tail = Proc::tail_json(&grpc.to_string());
    let opened = tail.wait_line(Duration::from_secs(30), |l| json_event(l, "opened"));
    let incident = &opened["incident"];
    assert_eq!(incident["state"], "open");
    assert_eq!(incident["severity"], "P3");
    assert_eq!(incident["host"], "e2e-host");
    assert_eq!(incident["labels"]["site"], "lab");
    assert!(
        incident["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("Memory at ") && s.ends_with("% on e2e-host")),
        "{incident}"
    );
    let id = incident["id"].as_u64().expect("incident id");

    // The samples behind it are on /metrics with the agent's labels.
    let (status, body) = http_get(&http, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.lines()
            .any(|l| l.starts_with("memory_used_percent{host=\"e2e-host\",site=\"lab\"} ")),
        "{body}"
    );
    assert!(body.contains("patrol_agents_connected 1"), "{body}");
    promtool_accepts(&body);

    // A second watcher that connects now sees the incident in its snapshot.
    let (code, out, err) = run(
        "patrolctl",
        &["--collector", &url, "incidents", "list", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("list is JSON");
    assert!(
        list.as_array()
            .is_some_and(|a| a.iter().any(|i| i["id"] == id)),
        "{out}"
    );

    // Raising the threshold out of reach clears the condition: the reload re-evaluates the
    // latest value and the incident resolves.
    write_rule(&rules, "1000");
    let resolved = tail.wait_line(Duration::from_secs(30), |l| json_event(l, "resolved"));
    assert_eq!(resolved["incident"]["id"], id);
    assert_eq!(resolved["incident"]["state"], "resolved");
    assert_eq!(resolved["incident"]["resolved_by"], "rule");
}

#[test]
fn restart_keeps_open_incidents_without_duplicates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    write_rule(&rules, "0");
    let data = dir.path().join("data");
    let (mut first, grpc, _) = collector(&rules, &data);
    let agent_cfg = dir.path().join("agent.toml");
    let write_agent = |grpc: &str| {
        std::fs::write(
            &agent_cfg,
            format!(
                "agent_id = \"e2e-agent\"\nhost = \"e2e-host\"\nstate_dir = {state:?}\n\
                 [collector]\naddress = \"http://{grpc}\"\n\
                 backoff_max = \"200ms\"\n[[probe]]\ntype = \"host\"\ninterval = \"1s\"\n",
                // Each agent its own state: the first still runs (its spool locked) when the
                // second starts.
                state = dir
                    .path()
                    .join(format!("agent-state-{}", grpc.replace(':', "-"))),
            ),
        )
        .expect("agent config");
    };
    write_agent(&grpc);
    let _agent = Proc::agent(&agent_cfg);
    let tail = Proc::tail_json(&grpc.to_string());
    let opened = tail.wait_line(Duration::from_secs(30), |l| json_event(l, "opened"));
    let id = opened["incident"]["id"].clone();
    drop(tail);

    // A crash, not a clean stop.
    first.kill();
    let (_second, grpc2, http2) = collector(&rules, &data);
    let url2 = format!("http://{grpc2}");
    write_agent(&grpc2);
    let _agent2 = Proc::agent(&agent_cfg);
    let tail = Proc::spawn("patrolctl", &["--collector", &url2, "tail", "--json"]);
    // The open incident is still open after the restart...
    let snap = tail.wait_line(Duration::from_secs(30), |l| json_event(l, "snapshot"));
    assert_eq!(snap["incident"]["id"], id);
    // ...and fresh samples that still breach do not open a second one. Wait until the
    // restarted collector has evaluated the rule on new samples (its own counter says so).
    let evaluated = |body: &str| {
        body.lines()
            .find_map(|l| l.strip_prefix("patrol_rule_evaluations_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let mut seen = 0.0;
    eventually(Duration::from_secs(30), || {
        seen = evaluated(&http_get(&http2, "/metrics").1);
        seen >= 2.0
    });
    assert!(
        seen >= 2.0,
        "the restarted collector never evaluated the rule"
    );
    let (code, out, err) = run(
        "patrolctl",
        &["--collector", &url2, "incidents", "list", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("JSON");
    let mine: Vec<_> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|i| i["rule"] == RULE)
        .collect();
    assert_eq!(mine.len(), 1, "{out}");
    assert_eq!(mine[0]["id"], id);
}

#[test]
fn agent_once_prints_one_round_in_the_text_format() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/examples/agent-host.toml"
    );
    let (code, out, err) = run("patrol-agent", &["--config", example, "--once"]);
    assert_eq!(code, 0, "{err}");
    let host = out
        .lines()
        .find_map(|l| l.strip_prefix("memory_used_percent{host=\""))
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no memory_used_percent line:\n{out}"));
    assert!(!host.is_empty());
    for metric in [
        "cpu_usage_percent",
        "disk_used_percent",
        "uptime_seconds",
        "patrol_probe_up",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(metric)),
            "{metric} missing:\n{out}"
        );
    }
    assert!(out.contains("patrol_probe_up{host=\""), "{out}");
    assert!(
        out.contains("probe=\"host\"} 1\n"),
        "the probe round succeeded:\n{out}"
    );
    promtool_accepts(&out);
}

#[test]
fn bad_agent_config_is_refused_with_its_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("agent.toml");
    std::fs::write(
        &cfg,
        "[collector]\naddress = \"http://127.0.0.1:1\"\nretries = 3\n",
    )
    .expect("write");
    let (code, _, err) = run(
        "patrol-agent",
        &["--config", cfg.to_str().expect("utf-8"), "--check"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("agent.toml:3:1: unknown field `retries`"),
        "{err}"
    );
}
