//! Breach to dashboard through the whole collector: a sample crosses a rule's threshold in the
//! engine, the incident and its outbox row commit together, the MQTT channel's worker publishes
//! it and waits for the PUBACK, and a real `mosquitto_sub` prints it.
//!
//! 1. latency: one breach at a time, from just before the engine sees the sample to the line
//!    arriving at `mosquitto_sub` (median, p99, max);
//! 2. throughput: a burst of breaches committed in batches of 100 (as agent batches arrive),
//!    timed until the subscriber has every one.
//!
//! `cargo bench -p patrol-bench --bench notify_breach` (needs Debian's mosquitto and
//! mosquitto-clients); figures in docs/benchmarks.md.

#[path = "support/mosquitto.rs"]
mod mosquitto;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patrol_collector::config::Settings;
use patrol_collector::core::Core;
use patrol_collector::engine::Evaluated;
use patrol_notify::Payload;
use patrol_proto::Labels;
use patrol_proto::model::now_ms;

/// Feeds breaching samples for series `from..to` through the engine and commits the changes.
async fn breach(core: &Core, from: u64, to: u64) {
    let mut changes = Vec::new();
    {
        let mut engine = core.engine.lock().expect("engine");
        let mut stats = Evaluated::default();
        for n in from..to {
            let labels =
                Labels::from_pairs([("host", "bench-host".to_owned()), ("n", n.to_string())]);
            let id = engine.intern("bench_value", &labels);
            let now = now_ms();
            engine.observe(id, 1.0, now, now, &mut changes, &mut stats);
        }
    }
    core.commit_changes(changes).await.expect("commit");
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut broker, mq) = mosquitto::start(dir.path());
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules");
    std::fs::write(
        rules.join("bench.toml"),
        "[[rule]]\nname = \"bench_breach\"\nexpr = 'bench_value > 0'\nseverity = \"P3\"\nsummary = \"breach {{n}}\"\n",
    )
    .expect("rule");
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        format!(
            "[notify]\nsite = \"bench\"\n[channel.m]\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {mq}\n\
             [[route]]\nname = \"all\"\nkinds = [\"opened\"]\nchannels = [\"m\"]\n"
        ),
    )
    .expect("site");

    let mut sub = Command::new("/usr/bin/mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mq.to_string(), "-q", "1"])
        .args(["-t", "patrol/bench/incidents/#", "-F", "%p"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("mosquitto_sub is missing: apt-get install mosquitto-clients");
    let stdout = sub.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<(u64, Instant)>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let at = Instant::now();
            if let Ok(p) = Payload::from_json(&line)
                && let Some(n) = p.labels.get("n").and_then(|n| n.parse().ok())
                && tx.send((n, at)).is_err()
            {
                break;
            }
        }
    });

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let running = rt.block_on(async {
        let settings = Settings {
            listen: "127.0.0.1:0".parse().expect("addr"),
            http: "127.0.0.1:0".parse().expect("addr"),
            rules: rules.clone(),
            data: dir.path().join("data"),
            site: Some(site.clone()),
            ..Settings::default()
        };
        patrol_collector::server::start(settings)
            .await
            .expect("collector")
    });
    let core = Arc::clone(&running.core);
    std::thread::sleep(Duration::from_millis(1000));

    // Latency, one breach at a time.
    let samples = 1_000u64;
    let mut latencies = Vec::new();
    for n in 0..samples {
        let start = Instant::now();
        rt.block_on(breach(&core, n, n + 1));
        let (got, at) = rx.recv_timeout(Duration::from_secs(10)).expect("arrival");
        assert_eq!(got, n, "arrivals in order");
        latencies.push(at - start);
    }
    latencies.sort_unstable();
    println!("| breaches | median | p99 | max |");
    println!("|---|---|---|---|");
    println!(
        "| {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        latencies.len(),
        mosquitto::percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        mosquitto::percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );

    // Throughput: a burst.
    let burst = 10_000u64;
    let first = samples;
    let started = Instant::now();
    rt.block_on(async {
        let mut n = first;
        while n < first + burst {
            breach(&core, n, (n + 100).min(first + burst)).await;
            n += 100;
        }
    });
    let committed = started.elapsed();
    let mut got: HashMap<u64, Instant> = HashMap::new();
    while got.len() < burst as usize {
        let (n, at) = rx.recv_timeout(Duration::from_secs(60)).expect("arrival");
        got.insert(n, at);
    }
    let secs = started.elapsed().as_secs_f64();
    println!();
    println!("| burst | committed in | all at the subscriber after | events/s end to end |");
    println!("|---|---|---|---|");
    println!(
        "| {burst} | {:.2} s | {secs:.2} s | {:.0} |",
        committed.as_secs_f64(),
        burst as f64 / secs
    );
    rt.block_on(running.stop());
    let _ = sub.kill();
    let _ = sub.wait();
    let _ = broker.kill();
    let _ = broker.wait();
}
