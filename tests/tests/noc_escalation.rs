//! NOC clocks with the real binaries: a breach opens an incident; with a short respond target
//! and nobody acknowledging, it is escalated (seen on `patrolctl tail --json`); the collector is
//! killed between two steps and the step that fell due meanwhile fires exactly once after the
//! restart; acknowledging stops the next unacknowledged step; resolving records which
//! deadlines were met.

mod support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::procs::{Proc, collector_with_site, free_port, patrolctl_json};

const RULE: &str = "noc_memory_in_use";

const SITE: &str = r#"
[[level]]
name = "P2"
meaning = "test level with a 3 s respond target"
respond = "3s"
resolve = "1h"
escalation = "noc"

[target.duty_manager]
members = ["Li Na"]
channels = []

[[escalation.noc.step]]
name = "not_acknowledged"
when = "unacknowledged"
after = "3s"
notify = ["duty_manager"]

[[escalation.noc.step]]
name = "still_not_acknowledged"
when = "unacknowledged"
after = "12s"
notify = ["duty_manager"]

[[escalation.noc.step]]
name = "third_call"
when = "unacknowledged"
after = "20s"
notify = ["duty_manager"]

[[escalation.noc.step]]
name = "progress"
when = "unresolved"
after = "24s"
every = "4s"
notify = ["duty_manager"]
"#;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn collector(dir: &Path, port: u16) -> Proc {
    collector_with_site(dir, port).0
}

/// An event line of `tail --json` about our rule's incident.
fn event(line: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["incident"]["rule"] == RULE).then_some(v)
}

fn is(v: &Value, kind: &str, step: Option<&str>) -> bool {
    v["kind"] == kind && step.is_none_or(|s| v["detail"]["step"] == s)
}

/// The journal entries of incident `id` whose kind is `kind` (and step `step`).
fn journal(url: &str, id: &str, kind: &str, step: Option<&str>) -> usize {
    let shown = patrolctl_json(url, &["incidents", "show", id, "--json"]);
    let entries = shown["journal"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty(), "no journal in {shown}");
    entries.iter().filter(|e| is(e, kind, step)).count()
}

#[test]
fn unacknowledged_incident_escalates_once_per_step_across_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(dir.path().join("site.toml"), SITE).expect("site");
    // Every running host uses some memory: this fires as soon as the agent reports.
    std::fs::write(
        rules.join("noc.toml"),
        format!(
            "[[rule]]\nname = \"{RULE}\"\nexpr = 'memory_used_percent > 0'\nseverity = \"P2\"\n\
             summary = \"memory in use on {{{{host}}}}\"\n"
        ),
    )
    .expect("rule");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut first = collector(dir.path(), port);
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "agent_id = \"noc-agent\"\nhost = \"noc-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"{url}\"\n\
             [[probe]]\ntype = \"host\"\ninterval = \"1s\"\n",
            state = dir.path().join("agent-state"),
        ),
    )
    .expect("agent config");
    let agent = Proc::spawn(
        "patrol-agent",
        &["--config", agent_cfg.to_str().expect("utf-8")],
    );

    // Opened, then nobody acknowledges: the respond deadline is breached and the first step
    // fires, both live on the stream.
    let tail = Proc::spawn("patrolctl", &["--collector", &url, "tail", "--json"]);
    let opened = tail.wait_line(Duration::from_secs(30), |l| {
        event(l).filter(|v| is(v, "opened", None))
    });
    let id = opened["incident"]["id"].as_u64().expect("id").to_string();
    let opened_ms = opened["incident"]["opened_ms"].as_i64().expect("opened_ms");
    // The incident lives on without the agent (no data is not a clear condition).
    drop(agent);
    let breached = tail.wait_line(Duration::from_secs(15), |l| {
        event(l).filter(|v| is(v, "breached", None))
    });
    assert_eq!(breached["detail"]["clock"], "respond");
    let escalated = tail.wait_line(Duration::from_secs(15), |l| {
        event(l).filter(|v| is(v, "escalated", None))
    });
    assert_eq!(escalated["detail"]["step"], "not_acknowledged");
    assert_eq!(escalated["detail"]["targets"][0]["members"][0], "Li Na");
    assert_eq!(escalated["actor"], "escalation");
    drop(tail);

    // Killed before the second step (due 12 s after opening) and kept down past it. The real
    // binary runs on the wall clock (the schedule itself is stepped through a test clock in
    // store::escalate_tests), so the only way past the due time is to let it pass.
    first.kill();
    let down_until = opened_ms + 13_000;
    let left = u64::try_from(down_until - now_ms()).unwrap_or(0);
    std::thread::sleep(Duration::from_millis(left));
    let mut second = collector(dir.path(), port);
    // The step that fell due while down fires once, on the clock runner's first round.
    let fired = support::procs::eventually(Duration::from_secs(10), || {
        journal(&url, &id, "escalated", Some("still_not_acknowledged")) == 1
    });
    assert!(fired, "the missed step fires after the restart");
    // A further crash and restart does not fire it again.
    second.kill();
    let _third = collector(dir.path(), port);
    let tail = Proc::spawn("patrolctl", &["--collector", &url, "tail", "--json"]);
    let acked = patrolctl_json(&url, &["incidents", "ack", &id, "--by", "Li Na", "--json"]);
    assert_eq!(acked["state"], "acknowledged", "{acked}");

    // Acknowledged: the unacknowledged step due at 20 s never comes; the reminder due at 24 s
    // (a step about being unresolved) does, which proves the clocks ran past 20 s.
    let reminder = tail.wait_line(Duration::from_secs(40), |l| {
        let v = event(l)?;
        assert!(
            !is(&v, "escalated", Some("third_call")),
            "a step fired after the acknowledgement: {v}"
        );
        is(&v, "reminded", Some("progress")).then_some(v)
    });
    assert_eq!(reminder["detail"]["occurrence"], 0);
    assert_eq!(journal(&url, &id, "escalated", Some("not_acknowledged")), 1);
    assert_eq!(
        journal(&url, &id, "escalated", Some("still_not_acknowledged")),
        1
    );
    assert_eq!(journal(&url, &id, "escalated", Some("third_call")), 0);
    assert_eq!(journal(&url, &id, "breached", None), 1);

    // Resolving records the deadlines: respond missed (acknowledged after 3 s), resolve met.
    patrolctl_json(
        &url,
        &[
            "incidents",
            "resolve",
            &id,
            "--by",
            "Li Na",
            "--note",
            "freed memory",
            "--json",
        ],
    );
    let resolved = tail.wait_line(Duration::from_secs(15), |l| {
        event(l).filter(|v| is(v, "resolved", None))
    });
    assert_eq!(resolved["detail"]["respond"]["met"], false, "{resolved}");
    assert_eq!(resolved["detail"]["resolve"]["met"], true, "{resolved}");
    assert_eq!(resolved["note"], "freed memory");
}
