//! Sample history: bytes per sample on disk and memory per series (printed once, from the
//! setup), then query times with criterion. Figures in docs/benchmarks.md ("Sample history").
//!
//! - Real host metrics: this machine's host probe (the agent's, on sysinfo and /proc) run once
//!   a second for `HOST_ROUNDS` rounds; its samples are stored 10 s apart, the agent's default
//!   interval, as `HOST_COPIES` hosts (the copies are the same values under another `host`).
//!   A day: `HISTORY_HOST_ROUNDS=8640 HISTORY_HOST_EVERY_MS=500
//!   HISTORY_HOST_RECORDING=/path/host-day.tsv` reads 8,640 rounds (time-compressed: one
//!   every 0.5 s, stored 10 s apart) and keeps them in the file; a later run with the same
//!   `HISTORY_HOST_RECORDING` replays the file instead of reading the probe.
//! - Loadgen series: what `patrol-loadgen` sends — uniformly random values with full f64
//!   precision, the worst case for XOR compression.
//! - Queries: one series over a day at 1 s (86 400 samples, `max_over_time(m[1d])` and the raw
//!   range), and the daily max of 10 000 series each holding a day at 60 s.
//!
//! `cargo bench -p patrol-bench --bench history`

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use patrol_history::query::{Answer, parse};
use patrol_history::{History, HistoryConfig, Sample};
use patrol_probes::{BuildContext, CollectContext, ProbeConfig};
use patrol_proto::Labels;
use rand::Rng;

const HOST_ROUNDS: usize = 90;
const HOST_COPIES: usize = 20;
const DAY_MS: i64 = 86_400_000;

fn cfg() -> HistoryConfig {
    HistoryConfig {
        // Durability does not change the bytes; the bench measures layout and reads.
        fsync: false,
        ..HistoryConfig::default()
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Appends `samples` in batches of `batch`.
fn append(rt: &tokio::runtime::Runtime, h: &History, samples: Vec<Sample>, batch: usize) {
    for part in samples.chunks(batch) {
        rt.block_on(h.append(part.to_vec())).expect("append");
    }
}

/// Bytes per raw sample in the chunk database after a checkpoint.
fn per_sample(h: &History) -> (u64, u64, f64) {
    h.checkpoint().expect("checkpoint");
    let s = h.stats();
    let (n, b) = (s.stored_raw_samples.get(), s.stored_raw_bytes.get());
    (n, b, b as f64 / n.max(1) as f64)
}

/// One round of the host probe: `(name, labels, value)`.
type Round = Vec<(String, Labels, f64)>;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A recording line: round, name, labels (pairs split by 0x1e, name from value by 0x1f) and
/// the value's bits, so a replay stores exactly what the probe read.
fn record_line(round: usize, name: &str, labels: &Labels, value: f64) -> String {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}\x1f{v}")).collect();
    format!(
        "{round}\t{name}\t{}\t{:016x}\n",
        labels.join("\x1e"),
        value.to_bits()
    )
}

fn load_recording(text: &str) -> Vec<Round> {
    let mut rounds: Vec<Round> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [round, name, labels, bits] = f[..] else {
            panic!("recording line {line:?} has not 4 fields")
        };
        let round: usize = round.parse().expect("round number");
        let labels = Labels::from_pairs(
            labels
                .split('\x1e')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('\x1f').expect("label pair")),
        );
        let value = f64::from_bits(u64::from_str_radix(bits, 16).expect("value bits"));
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Vec::new);
        }
        rounds[round].push((name.to_owned(), labels, value));
    }
    rounds
}

/// The host probe's rounds: from `HISTORY_HOST_RECORDING` when that file exists, else read
/// live (`HISTORY_HOST_ROUNDS` rounds, one every `HISTORY_HOST_EVERY_MS`) and, when the
/// variable names a file, written to it round by round so a long recording survives an
/// interrupted bench.
fn host_rounds(rt: &tokio::runtime::Runtime) -> Vec<Round> {
    use std::io::Write;
    let recording = std::env::var_os("HISTORY_HOST_RECORDING").map(std::path::PathBuf::from);
    if let Some(path) = recording.as_ref().filter(|p| p.exists()) {
        let text = std::fs::read_to_string(path).expect("recording readable");
        return load_recording(&text);
    }
    let n = env_usize("HISTORY_HOST_ROUNDS", HOST_ROUNDS);
    let every = Duration::from_millis(env_usize("HISTORY_HOST_EVERY_MS", 1000) as u64);
    let mut file = recording.map(|p| std::fs::File::create(p).expect("recording file"));
    let config: ProbeConfig = toml::from_str("type = \"host\"\n").expect("host config");
    let mut probe = config
        .build(&BuildContext::new(std::env::temp_dir()))
        .expect("host probe builds");
    let mut rounds = Vec::new();
    let mut next = Instant::now();
    for r in 0..n {
        let mut out = Vec::new();
        rt.block_on(probe.collect(CollectContext { now_ms: 0 }, &mut out))
            .expect("host probe collects");
        let round: Round = out
            .into_iter()
            .map(|s| (s.name, s.labels, s.value))
            .collect();
        if let Some(f) = file.as_mut() {
            let text: String = round
                .iter()
                .map(|(name, labels, v)| record_line(r, name, labels, *v))
                .collect();
            f.write_all(text.as_bytes()).expect("recording written");
        }
        rounds.push(round);
        next += every;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    rounds
}

fn host_metrics(rt: &tokio::runtime::Runtime) {
    let rounds = host_rounds(rt);
    let host_rounds = rounds.len();
    let dir = tempfile::tempdir().expect("tempdir");
    let h = History::open(dir.path(), cfg()).expect("history opens");
    let start = patrol_proto::model::now_ms() - host_rounds as i64 * 10_000;
    let mut samples = Vec::new();
    let mut series = 0;
    for copy in 0..HOST_COPIES {
        let host = format!("host-{copy:02}");
        for (r, round) in rounds.iter().enumerate() {
            for (name, labels, value) in round {
                let mut labels = labels.clone();
                labels.insert("host", host.as_str());
                let id = h.series(name, &labels);
                series = series.max(id + 1);
                samples.push(Sample {
                    series: id,
                    ts: start + r as i64 * 10_000,
                    value: *value,
                });
            }
        }
    }
    samples.sort_by_key(|s| s.ts);
    append(rt, &h, samples, 5_000);
    let (n, b, per) = per_sample(&h);
    println!(
        "history/host: {series} series ({} per host) x {host_rounds} rounds of this machine's host probe: {n} raw samples in {b} bytes = {per:.2} B/sample",
        series as usize / HOST_COPIES
    );
}

fn loadgen_series(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = History::open(dir.path(), cfg()).expect("history opens");
    let mut rng = rand::rng();
    let ids: Vec<u32> = (0..1000)
        .map(|i| {
            h.series(
                "disk_used_percent",
                &Labels::from_pairs([("i", i.to_string())]),
            )
        })
        .collect();
    let start = patrol_proto::model::now_ms() - 360 * 10_000;
    let mut samples = Vec::new();
    for r in 0..360i64 {
        for &id in &ids {
            samples.push(Sample {
                series: id,
                ts: start + r * 10_000,
                value: rng.random_range(10.0..80.0),
            });
        }
    }
    append(rt, &h, samples, 5_000);
    let (n, b, per) = per_sample(&h);
    println!(
        "history/loadgen: 1000 series x 360 rounds of uniform random f64 (patrol-loadgen's values): {n} raw samples in {b} bytes = {per:.2} B/sample"
    );
}

/// A history with one series at 1 s over a day and 10 000 series at 60 s over a day.
fn day(rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, History, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = History::open(dir.path(), cfg()).expect("history opens");
    let now = patrol_proto::model::now_ms() / 1000 * 1000;
    let start = now - DAY_MS;
    let one = h.series("cpu_usage_percent", &Labels::from_pairs([("host", "db01")]));
    let samples: Vec<Sample> = (0..86_400i64)
        .map(|i| Sample {
            series: one,
            ts: start + (i + 1) * 1000,
            value: 20.0 + (i % 600) as f64 / 10.0,
        })
        .collect();
    append(rt, &h, samples, 10_000);
    let rss0 = rss_kib();
    let ids: Vec<u32> = (0..10_000)
        .map(|i| {
            h.series(
                "disk_used_percent",
                &Labels::from_pairs([
                    ("host", format!("h{}", i / 10)),
                    ("mount", format!("/m{i}")),
                ]),
            )
        })
        .collect();
    let t = Instant::now();
    let mut total = 0usize;
    for r in 0..1440i64 {
        let batch: Vec<Sample> = ids
            .iter()
            .map(|&id| Sample {
                series: id,
                ts: start + r * 60_000,
                value: 50.0 + ((id as i64 + r) % 40) as f64,
            })
            .collect();
        total += batch.len();
        rt.block_on(h.append(batch)).expect("append");
    }
    let took = t.elapsed();
    let rss1 = rss_kib();
    h.checkpoint().expect("checkpoint");
    println!(
        "history/append: {total} samples of 10 000 series in {:.2} s = {:.0} samples/s (one caller, batches of 10 000, fsync off)",
        took.as_secs_f64(),
        total as f64 / took.as_secs_f64()
    );
    println!(
        "history/memory: RSS grew {} KiB for 10 000 series with open chunks = {:.0} B per active series",
        rss1.saturating_sub(rss0),
        rss1.saturating_sub(rss0) as f64 * 1024.0 / 10_000.0
    );
    (dir, h, now)
}

fn queries(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    host_metrics(&rt);
    loadgen_series(&rt);
    let (_dir, h, now) = day(&rt);
    let mut g = c.benchmark_group("history");
    g.sample_size(10);
    let one_raw = parse(r#"cpu_usage_percent{host="db01"}[1d]"#).expect("parses");
    g.bench_function("one series, a day at 1 s, raw samples", |b| {
        b.iter(|| match h.instant(&one_raw, now, 300_000, now) {
            Ok(Answer::Matrix(m)) => assert_eq!(m[0].points.len(), 86_400),
            other => panic!("{other:?}"),
        })
    });
    let one_max = parse(r#"max_over_time(cpu_usage_percent{host="db01"}[1d])"#).expect("parses");
    g.bench_function("one series, a day at 1 s, max_over_time [1d]", |b| {
        b.iter(|| h.instant(&one_max, now, 300_000, now).expect("answers"))
    });
    let daily = parse("max_over_time(disk_used_percent[1d])").expect("parses");
    g.bench_function("daily max of 10 000 series (a day at 60 s each)", |b| {
        b.iter(|| match h.instant(&daily, now, 300_000, now) {
            Ok(Answer::Vector(v)) => assert_eq!(v.len(), 10_000),
            other => panic!("{other:?}"),
        })
    });
    g.finish();
}

criterion_group!(benches, queries);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
