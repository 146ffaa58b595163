//! Sample history end to end: the Prometheus HTTP API answered to `promtool query` (the real
//! client), series gone stale leaving `/metrics`, and `kill -9` of the collector mid-stream
//! leaving no gap and no duplicate in the history and in the real remote-write receivers
//! (Prometheus with `--web.enable-remote-write-receiver`, VictoriaMetrics).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_proto::model::now_ms;
use patrol_proto::{Labels, Sample};
use serde_json::Value;
use support::inproc;
use support::procs::{Proc, eventually, free_port, http_get, patrolctl_json, run};

/// An in-process agent streaming exactly the samples the test pushes.
fn agent(id: &str, grpc: &str) -> Agent {
    let mut cfg = AgentConfig {
        agent_id: Some(id.into()),
        host: Some(id.into()),
        ..AgentConfig::default()
    };
    cfg.collector.address = format!("http://{grpc}");
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
    Agent::start(cfg.settle("test").expect("settings")).expect("agent")
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

async fn delivered(a: &Agent) {
    assert!(
        a.wait_for(Duration::from_secs(60), |s| s.connected
            && s.pending_batches == 0)
            .await,
        "the agent's batches were not all acknowledged: {:?}",
        a.stats()
    );
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool runs: install it with scripts/setup.sh (Debian package prometheus)");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(addr: &str, path: &str) -> (u16, Value) {
    let (status, body) = http_get(addr, path);
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"));
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_queries_the_collector_and_stopped_agents_leave_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = inproc::collector(dir.path(), |s| {
        s.agent_silence = Duration::from_secs(1);
    })
    .await;
    let http = c.http_addr.to_string();
    let url = format!("http://{http}");
    let a = agent("db1", &c.grpc_addr.to_string());
    // Whole seconds, so the range query's steps fall on the samples.
    let now = now_ms() / 1000 * 1000;
    let t0 = now - 50_000;
    for (i, v) in [50.0, 60.0, 70.0, 80.0, 90.0, 100.0].iter().enumerate() {
        let ts = t0 + i as i64 * 10_000;
        a.push(&[
            Sample::new(
                "tablespace_used_percent",
                labels(&[("tablespace", "USERS")]),
                *v,
                ts,
            ),
            Sample::new(
                "tablespace_used_percent",
                labels(&[("tablespace", "UNDOTBS1")]),
                v / 10.0,
                ts,
            ),
        ]);
    }
    delivered(&a).await;

    let out = promtool(&[
        "query",
        "instant",
        &url,
        r#"tablespace_used_percent{tablespace="USERS"}"#,
    ]);
    assert!(
        out.contains(r#"tablespace="USERS""#) && out.contains("=> 100 @["),
        "{out}"
    );
    assert!(!out.contains("UNDOTBS1"), "{out}");

    let start = format!("{}", t0 / 1000);
    let end = format!("{}", now / 1000);
    let out = promtool(&[
        "query",
        "range",
        "--start",
        &start,
        "--end",
        &end,
        "--step",
        "10s",
        &url,
        "max_over_time(tablespace_used_percent[1m])",
    ]);
    assert!(out.contains("\n100 @[") && out.contains("\n10 @["), "{out}");

    let out = promtool(&[
        "query",
        "series",
        "--match",
        "tablespace_used_percent",
        &url,
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(r#"tablespace="UNDOTBS1""#), "{out}");

    let out = promtool(&["query", "labels", &url, "tablespace"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["UNDOTBS1", "USERS"],
        "{out}"
    );

    // The same through patrolctl (gRPC).
    let grpc = format!("http://{}", c.grpc_addr);
    let v = patrolctl_json(
        &grpc,
        &[
            "query",
            r#"tablespace_used_percent{tablespace="USERS"}"#,
            "--json",
        ],
    );
    assert_eq!(v[0]["points"][0][1], "100", "{v}");
    assert_eq!(v[0]["labels"]["host"], "db1", "{v}");
    let (code, out, err) = run(
        "patrolctl",
        &[
            "--collector",
            &grpc,
            "query",
            "tablespace_used_percent",
            "--range",
            "2m",
            "--step",
            "10s",
            "--csv",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + 2 * 6, "{out}");
    assert!(out.contains(",100\n"), "{out}");
    let v = patrolctl_json(&grpc, &["series", "tablespace_used_percent", "--json"]);
    assert_eq!(v.as_array().map(Vec::len), Some(2), "{v}");
    let (code, _, err) = run("patrolctl", &["--collector", &grpc, "query", "sum(x)"]);
    assert_eq!(code, 1);
    assert!(err.contains("column 1"), "{err}");

    // Outside the language: Prometheus' error shape, the column and a sentence.
    let (status, v) = json(&http, "/api/v1/query?query=sum(tablespace_used_percent)");
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["status"], "error");
    assert_eq!(v["errorType"], "bad_data");
    assert!(
        v["error"].as_str().unwrap_or("").contains("column 1"),
        "{v}"
    );
    // Grafana's data source check.
    let (status, v) = json(&http, "/api/v1/query?query=1%2B1");
    assert_eq!((status, &v["data"]["result"][1]), (200, &Value::from("2")));

    // Current while the agent reports; gone once it stopped and its silence is confirmed,
    // while patrol_agent_up says 0.
    let (_, text) = http_get(&http, "/metrics");
    assert!(text.contains("tablespace_used_percent{"), "{text}");
    a.shutdown(Duration::from_secs(2)).await;
    let mut last = String::new();
    let gone = eventually(Duration::from_secs(20), || {
        last = http_get(&http, "/metrics").1;
        !last.contains("tablespace_used_percent{")
            && last.contains(r#"patrol_agent_up{agent="db1",host="db1"} 0"#)
    });
    assert!(gone, "{last}");
    // History still has it; an instant query at "now" no longer calls it current.
    let (_, v) = json(&http, "/api/v1/query?query=tablespace_used_percent");
    assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(0), "{v}");
    let v = patrolctl_json(&grpc, &["query", "tablespace_used_percent", "--json"]);
    assert_eq!(v.as_array().map(Vec::len), Some(0), "{v}");
    let q = format!(
        "/api/v1/query?query=tablespace_used_percent&time={}",
        now / 1000
    );
    let (_, v) = json(&http, &q);
    assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(2), "{v}");
    c.stop().await;
}

/// A real TSDB started for the test, killed when dropped.
struct Peer {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require(binary: &str, package: &str) {
    assert!(
        Path::new(binary).exists(),
        "{binary} is missing: install the Debian package {package} (scripts/setup.sh does)"
    );
}

fn start_peer(binary: &str, args: &[String], dir: tempfile::TempDir, ready: &str) -> Peer {
    let log_path = dir.path().join("peer.log");
    let log = std::fs::File::create(&log_path).expect("peer log");
    let child = Command::new(binary)
        .args(args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let mut peer = Peer { child, _dir: dir };
    let (addr, path) = ready.split_once('/').expect("addr/path");
    let mut exited = None;
    let up = eventually(Duration::from_secs(120), || {
        if let Ok(Some(status)) = peer.child.try_wait() {
            exited = Some(status);
            return true;
        }
        std::net::TcpStream::connect(addr).is_ok() && http_get(addr, &format!("/{path}")).0 == 200
    });
    let said = std::fs::read_to_string(&log_path).unwrap_or_default();
    let tail: Vec<&str> = said.lines().rev().take(15).collect();
    assert!(
        up && exited.is_none(),
        "{binary} did not become ready at {ready} (exit: {exited:?}); its last log lines:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    peer
}

fn prometheus() -> (Peer, String) {
    require("/usr/bin/prometheus", "prometheus");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("config");
    let addr = format!("127.0.0.1:{}", free_port());
    let args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        format!("--web.listen-address={addr}"),
        "--web.enable-remote-write-receiver".into(),
    ];
    let p = start_peer(
        "/usr/bin/prometheus",
        &args,
        dir,
        &format!("{addr}/-/ready"),
    );
    (p, addr)
}

fn victoria_metrics() -> (Peer, String) {
    require("/usr/bin/victoria-metrics", "victoria-metrics");
    let dir = tempfile::tempdir().expect("tempdir");
    let addr = format!("127.0.0.1:{}", free_port());
    let args = vec![
        format!("-storageDataPath={}", dir.path().join("data").display()),
        format!("-httpListenAddr={addr}"),
        // VictoriaMetrics keeps every copy of a resent request unless told to deduplicate
        // (its documented setting for senders that retry, as Prometheus' remote-write does).
        "-dedup.minScrapeInterval=1ms".into(),
        "-search.latencyOffset=0s".into(),
    ];
    let p = start_peer(
        "/usr/bin/victoria-metrics",
        &args,
        dir,
        &format!("{addr}/health"),
    );
    (p, addr)
}

/// Starts the collector binary on fixed ports with `config`, waiting until it listens.
fn collector(config: &Path) -> Proc {
    let p = Proc::spawn(
        "patrol-collector",
        &["--config", config.to_str().expect("utf-8")],
    );
    p.wait_line(Duration::from_secs(60), |l| {
        l.starts_with("patrol-collector listening").then_some(())
    });
    p
}

/// (ms, value) pairs of `chaos_seq` in a Prometheus-shaped `matrix` answer.
fn matrix_points(v: &Value) -> Vec<(i64, f64)> {
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    result
        .iter()
        .flat_map(|s| s["values"].as_array().cloned().unwrap_or_default())
        .map(|p| {
            let t = p[0].as_f64().unwrap_or(-1.0);
            let v: f64 = p[1].as_str().and_then(|s| s.parse().ok()).unwrap_or(-1.0);
            ((t * 1000.0).round() as i64, v)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_leaves_no_gap_and_no_duplicate_in_history_and_remote_tsdbs() {
    let (_prom, prom) = prometheus();
    let (_vm, vm) = victoria_metrics();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules");
    let (grpc, http) = (free_port(), free_port());
    let config = dir.path().join("collector.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:{grpc}"
http = "127.0.0.1:{http}"
rules = "{rules}"
data = "{data}"

[history]
checkpoint_interval = "2s"

[[history.remote_write]]
name = "prometheus"
url = "http://{prom}/api/v1/write"
max_samples_per_send = 7
min_backoff = "50ms"
max_backoff = "500ms"

[[history.remote_write]]
name = "victoria"
url = "http://{vm}/api/v1/write"
max_samples_per_send = 7
min_backoff = "50ms"
max_backoff = "500ms"
"#,
            rules = dir.path().join("rules").display(),
            data = dir.path().join("data").display(),
        ),
    )
    .expect("config");
    let mut c = collector(&config);
    let mut cfg = AgentConfig {
        agent_id: Some("chaos".into()),
        host: Some("chaos".into()),
        ..AgentConfig::default()
    };
    cfg.collector.address = format!("http://127.0.0.1:{grpc}");
    cfg.collector.backoff_min = Duration::from_millis(100);
    cfg.collector.backoff_max = Duration::from_millis(300);
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
    let a = Agent::start(cfg.settle("test").expect("settings")).expect("agent");

    let n = 300;
    let base = (now_ms() - 600_000) / 1000 * 1000;
    let sent: Vec<(i64, f64)> = (0..n).map(|i| (base + i * 1000, i as f64)).collect();
    let mut kills = 0;
    for (round, chunk) in sent.chunks(20).enumerate() {
        let acked = a.stats().batches_acked;
        for &(ts, v) in chunk {
            let i = v as i64;
            a.push(&[
                Sample::new("chaos_seq", Labels::new(), v, ts),
                // A counter that resets twice, and a gauge that goes up and down: the window
                // functions are compared with Prometheus' answers below.
                Sample::new("chaos_counter", Labels::new(), ((i % 120) * 3) as f64, ts),
                Sample::new(
                    "chaos_gauge",
                    Labels::new(),
                    ((i * 37) % 101) as f64 / 7.0,
                    ts,
                ),
            ]);
        }
        if round % 5 == 4 {
            // Mid-stream: once the collector acknowledged part of the round, while the rest
            // and the remote-write requests are in flight.
            assert!(
                a.wait_for(Duration::from_secs(30), |s| s.batches_acked > acked)
                    .await,
                "no batch acknowledged: {:?}",
                a.stats()
            );
            c.kill();
            kills += 1;
            c = collector(&config);
        }
    }
    assert_eq!(kills, 3);
    delivered(&a).await;

    let http_addr = format!("127.0.0.1:{http}");
    let at = (base + n * 1000) as f64 / 1000.0;
    let q = format!("/api/v1/query?query=chaos_seq%5B10m%5D&time={at}");
    let (status, v) = json(&http_addr, &q);
    assert_eq!(status, 200, "{v}");
    assert_eq!(matrix_points(&v), sent, "the collector's history");

    let mut got = Vec::new();
    let same = eventually(Duration::from_secs(60), || {
        got = matrix_points(&json(&prom, &q).1);
        got == sent
    });
    assert!(
        same,
        "Prometheus holds {} of {n} samples: {got:?}",
        got.len()
    );

    let mut got = Vec::new();
    let same = eventually(Duration::from_secs(60), || {
        let (_, body) = http_get(&vm, "/api/v1/export?match%5B%5D=chaos_seq");
        got = body
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .flat_map(|s| {
                let ts: Vec<i64> = s["timestamps"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                let vs: Vec<f64> = s["values"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                ts.into_iter().zip(vs).collect::<Vec<_>>()
            })
            .collect();
        got.sort_by_key(|p| p.0);
        got == sent
    });
    assert!(
        same,
        "VictoriaMetrics holds {} of {n} samples: {got:?}",
        got.len()
    );
    a.shutdown(Duration::from_secs(1)).await;
    drop(c);
}
