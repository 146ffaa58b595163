//! The MQTT notification channel against a real mosquitto on loopback:
//! 1. throughput: events per second through `MqttChannel::deliver` (each event = the event
//!    publish + the retained open-state publish, both PUBACKed) with 1 and 64 deliveries in
//!    flight;
//! 2. latency: from calling `deliver` to the event line arriving at a `mosquitto_sub`
//!    process (median, p99), one event at a time.
//!
//! `cargo bench -p patrol-bench --bench notify_mqtt` (needs Debian's mosquitto and
//! mosquitto-clients); figures in docs/benchmarks.md.

#[path = "support/mosquitto.rs"]
mod mosquitto;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patrol_notify::mqtt::MqttChannel;
use patrol_notify::{Channel, ChannelKind, Message, Payload};

fn message(event_id: u64) -> Message {
    let mut p = Payload::sample("bench");
    p.event_id = event_id;
    p.incident_id = event_id % 500;
    Message::new(p)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut broker, port) = mosquitto::start(dir.path());

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let site = format!(
        "[notify]\nsite = \"bench\"\n[channel.m]\nkind = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {port}\n"
    );
    let cfg = patrol_site::parse_site("bench.toml", &site)
        .expect("site")
        .notify
        .channels
        .remove("m")
        .expect("channel");
    let ChannelKind::Mqtt(m) = &cfg.kind else {
        unreachable!()
    };
    let ch =
        rt.block_on(async { Arc::new(MqttChannel::start("m", m, cfg.timeout).expect("start")) });
    rt.block_on(async {
        for _ in 0..100 {
            if ch.deliver(&message(1)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("MQTT channel never connected");
    });

    println!("| deliveries in flight | events | seconds | events/s | publishes+PUBACKs/s |");
    println!("|---|---|---|---|---|");
    for (inflight, events) in [(1usize, 5_000u64), (64, 50_000)] {
        let started = Instant::now();
        rt.block_on(async {
            let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
            let tasks: Vec<_> = (0..inflight)
                .map(|_| {
                    let ch = Arc::clone(&ch);
                    let next = Arc::clone(&next);
                    tokio::spawn(async move {
                        loop {
                            let id = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            if id >= events {
                                break;
                            }
                            ch.deliver(&message(10_000 + id)).await.expect("delivered");
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.expect("task");
            }
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "| {inflight} | {events} | {secs:.2} | {:.0} | {:.0} |",
            events as f64 / secs,
            2.0 * events as f64 / secs
        );
    }

    // Latency to a real subscriber process.
    let mut sub = Command::new("/usr/bin/mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1"])
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
                && tx.send((p.event_id, at)).is_err()
            {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let samples = 2_000u64;
    let mut sent = HashMap::new();
    let mut latencies = Vec::new();
    for i in 0..samples {
        let id = 1_000_000 + i;
        let msg = message(id);
        sent.insert(id, Instant::now());
        rt.block_on(ch.deliver(&msg)).expect("delivered");
        // One at a time: wait for this one to arrive before the next.
        loop {
            let (got, at) = rx.recv_timeout(Duration::from_secs(10)).expect("arrival");
            if let Some(start) = sent.remove(&got) {
                latencies.push(at - start);
            }
            if got == id {
                break;
            }
        }
    }
    latencies.sort_unstable();
    println!();
    println!("| samples | median | p99 | max |");
    println!("|---|---|---|---|");
    println!(
        "| {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        latencies.len(),
        mosquitto::percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        mosquitto::percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    let _ = sub.kill();
    let _ = sub.wait();
    let _ = broker.kill();
    let _ = broker.wait();
}
