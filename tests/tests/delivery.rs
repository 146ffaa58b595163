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
    // Memory-only delivery of exactly the test's batches is what this test exercises: no
    // spool (it has tests of its own, agent_spool.rs; a default state_dir would be shared
    // between tests) and none of the agent's own counters.
    cfg.spool.enabled = false;
    cfg.self_metrics = false;
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

/// Holds the incident store's write lock from outside, as a slow disk would: the collector
/// keeps applying batches to its engine, but their commits (and so their acks) wait.
struct StoreStall(rusqlite::Connection);

impl StoreStall {
    fn start(data: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(data.join(patrol_store::DB_FILE))
            .expect("open the collector's database");
        conn.execute_batch("BEGIN IMMEDIATE")
            .expect("take the write lock");
        StoreStall(conn)
    }
}

impl Drop for StoreStall {
    fn drop(&mut self) {
        let _ = self.0.execute_batch("ROLLBACK");
    }
}

/// Waits (polling, up to `within`) until `check` holds.
async fn until(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_lose_nothing_and_apply_nothing_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let data = dir.path().join("data");
    let c = collector(&data, &rules, "127.0.0.1:0").await;
    let proxy = CuttableProxy::start(c.grpc_addr).await;
    let a = agent(format!("http://{}", proxy.addr));

    // Every phase pushes rounds, breaks the link mid-stream and checks below that nothing was
    // lost or applied twice. Half the phases first stall the store, so the cut lands while
    // batches are applied but not yet durable: the reconnect's welcome then names an older
    // sequence, the agent resends, and the collector must drop the resends as duplicates.
    // The other half cut at whatever point the stream happens to be.
    const PHASES: u64 = 8;
    const ROUNDS_PER_PHASE: u64 = 40;
    const SERIES: usize = 20;
    // Well under the store's 5 s busy timeout: a stall longer than that fails the commit.
    const STALL: Duration = Duration::from_secs(2);
    let t = &c.core.telemetry;
    let mut cuts = 0;
    let mut stalled_cuts = 0;
    for phase in 0..PHASES {
        wait_connection(&a, phase + 1).await;
        let first = phase * ROUNDS_PER_PHASE;
        for r in 1..=ROUNDS_PER_PHASE / 2 {
            a.push(&round(first + r, SERIES));
        }
        if phase % 2 == 0 {
            let applied = t.batches_applied.get();
            let duplicates = t.batches_duplicate.get();
            let stall = StoreStall::start(&data);
            for r in ROUNDS_PER_PHASE / 2 + 1..=ROUNDS_PER_PHASE {
                a.push(&round(first + r, SERIES));
            }
            if until(STALL, || t.batches_applied.get() > applied).await {
                cuts += proxy.cut();
                // The resends reach the collector after the reconnect, while the store still
                // waits; if this machine is too slow for that, the phase counts as a plain cut.
                if until(STALL, || t.batches_duplicate.get() > duplicates).await {
                    stalled_cuts += 1;
                }
            } else {
                cuts += proxy.cut();
            }
            drop(stall);
        } else {
            tokio::task::yield_now().await;
            cuts += proxy.cut();
            for r in ROUNDS_PER_PHASE / 2 + 1..=ROUNDS_PER_PHASE {
                a.push(&round(first + r, SERIES));
            }
        }
        wait_delivered(&a).await;
    }
    let rounds = PHASES * ROUNDS_PER_PHASE;
    let stats = a.stats();
    assert_eq!(
        cuts, PHASES as usize,
        "the test must actually break connections (cut {cuts})"
    );
    assert!(
        stats.connects > PHASES,
        "the agent must have reconnected: {stats:?}"
    );
    assert_eq!(stats.dropped_points, 0);
    assert!(
        stalled_cuts > 0 && t.batches_duplicate.get() > 0,
        "no stalled cut made the agent resend applied batches ({stalled_cuts} of {} stalled \
         phases), so deduplication was never exercised",
        PHASES / 2
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
