//! CPU per ingested sample in the collector's rule engine with 1,000 rules over 100,000 series:
//! a mix of thresholds, windows, `and`, `absent` and per-label overrides, beside 1,000
//! threshold-only rules over the same series, in the same run. One iteration is one round: a
//! sample for every series (ten seconds after the previous round), then the periodic sweep.
//! CPU time of the benchmark thread (`support/cpu_time.rs`), not wall time.
//! `cargo bench -p patrol-bench --bench rules_eval`; figures in docs/benchmarks.md.
//!
//! The series: 250 metrics × 400 hosts (20 of them `batch-*`, which the overrides select).
//! Every metric has four rules, so every sample feeds four alert instances in both sets. The
//! values stay below the thresholds: the steady state, where nothing opens or resolves.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::ThreadCpu;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patrol_collector::engine::{Engine, Evaluated, SeriesId};
use patrol_proto::Labels;
use patrol_rules::{Levels, RuleSet, parse_rules};

const METRICS: usize = 250;
const HOSTS: usize = 400;
const SERIES: usize = METRICS * HOSTS;
const ROUND_MS: i64 = 10_000;

fn metric(m: usize) -> String {
    format!("bench_metric_{m:03}")
}

fn host(h: usize) -> String {
    if h < 20 {
        format!("batch-{h}")
    } else {
        format!("h{h}")
    }
}

fn rule(name: &str, expr: &str, extra: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\nexpr = '{expr}'\nseverity = \"P3\"\n\
         summary = \"{{{{host}}}} at {{{{value}}}}\"\n{extra}\n"
    )
}

/// Four threshold rules per metric.
fn thresholds() -> String {
    let mut s = String::new();
    for m in 0..METRICS {
        let x = metric(m);
        s.push_str(&rule(
            &format!("t{m}_a"),
            &format!("{x} > 90"),
            "for = \"5m\"",
        ));
        s.push_str(&rule(&format!("t{m}_b"), &format!("{x} > 95"), ""));
        s.push_str(&rule(&format!("t{m}_c"), &format!("{x} < 1"), ""));
        s.push_str(&rule(&format!("t{m}_d"), &format!("{x} >= 99"), ""));
    }
    s
}

/// Four rules per metric: a threshold with overrides, a window, a second window function
/// (max, rate, changes in turn) and either `and` with a window or `absent(m[10m])`.
fn mixed() -> String {
    let mut s = String::new();
    for m in 0..METRICS {
        let x = metric(m);
        s.push_str(&rule(
            &format!("m{m}_threshold"),
            &format!("{x} > 90"),
            "for = \"5m\"\noverrides = [{ match = '{host=~\"batch-.*\"}', threshold = 98, for = \"30m\" }, \
             { match = '{host=\"h77\"}', threshold = 95 }]",
        ));
        s.push_str(&rule(
            &format!("m{m}_avg"),
            &format!("avg_over_time({x}[5m]) > 80"),
            "",
        ));
        let second = match m % 3 {
            0 => format!("max_over_time({x}[10m]) > 99"),
            1 => format!("rate({x}[5m]) > 100"),
            _ => format!("changes({x}[15m]) > 1000"),
        };
        s.push_str(&rule(&format!("m{m}_second"), &second, ""));
        let fourth = if m % 2 == 0 {
            format!("{x} > 95 and avg_over_time({x}[15m]) > 90")
        } else {
            format!("absent({x}[10m])")
        };
        s.push_str(&rule(&format!("m{m}_fourth"), &fourth, ""));
    }
    s
}

fn engine(text: &str) -> (Engine, Vec<SeriesId>) {
    let rules = parse_rules("bench.toml", text, &Levels::default())
        .unwrap_or_else(|d| panic!("{:?}", &d[..d.len().min(3)]));
    assert_eq!(rules.len(), 1_000);
    let mut e = Engine::new(Arc::new(RuleSet::from_rules(rules)));
    let mut ids = Vec::with_capacity(SERIES);
    for m in 0..METRICS {
        let name = metric(m);
        for h in 0..HOSTS {
            ids.push(e.intern(&name, &Labels::from_pairs([("host", host(h))])));
        }
    }
    (e, ids)
}

/// One round at `round`: every series gets a sample, then the sweep runs.
fn round(e: &mut Engine, ids: &[SeriesId], round: i64, out: &mut Vec<patrol_store::Change>) {
    let now = round * ROUND_MS;
    let mut st = Evaluated::default();
    for (i, id) in ids.iter().enumerate() {
        // 40..52, changing every round: windows, `changes` and rates all do real work.
        let v = 40.0 + ((i as i64 + round) % 13) as f64;
        e.observe(*id, black_box(v), now, now, out, &mut st);
    }
    e.tick(now, out, &mut st);
    out.clear();
    black_box(st);
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn bench(c: &mut Criterion<ThreadCpu>) {
    let mut g = c.benchmark_group("rules_eval");
    g.throughput(Throughput::Elements(SERIES as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(20));
    for (name, text) in [
        ("1000_threshold_rules_100k_series", thresholds()),
        ("1000_mixed_rules_100k_series", mixed()),
    ] {
        let before = rss_mb();
        let (mut e, ids) = engine(&text);
        let mut out = Vec::new();
        // Fill the windows (15 minutes of rounds) before measuring the steady state.
        let mut r = 0;
        while r < 90 {
            round(&mut e, &ids, r, &mut out);
            r += 1;
        }
        eprintln!(
            "{name}: {} series, {} alert instances, {:.0} MB resident for the engine",
            e.series_count(),
            e.state_counts()
                .iter()
                .map(|c| c.inactive + c.pending + c.firing)
                .sum::<u64>(),
            rss_mb() - before
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                round(&mut e, &ids, r, &mut out);
                r += 1;
            })
        });
        drop(e);
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = bench
}
criterion_main!(benches);
