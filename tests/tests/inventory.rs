//! The inventory end to end. The real `patrol-agent` gathers this machine's facts and those of
//! a switch it polls (snmpsim serving the real Catalyst 3750 walk) and sends them to the real
//! `patrol-collector`; `patrolctl agents show` prints them, checked against what `uname -r`,
//! `/etc/os-release`, `/proc/meminfo` and net-snmp's `snmpget` say; `patrolctl incidents
//! show` carries the host's key facts; and after a collector restart, with the agent gone,
//! the facts are still there (the store kept them). A scripted agent shows a collector refuse
//! facts over the bounds, count them, and keep the stream.

mod support;

#[path = "../../probes/tests/support/snmp_peers.rs"]
mod peers;

use std::time::Duration;

use patrol_proto::v1::{self, agent_message, collector_message, ingest_client::IngestClient};
use serde_json::Value;
use support::procs::{Proc, eventually, free_port, http_get, run};
use tokio_stream::wrappers::ReceiverStream;

/// `patrolctl --collector URL ARGS...`: (exit code, stdout, stderr).
fn patrolctl(url: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--collector", url];
    all.extend_from_slice(args);
    run("patrolctl", &all)
}

fn show_json(url: &str, agent: &str) -> Option<Value> {
    let (code, out, _) = patrolctl(url, &["agents", "show", agent, "--json"]);
    (code == 0)
        .then(|| serde_json::from_str(&out).ok())
        .flatten()
}

/// `uname -r`, as the oracle for the kernel release.
fn uname_r() -> String {
    let out = std::process::Command::new("uname")
        .arg("-r")
        .output()
        .expect("uname runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// os-release's PRETTY_NAME, read here with plain string handling.
fn pretty_name() -> String {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .expect("this machine has an os-release");
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .expect("os-release has PRETTY_NAME")
}

/// MemTotal of /proc/meminfo in bytes.
fn mem_total_bytes() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let kib: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("MemTotal in /proc/meminfo");
    kib * 1024
}

fn collector_on(port: u16, dir: &std::path::Path) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let rules = dir.join("rules");
    let data = dir.join("data");
    let p = Proc::spawn(
        "patrol-collector",
        &[
            "--listen",
            &listen,
            "--http",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().expect("utf-8"),
            "--data",
            data.to_str().expect("utf-8"),
        ],
    );
    p.wait_line(Duration::from_secs(30), |l| {
        l.starts_with("patrol-collector listening ").then_some(())
    });
    p
}

#[test]
fn agents_show_prints_what_this_machine_and_its_switch_are_and_keeps_it_across_a_restart() {
    let sim = peers::start_snmpsim();
    let v2c = ["-v2c", "-c", peers::CISCO_COMMUNITY];
    let serial_oid = "1.3.6.1.2.1.47.1.1.1.1.11.3001";
    let serial = String::from_utf8_lossy(
        &peers::net_snmp("snmpget", &v2c, &sim.address(), serial_oid)[serial_oid].bytes(),
    )
    .into_owned();

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(
        rules.join("inv.toml"),
        "[[rule]]\nname = \"inv_memory_in_use\"\nexpr = 'memory_used_percent > 0'\n\
         severity = \"P3\"\nsummary = \"Memory at {{value}}% on {{host}}\"\n",
    )
    .expect("rule file");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut collector = collector_on(port, dir.path());

    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "agent_id = \"inv-agent\"\nhost = \"inv-host\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"{url}\"\n\
             [[probe]]\ntype = \"host\"\ninterval = \"1s\"\n\
             [[probe]]\ntype = \"snmp\"\ninterval = \"5s\"\ntimeout = \"1s\"\nprofiles = [\"system\"]\n\
             [[probe.device]]\nname = \"c3750\"\naddress = \"{}\"\ncommunity = \"{}\"\n",
            sim.address(),
            peers::CISCO_COMMUNITY,
            state = dir.path().join("agent-state"),
        ),
    )
    .expect("agent config");
    let mut agent = Proc::agent(&agent_cfg);

    let mut shown = Value::Null;
    assert!(
        eventually(Duration::from_secs(60), || {
            match show_json(&url, "inv-agent") {
                Some(v) if v["devices"]["c3750"].is_object() => {
                    shown = v;
                    true
                }
                _ => false,
            }
        }),
        "the agent's facts never reached the collector: {shown}"
    );
    let facts = &shown["facts"];
    assert_eq!(facts["kernel.release"], uname_r(), "{shown}");
    assert_eq!(facts["os.name"], pretty_name(), "{shown}");
    assert_eq!(
        facts["memory.bytes"],
        mem_total_bytes().to_string(),
        "{shown}"
    );
    assert!(shown["facts_at"].is_string(), "{shown}");
    let switch = &shown["devices"]["c3750"];
    assert_eq!(switch["chassis[3001].serial"], serial.as_str(), "{shown}");
    assert_eq!(switch["chassis[3001].model"], "WS-C3750-48PS-S");
    assert_eq!(switch["sys.name"], "Profiler3750");

    // The text a person reads.
    let (code, text, err) = patrolctl(&url, &["agents", "show", "inv-agent"]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("connected  yes, since "), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("kernel.release") && l.ends_with(&uname_r())),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("memory.bytes")
            && l.contains(&format!(" {} (", mem_total_bytes()))
            && l.ends_with(" GiB)")),
        "{text}"
    );
    assert!(text.contains("\n\ndevice c3750\nFACT"), "{text}");

    // An incident of that host carries its key facts; memory size is not one of them.
    let mut incident = Value::Null;
    assert!(
        eventually(Duration::from_secs(30), || {
            let (code, out, _) = patrolctl(&url, &["incidents", "list", "--json"]);
            if code != 0 {
                return false;
            }
            let list: Value = serde_json::from_str(&out).unwrap_or(Value::Null);
            match list
                .as_array()
                .and_then(|l| l.iter().find(|i| i["rule"] == "inv_memory_in_use"))
            {
                Some(i) => {
                    incident = i.clone();
                    true
                }
                None => false,
            }
        }),
        "the memory rule never opened an incident"
    );
    let id = incident["id"].to_string();
    let (code, out, err) = patrolctl(&url, &["incidents", "show", &id, "--json"]);
    assert_eq!(code, 0, "{err}");
    let show: Value = serde_json::from_str(&out).expect("show JSON");
    assert_eq!(show["host_facts"]["kernel.release"], uname_r(), "{show}");
    assert_eq!(show["host_facts"]["os.name"], pretty_name(), "{show}");
    assert!(show["host_facts"]["memory.bytes"].is_null(), "{show}");
    let (code, text, err) = patrolctl(&url, &["incidents", "show", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("\n\nhost inv-host\nFACT"), "{text}");

    // The agent goes, the collector restarts: the store kept what the box is.
    agent.kill();
    collector.kill();
    let _collector = collector_on(port, dir.path());
    let kept = show_json(&url, "inv-agent").expect("facts kept across the restart");
    assert_eq!(kept["connected"], false, "{kept}");
    assert_eq!(kept["facts"]["kernel.release"], uname_r(), "{kept}");
    assert_eq!(
        kept["devices"]["c3750"]["chassis[3001].serial"],
        serial.as_str()
    );
    let (code, text, err) = patrolctl(&url, &["agents", "show", "inv-agent"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("connected  no (not since the collector started)"),
        "{text}"
    );
    let (code, _, err) = patrolctl(&url, &["agents", "show", "nobody"]);
    assert_ne!(code, 0);
    assert!(err.contains("no agent 'nobody'"), "{err}");
}

fn facts_message(host: &[(String, String)]) -> v1::AgentMessage {
    v1::AgentMessage {
        msg: Some(agent_message::Msg::Facts(v1::Facts {
            host: host.iter().cloned().collect(),
            devices: Vec::new(),
            gathered_ms: 1,
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_over_the_bounds_are_refused_counted_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let running = support::inproc::collector(dir.path(), |_| {}).await;
    let grpc = running.grpc_addr.to_string();
    let mut client = IngestClient::connect(format!("http://{grpc}"))
        .await
        .expect("connects");
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tx.send(v1::AgentMessage {
        msg: Some(agent_message::Msg::Hello(support::wire::hello("big", 1))),
    })
    .await
    .expect("queued");
    let mut inbound = client
        .stream(ReceiverStream::new(rx))
        .await
        .expect("stream")
        .into_inner();
    let welcome = inbound
        .message()
        .await
        .expect("welcome")
        .and_then(|m| m.msg);
    let Some(collector_message::Msg::Welcome(w)) = welcome else {
        panic!("expected a welcome: {welcome:?}");
    };
    assert!(w.accepts_facts, "this collector takes facts");

    let too_many: Vec<(String, String)> = (0..=patrol_proto::facts::MAX_FACTS)
        .map(|i| (format!("k{i}"), "v".to_owned()))
        .collect();
    tx.send(facts_message(&too_many)).await.expect("queued");
    let bad = vec![("hw.model".to_owned(), "R740\nrev".to_owned())];
    tx.send(facts_message(&bad)).await.expect("queued");
    // The stream goes on: a batch after them is applied and acknowledged.
    tx.send(v1::AgentMessage {
        msg: Some(agent_message::Msg::Batch(v1::Batch {
            seq: 1,
            series: vec![support::wire::def(0, "m_after_facts", &[])],
            points: vec![support::wire::point(0, 1.0, 1)],
        })),
    })
    .await
    .expect("queued");
    let ack = tokio::time::timeout(Duration::from_secs(20), inbound.message())
        .await
        .expect("an answer in time")
        .expect("the stream is still open")
        .and_then(|m| m.msg);
    assert!(
        matches!(ack, Some(collector_message::Msg::Ack(v1::Ack { seq: 1 }))),
        "{ack:?}"
    );
    let http = running.http_addr.to_string();
    let (_, metrics) = tokio::task::spawn_blocking(move || http_get(&http, "/metrics"))
        .await
        .expect("metrics");
    for reason in ["max_facts", "bad_facts"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("patrol_ingest_refused_total{")
                    && l.contains("agent=\"big\"")
                    && l.contains(&format!("reason=\"{reason}\""))
                    && l.ends_with(" 1")),
            "{reason}: {metrics}"
        );
    }
    assert!(
        running
            .core
            .agents
            .get("big")
            .is_some_and(|a| a.facts.is_empty())
    );

    // Good facts after bad ones are taken.
    let good = vec![("hw.model".to_owned(), "PowerEdge R740".to_owned())];
    tx.send(facts_message(&good)).await.expect("queued");
    let core = running.core.clone();
    let taken = tokio::task::spawn_blocking(move || {
        eventually(Duration::from_secs(10), || {
            core.agents.get("big").is_some_and(|a| {
                a.facts.get("hw.model").map(String::as_str) == Some("PowerEdge R740")
            })
        })
    })
    .await
    .expect("joined");
    assert!(taken, "valid facts are kept");
}

/// A collector as it was before facts: its welcome does not say it takes them, and a
/// message other than a batch ends the stream ("expected a batch"). Records what it got.
struct EarlierCollector {
    accepts_facts: bool,
    got: std::sync::Arc<std::sync::Mutex<Vec<&'static str>>>,
}

type Answers = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<v1::CollectorMessage, tonic::Status>> + Send>,
>;

#[tonic::async_trait]
impl v1::ingest_server::Ingest for EarlierCollector {
    type StreamStream = Answers;

    async fn stream(
        &self,
        request: tonic::Request<tonic::Streaming<v1::AgentMessage>>,
    ) -> Result<tonic::Response<Answers>, tonic::Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let (accepts_facts, got) = (self.accepts_facts, self.got.clone());
        tokio::spawn(async move {
            let _hello = inbound.message().await;
            let welcome = v1::CollectorMessage {
                msg: Some(collector_message::Msg::Welcome(v1::Welcome {
                    applied_seq: 0,
                    max_batch_points: 10_000,
                    accepts_facts,
                })),
            };
            if tx.send(Ok(welcome)).await.is_err() {
                return;
            }
            while let Ok(Some(m)) = inbound.message().await {
                let ack = match m.msg {
                    Some(agent_message::Msg::Batch(b)) => {
                        got.lock().expect("lock").push("batch");
                        v1::CollectorMessage {
                            msg: Some(collector_message::Msg::Ack(v1::Ack { seq: b.seq })),
                        }
                    }
                    Some(agent_message::Msg::Facts(_)) if accepts_facts => {
                        got.lock().expect("lock").push("facts");
                        continue;
                    }
                    _ => {
                        got.lock().expect("lock").push("not a batch");
                        let _ = tx
                            .send(Err(tonic::Status::invalid_argument("expected a batch")))
                            .await;
                        return;
                    }
                };
                if tx.send(Ok(ack)).await.is_err() {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

async fn serve(collector: EarlierCollector) -> std::net::SocketAddr {
    let incoming =
        tonic::transport::server::TcpIncoming::bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
    let addr = incoming.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(v1::ingest_server::IngestServer::new(collector))
            .serve_with_incoming(incoming),
    );
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_collector_is_never_sent_facts_and_a_current_one_is() {
    for accepts_facts in [false, true] {
        let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let addr = serve(EarlierCollector {
            accepts_facts,
            got: got.clone(),
        })
        .await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = patrol_agent::AgentConfig {
            agent_id: Some("compat".into()),
            state_dir: Some(dir.path().to_path_buf()),
            ..patrol_agent::AgentConfig::default()
        };
        cfg.collector.address = format!("http://{addr}");
        cfg.spool.enabled = false;
        cfg.self_metrics = false;
        let agent =
            patrol_agent::Agent::start(cfg.settle("test").expect("settings")).expect("agent");
        // Facts gathered first, then a batch queued after them is acknowledged: had the agent
        // sent the facts, they would have gone out before it on the same stream.
        let connected = agent
            .wait_for(Duration::from_secs(20), |s| s.connected)
            .await;
        assert!(connected, "the agent connects");
        let known = agent
            .wait_for(Duration::from_secs(20), |s| s.facts_changes >= 1)
            .await;
        assert!(known, "the inventory gathers at start");
        let facts = agent
            .facts()
            .expect("the inventory gathered this host's facts");
        assert!(facts.host.contains_key("kernel.release"), "{facts:?}");
        agent.push(&[patrol_proto::Sample::new(
            "after_facts",
            patrol_proto::Labels::new(),
            1.0,
            1,
        )]);
        let acked = agent
            .wait_for(Duration::from_secs(20), |s| {
                s.batches_acked >= 1 && s.pending_batches == 0
            })
            .await;
        assert!(acked, "the batch after the facts is acknowledged");
        let stats = agent.stats();
        let got = got.lock().expect("lock").clone();
        if accepts_facts {
            assert_eq!(got.first(), Some(&"facts"), "{got:?}");
        } else {
            assert!(!got.contains(&"not a batch"), "{got:?}");
            assert_eq!(stats.connects, 1, "the stream was never ended: {stats:?}");
        }
        agent.shutdown(Duration::from_millis(100)).await;
    }
}
