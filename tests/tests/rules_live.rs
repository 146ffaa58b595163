//! Rules under a running collector: a rule file edited while the real `patrol-collector` runs
//! (threshold lowered: the incident opens; file broken: the old rules keep running and the error
//! is logged at file:line:column; fixed: picked up) with no restart and no duplicate incident;
//! and a restart in the middle of a window that, with the windows refilled from history,
//! neither opens nor resolves anything by itself.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use std::time::Duration;

use patrol_collector::server::Running;

use patrol_proto::v1;
use serde_json::Value;
use support::daemon::Daemon;
use support::inproc;
use support::procs::{Proc, patrolctl_json, run};
use support::wire::{self, ScriptedAgent};

const MIN: i64 = 60_000;

/// Writes aside and renames into place, as editors save.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

/// `(metric, labels, value, timestamp_ms)`; the agent adds `host`.
type WireSample<'a> = (&'a str, &'a [(&'a str, &'a str)], f64, i64);

/// An agent speaking the wire protocol directly (`support::wire`), so the test chooses every
/// value and timestamp; a batch counts as sent once the collector acknowledged it (applied,
/// rules evaluated, incident changes durable).
struct WireAgent {
    agent: ScriptedAgent,
    next_seq: u64,
    defined: BTreeMap<String, u32>,
}

impl WireAgent {
    async fn connect(addr: &str, host: &str) -> WireAgent {
        let hello = v1::Hello {
            host: host.into(),
            ..wire::hello(&format!("rules-live-{host}"), 1)
        };
        let agent = ScriptedAgent::connect(addr, hello)
            .await
            .expect("connect to the collector");
        WireAgent {
            next_seq: agent.welcome_seq + 1,
            agent,
            defined: BTreeMap::new(),
        }
    }

    /// Sends one batch of samples and waits for its ack.
    async fn send(&mut self, samples: &[WireSample<'_>]) {
        let mut series = Vec::new();
        let mut points = Vec::new();
        for (metric, labels, value, ts) in samples {
            let key = format!("{metric}{labels:?}");
            let n = self.defined.len() as u32;
            let id = *self.defined.entry(key).or_insert_with(|| {
                let mut sorted: Vec<_> = labels.to_vec();
                sorted.sort();
                series.push(wire::def(n, metric, &sorted));
                n
            });
            points.push(wire::point(id, *value, *ts));
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.agent.send(seq, series, points).await;
        while self
            .agent
            .next_ack(Duration::from_secs(20))
            .await
            .expect("the collector acknowledges")
            < seq
        {}
    }
}

fn tablespace_rule(threshold: &str, extra_override: &str) -> String {
    format!(
        r#"# tablespaces of the live-edit test
[[rule]]
name     = "live_tablespace_high"
expr     = 'oracle_tablespace_used_percent > {threshold}'
severity = "P2"
summary  = "{{{{tablespace}}}} at {{{{value}}}}% (limit {{{{threshold}}}}%)"
overrides = [{{ match = '{{tablespace="UNDOTBS1"}}', threshold = 99 }}{extra_override}]
"#
    )
}

fn event_for(line: &str, kind: &str, tablespace: &str) -> Option<Value> {
    let v: Value = serde_json::from_str(line).ok()?;
    (v["kind"] == kind
        && v["incident"]["rule"] == "live_tablespace_high"
        && v["incident"]["labels"]["tablespace"] == tablespace)
        .then_some(v)
}

/// The incidents of the test's rule, any state.
fn incidents(url: &str) -> Vec<Value> {
    let list = patrolctl_json(
        url,
        &[
            "incidents",
            "list",
            "--json",
            "--state",
            "open",
            "--state",
            "resolved",
        ],
    );
    list.as_array()
        .expect("an array")
        .iter()
        .filter(|i| i["rule"] == "live_tablespace_high")
        .cloned()
        .collect()
}

fn rule_states(url: &str) -> (u64, u64, u64) {
    let rules = patrolctl_json(url, &["rules", "list", "--json"]);
    let r = rules
        .as_array()
        .and_then(|a| a.iter().find(|r| r["name"] == "live_tablespace_high"))
        .cloned()
        .unwrap_or(Value::Null);
    let n = |k: &str| r[k].as_u64().unwrap_or(u64::MAX);
    (n("inactive"), n("pending"), n("firing"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_edited_under_a_running_collector_is_picked_up_without_restart_or_duplicate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let file = rules.join("tablespace.toml");
    save(&file, &tablespace_rule("95", ""));
    let mut collector = Daemon::spawn(
        "patrol-collector",
        &[
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().expect("utf-8"),
            "--data",
            dir.path().join("data").to_str().expect("utf-8"),
        ],
        "info",
    );
    let grpc = collector.wait_line(Duration::from_secs(30), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|p| p.strip_prefix("grpc="))
            .map(str::to_owned)
    });
    let pid = collector.pid();
    let url = format!("http://{grpc}");
    let tail = Proc::tail_json(&grpc);
    let mut agent = WireAgent::connect(&grpc, "db1").await;
    let now = patrol_proto::model::now_ms();
    fn ts(t: &str) -> [(&str, &str); 2] {
        [("db", "ORCL"), ("tablespace", t)]
    }
    agent
        .send(&[
            ("oracle_tablespace_used_percent", &ts("USERS"), 93.0, now),
            ("oracle_tablespace_used_percent", &ts("UNDOTBS1"), 98.0, now),
        ])
        .await;
    // Evaluated (the batch is acknowledged) and below 95: nothing open.
    assert_eq!(rule_states(&url), (2, 0, 0));
    assert!(incidents(&url).is_empty());

    // 1. Threshold lowered to 90: USERS (93) opens on the reload; UNDOTBS1 (98) stays under
    // its override of 99.
    save(&file, &tablespace_rule("90", ""));
    let opened = tail.wait_line(Duration::from_secs(30), |l| event_for(l, "opened", "USERS"));
    let users_id = opened["incident"]["id"].as_u64().expect("id");
    assert_eq!(opened["incident"]["summary"], "USERS at 93% (limit 90%)");
    let shown = patrolctl_json(
        &url,
        &["incidents", "show", &users_id.to_string(), "--json"],
    );
    assert_eq!(shown["journal"][0]["kind"], "opened");
    assert_eq!(shown["journal"][0]["detail"]["threshold"], "90 (rule)");
    assert_eq!(rule_states(&url), (1, 0, 1));

    // 2. The file broken: the error is logged at file:line:column — the same line
    // `patrolctl rules check` prints — and the previous rules keep running.
    let broken = tablespace_rule("90", "").replace("> 90", ">> 90");
    save(&file, &broken);
    let (code, _, check) = run(
        "patrolctl",
        &["rules", "check", file.to_str().expect("utf-8")],
    );
    assert_eq!(code, 1, "{check}");
    let expected = check
        .lines()
        .find(|l| !l.contains("warning:"))
        .expect("an error line")
        .to_owned();
    assert!(
        expected.starts_with(&format!("{}:4:", file.display())),
        "{expected}"
    );
    collector.wait_line(Duration::from_secs(30), |l| {
        l.contains(&expected).then_some(())
    });
    collector.wait_line(Duration::from_secs(10), |l| {
        l.contains("keeps running on the last good rules")
            .then_some(())
    });
    agent
        .send(&[
            (
                "oracle_tablespace_used_percent",
                &ts("USERS"),
                94.0,
                now + 1_000,
            ),
            (
                "oracle_tablespace_used_percent",
                &ts("TEMP"),
                92.0,
                now + 1_000,
            ),
        ])
        .await;
    // TEMP (92) opens under the last good rules (> 90); USERS, still above, is not opened
    // again.
    let temp = tail.wait_line(Duration::from_secs(30), |l| event_for(l, "opened", "TEMP"));
    let temp_id = temp["incident"]["id"].as_u64().expect("id");
    assert_eq!(rule_states(&url), (1, 0, 2));

    // 3. Fixed, with an override for TEMP at 95: picked up, TEMP (92) resolves, USERS stays
    // the one incident it was.
    save(
        &file,
        &tablespace_rule(
            "90",
            r#", { match = '{tablespace="TEMP"}', threshold = 95 }"#,
        ),
    );
    let resolved = tail.wait_line(Duration::from_secs(30), |l| {
        event_for(l, "resolved", "TEMP")
    });
    assert_eq!(resolved["incident"]["id"].as_u64(), Some(temp_id));
    assert_eq!(resolved["incident"]["resolved_by"], "rule");
    assert_eq!(rule_states(&url), (2, 0, 1));
    let all = incidents(&url);
    let users: Vec<_> = all
        .iter()
        .filter(|i| i["labels"]["tablespace"] == "USERS")
        .collect();
    assert_eq!(users.len(), 1, "{all:#?}");
    assert_eq!(users[0]["id"].as_u64(), Some(users_id));
    assert_eq!(users[0]["state"], "open");
    assert!(
        !all.iter().any(|i| i["labels"]["tablespace"] == "UNDOTBS1"),
        "{all:#?}"
    );
    // 4. A rule that loads but reads a metric no probe emits: the collector logs the warning
    // `patrolctl rules check` prints, at the same file:line:column, and loads the rule.
    let odd = rules.join("queue.toml");
    save(
        &odd,
        "[[rule]]\nname = 'queue_deep'\nexpr = 'app_queue_depth > 100'\nseverity = 'P3'\nsummary = 'queue at {{value}}'\n",
    );
    let (code, _, check) = run(
        "patrolctl",
        &["rules", "check", odd.to_str().expect("utf-8")],
    );
    assert_eq!(code, 0, "{check}");
    let warning = check
        .lines()
        .find(|l| l.contains("warning:"))
        .expect("a warning line")
        .to_owned();
    collector.wait_line(Duration::from_secs(30), |l| {
        l.contains(&warning).then_some(())
    });
    collector.wait_line(Duration::from_secs(10), |l| {
        l.contains("rules loaded").then_some(())
    });
    // No restart: the same process all along.
    assert!(collector.running());
    assert_eq!(collector.pid(), pid);
}

const WINDOW_RULE: &str = r#"[[rule]]
name     = "cpu_busy_10m"
expr     = 'avg_over_time(cpu_usage_percent[10m]) > 90'
severity = "P2"
summary  = "CPU at {{value}}% over 10m on {{host}}"
"#;

/// A collector on `dir`, with its own sample history on or off.
async fn start(dir: &Path, history: bool) -> Running {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    save(&rules.join("cpu.toml"), WINDOW_RULE);
    inproc::collector(dir, |s| s.history.enabled = history).await
}

/// The window rule's firing count, and the hosts of its open incidents.
fn window_state(c: &Running) -> (u64, Vec<String>) {
    let (rules, counts) = c.core.rules_with_states();
    let i = rules
        .rules()
        .iter()
        .position(|r| r.name == "cpu_busy_10m")
        .expect("the rule is loaded");
    let open = c
        .core
        .store
        .open_incidents()
        .expect("open incidents")
        .into_iter()
        .filter(|inc| inc.rule == "cpu_busy_10m")
        .map(|inc| inc.labels.get("host").unwrap_or_default().to_owned())
        .collect();
    (counts[i].firing, open)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_window_neither_opens_nor_resolves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = patrol_proto::model::now_ms() - 9 * MIN;

    // Ten minutes of samples, a minute apart: host a busy (95), host b not (80). Each
    // acknowledged batch is durable in the collector's own history.
    let first = start(dir.path(), true).await;
    let grpc = first.grpc_addr.to_string();
    let mut a = WireAgent::connect(&grpc, "a").await;
    let mut b = WireAgent::connect(&grpc, "b").await;
    for k in 0..10 {
        let ts = t0 + k * MIN;
        a.send(&[("cpu_usage_percent", &[], 95.0, ts)]).await;
        b.send(&[("cpu_usage_percent", &[], 80.0, ts)]).await;
    }
    assert_eq!(window_state(&first), (1, vec!["a".to_owned()]));
    drop((a, b));
    first.stop().await;

    // Restarted: the windows are refilled from the history. a's still holds nine 95s, so a 60
    // keeps the mean at 91.5 (no resolve); b's holds nine 80s, so a 100 makes it 82 (no
    // incident).
    let second = start(dir.path(), true).await;
    let grpc = second.grpc_addr.to_string();
    let t1 = t0 + 10 * MIN;
    let mut a = WireAgent::connect(&grpc, "a").await;
    let mut b = WireAgent::connect(&grpc, "b").await;
    a.send(&[("cpu_usage_percent", &[], 60.0, t1)]).await;
    b.send(&[("cpu_usage_percent", &[], 100.0, t1)]).await;
    let evaluations = second.core.telemetry.rule_evaluations.get();
    assert!(evaluations >= 2, "both samples evaluated: {evaluations}");
    assert_eq!(window_state(&second), (1, vec!["a".to_owned()]));
    drop((a, b));
    second.stop().await;

    // The control: restarted with the history off, the same kind of samples decide on a window
    // of one sample — a resolves and b opens. This is what the refill prevents.
    let third = start(dir.path(), false).await;
    let grpc = third.grpc_addr.to_string();
    let t2 = t1 + MIN;
    let mut a = WireAgent::connect(&grpc, "a").await;
    let mut b = WireAgent::connect(&grpc, "b").await;
    a.send(&[("cpu_usage_percent", &[], 60.0, t2)]).await;
    b.send(&[("cpu_usage_percent", &[], 100.0, t2)]).await;
    assert_eq!(window_state(&third), (1, vec!["b".to_owned()]));
    third.stop().await;
}
