//! Notifications through the real collector to a real mosquitto: every incident change
//! reaches a subscriber with the documented topic and payload; with mosquitto stopped for a
//! while they wait in the outbox and all arrive afterwards, in order per incident, none twice;
//! a collector killed while a message waits for its PUBACK delivers it after the restart, and
//! no confirmed event is sent again.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector_with_site, eventually, free_port, http_get, patrolctl_json};

fn tool(path: &str) -> &str {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: run scripts/setup.sh (apt-get install mosquitto mosquitto-clients)"
    );
    path
}

/// mosquitto with persistence, so a stopped and restarted broker keeps the subscriber's
/// session and its queued QoS 1 messages, as a production broker would.
struct Broker {
    child: Child,
    conf: std::path::PathBuf,
    port: u16,
}

impl Broker {
    fn start(dir: &Path, port: u16) -> Broker {
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "user root\npersistence true\npersistence_location {}/\n\
                 listener {port} 127.0.0.1\nallow_anonymous true\n",
                dir.display()
            ),
        )
        .expect("mosquitto.conf");
        let mut b = Broker {
            child: Command::new("true").spawn().expect("placeholder"),
            conf,
            port,
        };
        b.restart();
        b
    }

    fn restart(&mut self) {
        let _ = self.child.wait();
        self.child = Command::new(tool("/usr/sbin/mosquitto"))
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let port = self.port;
        assert!(
            eventually(Duration::from_secs(20), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            }),
            "mosquitto listens on {port}"
        );
    }

    /// SIGTERM: mosquitto saves its sessions and exits.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A dashboard: `mosquitto_sub` with a persistent session (QoS 1), printing topic and payload.
/// Returns once the broker confirmed the subscription (the SUBACK in its debug output, which
/// `received` skips: debug lines have no tab).
fn subscriber(port: u16) -> Proc {
    // Line-buffered (coreutils' stdbuf), or the SUBACK line would wait in the pipe buffer.
    let mut cmd = Command::new(tool("/usr/bin/stdbuf"));
    cmd.args(["-oL", tool("/usr/bin/mosquitto_sub"), "-d"])
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-c"])
        .args(["-i", "patrol-e2e-dashboard", "-t", "patrol/lab/incidents/#"])
        .args(["-F", "%t\t%p"]);
    let sub = Proc::spawn_command("mosquitto_sub", cmd);
    sub.wait_line(Duration::from_secs(20), |l| {
        l.contains("SUBACK").then_some(())
    });
    sub
}

/// Whether bytes sit unread in the receive queue of a connection to the broker's port: with
/// the broker frozen, that is the collector's publish, sent and waiting for its PUBACK.
fn publish_in_flight(port: u16) -> bool {
    let out = Command::new(tool("/usr/bin/ss"))
        .args([
            "-Htn",
            "state",
            "established",
            "sport",
            "=",
            &format!(":{port}"),
        ])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout).lines().any(|l| {
        l.split_whitespace()
            .next()
            .and_then(|q| q.parse::<u64>().ok())
            .is_some_and(|q| q > 0)
    })
}

/// (topic, payload) of one received line.
fn received(line: &str) -> Option<(String, Value)> {
    let (topic, payload) = line.split_once('\t')?;
    Some((topic.to_owned(), serde_json::from_str(payload).ok()?))
}

const SITE: &str = r#"
[notify]
site = "lab"

[channel.dash]
kind = "mqtt"
host = "127.0.0.1"
port = PORT
timeout = "2s"
retry = { initial = "200ms", max = "1s", factor = 2.0, jitter = 0.1 }

[[route]]
name = "dashboards"
channels = ["dash"]
"#;

fn create(url: &str, host: &str) -> String {
    let i = patrolctl_json(
        url,
        &[
            "incidents",
            "create",
            "--level",
            "P2",
            "--host",
            host,
            "--summary",
            "link down, reported by phone",
            "--source",
            "phone",
            "--by",
            "ann",
            "--json",
        ],
    );
    i["id"].as_u64().expect("id").to_string()
}

fn backlog(http: &str) -> Option<u64> {
    let (_, body) = http_get(http, "/metrics");
    body.lines()
        .find_map(|l| l.strip_prefix("patrol_notify_backlog{channel=\"dash\"} "))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn changes_reach_mosquitto_in_order_once_across_a_broker_outage_and_a_collector_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    let mq_port = free_port();
    let mut broker = Broker::start(dir.path(), mq_port);
    let sub = subscriber(mq_port);
    std::fs::write(
        dir.path().join("site.toml"),
        SITE.replace("PORT", &mq_port.to_string()),
    )
    .expect("site");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (mut collector, http) = collector_with_site(dir.path(), port);

    // Every event id seen, per incident in arrival order.
    let mut seen: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    let take = |sub: &Proc, want: usize, seen: &mut BTreeMap<String, Vec<(u64, String)>>| {
        for _ in 0..want {
            let (topic, p) = sub.wait_line(Duration::from_secs(60), received);
            assert_eq!(p["schema"], "patrol.notify.v1", "{p}");
            assert_eq!(p["site"], "lab");
            let level = p["level"].as_str().expect("level");
            let host = p["host"].as_str().expect("host");
            assert_eq!(topic, format!("patrol/lab/incidents/{level}/{host}"));
            seen.entry(p["incident_id"].to_string()).or_default().push((
                p["event_id"].as_u64().expect("event id"),
                p["kind"].as_str().expect("kind").to_owned(),
            ));
        }
    };

    // 1. Opened, live.
    let a = create(&url, "h1");
    take(&sub, 1, &mut seen);
    assert_eq!(seen[&a][0].1, "opened");

    // 2. The broker is down while the NOC works: the changes wait in the outbox.
    broker.stop();
    patrolctl_json(&url, &["incidents", "ack", &a, "--by", "ann", "--json"]);
    let b = create(&url, "h2");
    patrolctl_json(
        &url,
        &[
            "incidents",
            "resolve",
            &a,
            "--by",
            "ann",
            "--note",
            "fixed",
            "--json",
        ],
    );
    patrolctl_json(&url, &["incidents", "ack", &b, "--by", "bob", "--json"]);
    assert!(
        eventually(Duration::from_secs(20), || backlog(&http)
            .is_some_and(|n| n >= 4)),
        "the backlog shows the waiting changes: {:?}",
        backlog(&http)
    );
    // The NOC sees why: the channel is failing and what waits.
    let mut status = Value::Null;
    let failing = eventually(Duration::from_secs(20), || {
        status = patrolctl_json(&url, &["channels", "status", "--json"]);
        status[0]["last_error"].is_string()
    });
    assert!(failing, "the failure shows: {status}");
    let dash = &status[0];
    assert_eq!(
        (dash["name"].as_str(), dash["kind"].as_str()),
        (Some("dash"), Some("mqtt"))
    );
    assert!(dash["running"].as_bool().unwrap_or(false), "{status}");
    assert!(dash["pending"].as_u64().unwrap_or(0) >= 4, "{status}");
    broker.restart();
    take(&sub, 4, &mut seen);
    assert!(
        eventually(Duration::from_secs(30), || backlog(&http) == Some(0)),
        "the backlog drains"
    );
    let status = patrolctl_json(&url, &["channels", "status", "--json"]);
    assert_eq!(status[0]["pending"], 0, "{status}");
    assert_eq!(status[0]["sent"], 5, "{status}");
    assert!(status[0]["last_error"].is_null(), "{status}");

    // 3. A message waiting for its PUBACK when the collector is killed: the broker is frozen,
    //    so the publish cannot be confirmed.
    broker.signal("-STOP");
    let c = create(&url, "h3");
    assert!(
        eventually(Duration::from_secs(20), || publish_in_flight(mq_port)),
        "the collector's publish reaches the frozen broker"
    );
    collector.kill();
    broker.signal("-CONT");
    let (_collector, _http) = collector_with_site(dir.path(), port);
    // Its opened event arrives (once, or twice: it was never confirmed, and every copy carries
    // the same event id for the dashboard to drop).
    take(&sub, 1, &mut seen);
    // Anything sent again would arrive now; give it the time of several retries.
    let extra = sub_drain(&sub, Duration::from_secs(3));
    for (_, p) in &extra {
        seen.entry(p["incident_id"].to_string()).or_default().push((
            p["event_id"].as_u64().unwrap_or(0),
            p["kind"].as_str().unwrap_or("").to_owned(),
        ));
    }

    let kinds = |id: &str| -> Vec<String> { seen[id].iter().map(|(_, k)| k.clone()).collect() };
    assert_eq!(
        kinds(&a),
        ["opened", "acknowledged", "resolved"],
        "{seen:?}"
    );
    assert_eq!(kinds(&b), ["opened", "acknowledged"], "{seen:?}");
    assert!(
        kinds(&c).iter().all(|k| k == "opened") && !kinds(&c).is_empty(),
        "{seen:?}"
    );
    // In order per incident, and no confirmed event twice.
    for id in [&a, &b] {
        let ids: Vec<u64> = seen[id].iter().map(|(e, _)| *e).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "{id}: {ids:?}");
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), ids.len());
    }
    let c_ids: BTreeSet<u64> = seen[&c].iter().map(|(e, _)| *e).collect();
    assert_eq!(c_ids.len(), 1, "one event for c, possibly resent: {seen:?}");
}

/// Lines that arrive within `quiet`.
fn sub_drain(sub: &Proc, quiet: Duration) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    while let Some(line) = sub.try_line(quiet) {
        out.extend(received(&line));
    }
    out
}

/// The issue's own case: a firing rule's open and resolve events reach `mosquitto_sub` with
/// the documented topic and payload, and the retained open-state topic shows the incident to a
/// dashboard that connects late, until it resolves.
#[test]
fn a_firing_rule_s_open_and_resolve_reach_mosquitto_sub() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let write_rule = |threshold: &str| {
        let tmp = rules.join(".mem.toml.tmp");
        std::fs::write(
            &tmp,
            format!(
                "[[rule]]\nname = \"mqtt_memory_in_use\"\nexpr = 'memory_used_percent > {threshold}'\n\
                 severity = \"P3\"\nsummary = \"memory at {{{{value}}}}% on {{{{host}}}}\"\n"
            ),
        )
        .expect("rule");
        std::fs::rename(&tmp, rules.join("mem.toml")).expect("rename");
    };
    // Every running host uses some memory: fires as soon as the agent reports.
    write_rule("0");
    let mq_port = free_port();
    let _broker = Broker::start(dir.path(), mq_port);
    let sub = subscriber(mq_port);
    std::fs::write(
        dir.path().join("site.toml"),
        SITE.replace("PORT", &mq_port.to_string()),
    )
    .expect("site");
    let port = free_port();
    let (_collector, _http) = collector_with_site(dir.path(), port);
    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "agent_id = \"mqtt-agent\"\nhost = \"mqtt-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://127.0.0.1:{port}\"\n\
             [[probe]]\ntype = \"host\"\ninterval = \"1s\"\n",
            state = dir.path().join("agent-state"),
        ),
    )
    .expect("agent config");
    let _agent = Proc::agent(&agent_cfg);

    let (topic, opened) = sub.wait_line(Duration::from_secs(60), received);
    assert_eq!(topic, "patrol/lab/incidents/P3/mqtt-host");
    assert_eq!(opened["kind"], "opened");
    assert_eq!(opened["rule"], "mqtt_memory_in_use");
    assert_eq!(opened["state"], "open");
    assert_eq!(opened["labels"]["host"], "mqtt-host");
    let id = opened["incident_id"].as_u64().expect("incident id");

    // A dashboard connecting now sees what is open from the retained topic.
    let open_topic = format!("patrol/lab/open/{id}");
    let late = retained(mq_port, &open_topic);
    assert_eq!(late.map(|p| p["incident_id"].clone()), Some(id.into()));

    // The condition clears: the resolve arrives, after the open, and the open state is gone.
    write_rule("1000");
    let (_, resolved) = sub.wait_line(Duration::from_secs(60), received);
    assert_eq!(resolved["kind"], "resolved");
    assert_eq!(resolved["incident_id"], id);
    assert!(resolved["event_id"].as_u64() > opened["event_id"].as_u64());
    assert!(
        eventually(Duration::from_secs(10), || retained(mq_port, &open_topic)
            .is_none()),
        "the retained open state is cleared"
    );
}

/// The retained message on `topic`, if any (a fresh subscriber that leaves after 1 s).
fn retained(port: u16, topic: &str) -> Option<Value> {
    let out = Command::new(tool("/usr/bin/mosquitto_sub"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic])
        .args(["-C", "1", "-W", "1", "--retained-only"])
        .stderr(Stdio::null())
        .output()
        .expect("mosquitto_sub");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).ok()
}
