//! Batch delivery across broken connections and a collector restart, in-process with the real
//! collector and agent code over real loopback TCP: no sample lost, none applied twice.

mod support;

use std::time::Duration;

use patrol_agent::{Agent, AgentConfig};
use patrol_collector::config::Settings;
use patrol_collector::server::{self, Running};
use patrol_proto::{Labels, Sample};
use support::proxy::CuttableProxy;

async fn collector(data: &std::path::Path, rules: &std::path::Path, listen: &str) -> Running {
    server::start(Settings {
        listen: listen.parse().expect("addr"),
        http: "127.0.0.1:0".parse().expect("addr"),
        rules: rules.to_owned(),
        data: data.to_owned(),
        ..Settings::default()
    })
    .await
    .expect("collector starts")
}

fn agent(address: String) -> Agent {
    let mut cfg = AgentConfig {
        agent_id: Some("delivery-test".into()),
        host: Some("testhost".into()),
        ..AgentConfig::default()
    };
    cfg.collector.address = address;
    cfg.collector.backoff_min = Duration::from_millis(20);
    cfg.collector.backoff_max = Duration::from_millis(100);
    let settings = cfg.settle("test").expect("settings");
    Agent::start(settings).expect("agent starts")
}

/// One round: `series` samples, all carrying the round number as value.
fn round(n: u64, series: usize) -> Vec<Sample> {
    (0..series)
        .map(|i| {
            Sample::new(
                "delivery_round",
                Labels::from_pairs([("i", i.to_string())]),
                n as f64,
                n as i64,
            )
        })
        .collect()
}

/// Generous bound for things that take milliseconds on an idle machine: the tests run on a
/// shared 2-core box next to other compilers, and a deadline only ends a wait that failed.
const PATIENCE: Duration = Duration::from_secs(90);

async fn wait_delivered(agent: &Agent) {
    let done = agent
        .wait_for(PATIENCE, |s| s.connected && s.pending_batches == 0)
        .await;
    assert!(
        done,
        "agent never delivered everything: {:?}",
        agent.stats()
    );
}

/// Waits for the agent's connection number `n` (counting from 1).
async fn wait_connection(agent: &Agent, n: u64) {
    let done = agent
        .wait_for(PATIENCE, |s| s.connected && s.connects >= n)
        .await;
    assert!(done, "agent never connected: {:?}", agent.stats());
}

fn latest_rounds(core: &patrol_collector::core::Core) -> Vec<f64> {
    let latest = core.engine.lock().expect("engine").latest();
    latest
        .iter()
        .filter(|s| s.name == "delivery_round")
        .map(|s| s.value)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_lose_nothing_and_apply_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let c = collector(&dir.path().join("data"), &rules, "127.0.0.1:0").await;
    let proxy = CuttableProxy::start(c.grpc_addr).await;
    let a = agent(format!("http://{}", proxy.addr));

    // Duplicates only arise when a cut lands between "applied" and "durable and
    // acknowledged" (the reconnect's welcome then names an older sequence and the agent
    // resends): a window whose width depends on the machine's load. So the test keeps cutting
    // until it has hit that window at least once, instead of assuming a fixed number of cuts
    // will; every cut, hit or miss, is checked for exactly-once delivery below.
    const MIN_PHASES: u64 = 8;
    const MAX_PHASES: u64 = 200;
    const ROUNDS_PER_PHASE: u64 = 40;
    const SERIES: usize = 20;
    let t = &c.core.telemetry;
    let mut cuts = 0;
    let mut phases = 0;
    while phases < MIN_PHASES || (t.batches_duplicate.get() == 0 && phases < MAX_PHASES) {
        wait_connection(&a, phases + 1).await;
        for r in 1..=ROUNDS_PER_PHASE {
            a.push(&round(phases * ROUNDS_PER_PHASE + r, SERIES));
            if r == ROUNDS_PER_PHASE / 2 {
                // Let some batches get applied but not yet acknowledged, then break the link.
                tokio::task::yield_now().await;
                cuts += proxy.cut();
            }
        }
        phases += 1;
        if phases >= MIN_PHASES {
            // Lets the resends of the last cut arrive before deciding whether to go on.
            wait_delivered(&a).await;
        }
    }
    let rounds = phases * ROUNDS_PER_PHASE;
    wait_delivered(&a).await;
    let stats = a.stats();
    assert_eq!(
        cuts, phases as usize,
        "the test must actually break connections (cut {cuts})"
    );
    assert!(
        stats.connects > phases,
        "the agent must have reconnected: {stats:?}"
    );
    assert_eq!(stats.dropped_points, 0);
    assert!(
        t.batches_duplicate.get() > 0,
        "none of {phases} cuts caught batches applied but not yet acknowledged, so dedup was never exercised"
    );
    // Exactly once: every batch applied once, every sample counted once.
    assert_eq!(t.batches_applied.get(), stats.next_seq - 1, "{stats:?}");
    assert_eq!(t.samples_ingested.get(), rounds * SERIES as u64);
    // And the table holds the last round for every series.
    let latest = latest_rounds(&c.core);
    assert_eq!(latest.len(), SERIES);
    assert!(latest.iter().all(|v| *v == rounds as f64), "{latest:?}");
    a.shutdown(Duration::from_secs(1)).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_restart_keeps_counting_where_it_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let data = dir.path().join("data");
    let first = collector(&data, &rules, "127.0.0.1:0").await;
    let addr = first.grpc_addr;
    let a = agent(format!("http://{addr}"));
    for n in 1..=50 {
        a.push(&round(n, 5));
    }
    wait_delivered(&a).await;
    let applied_first = first.core.telemetry.batches_applied.get();
    first.stop().await;

    // Rounds queued while the collector is away wait in the agent.
    for n in 51..=80 {
        a.push(&round(n, 5));
    }
    assert!(a.stats().pending_batches > 0);
    let second = collector(&data, &rules, &addr.to_string()).await;
    wait_delivered(&a).await;
    let applied_second = second.core.telemetry.batches_applied.get();
    assert_eq!(applied_first + applied_second, a.stats().next_seq - 1);
    assert_eq!(second.core.telemetry.samples_ingested.get(), 30 * 5);
    assert!(latest_rounds(&second.core).iter().all(|v| *v == 80.0));
    a.shutdown(Duration::from_secs(1)).await;
    second.stop().await;
}
