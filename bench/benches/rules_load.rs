//! Rule loading: what a start and every reload cost, for 1,000 to 100,000 rules in one file
//! (the issue: "9,600 rules take 5.0 s to load ... 100,000 did not load within a minute").
//! The rules mix thresholds, regular-expression selectors, windows and overrides. Measured:
//! parsing and checking the file (`parse_rules`, what `patrolctl rules check` and the collector
//! run), building the metric index, and a reload of the collector's engine holding 10,000
//! series. CPU time of the benchmark thread (`support/cpu_time.rs`), not wall time.
//! `cargo bench -p patrol-bench --bench rules_load`; figures in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

#[path = "support/cpu_time.rs"]
mod cpu_time;

use cpu_time::ThreadCpu;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use patrol_collector::engine::Engine;
use patrol_proto::Labels;
use patrol_rules::{Levels, RuleSet, parse_rules};

/// `n` rules: a quarter each of a threshold with a regex selector, an `avg_over_time` window,
/// a threshold with two overrides, and a `rate` of a counter; every fourth regex is distinct,
/// so the regex cache does not make them all one.
fn rules_text(n: usize) -> String {
    let mut s = String::with_capacity(n * 200);
    for i in 0..n {
        let (expr, extra) = match i % 4 {
            0 => (
                format!(
                    r#"disk_used_percent{{host="h{}", mount=~"/(u0[1-9]|data{})"}} > 90"#,
                    i % 1000,
                    i % 97
                ),
                String::new(),
            ),
            1 => (
                format!(r#"avg_over_time(cpu_usage_percent{{host="h{i}"}}[5m]) > 90"#),
                String::new(),
            ),
            2 => (
                format!(r#"oracle_tablespace_used_percent{{db="DB{i}"}} > 90"#),
                "overrides = [{ match = '{tablespace=\"UNDOTBS1\"}', threshold = 97 }, \
                 { match = '{host=~\"batch-.*\"}', threshold = 98, for = \"30m\" }]\n"
                    .to_owned(),
            ),
            _ => (
                format!(r#"rate(node_network_receive_errs_total{{host="h{i}"}}[5m]) > 1"#),
                String::new(),
            ),
        };
        s.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nexpr = '{expr}'\nfor = \"5m\"\nseverity = \"P3\"\n\
             summary = \"{{{{host}}}} at {{{{value}}}} (limit {{{{threshold}}}})\"\n{extra}\n"
        ));
    }
    s
}

fn load(c: &mut Criterion<ThreadCpu>) {
    let levels = Levels::default();
    let mut g = c.benchmark_group("rules_load");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for n in [1_000usize, 10_000, 100_000] {
        let text = rules_text(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("parse_and_index", n), &text, |b, text| {
            b.iter(|| {
                let rules = parse_rules("bench.toml", black_box(text), &levels)
                    .unwrap_or_else(|d| panic!("{:?}", &d[..d.len().min(3)]));
                black_box(RuleSet::from_rules(rules))
            })
        });
        // A reload: the engine keeps 10,000 series (disk and cpu of 1,000 hosts) and links
        // them to the new set.
        let set = Arc::new(RuleSet::from_rules(
            parse_rules("bench.toml", &text, &levels).unwrap_or_default(),
        ));
        let mut engine = Engine::new(Arc::clone(&set));
        for h in 0..1_000 {
            for m in 0..5 {
                let disk =
                    Labels::from_pairs([("host", format!("h{h}")), ("mount", format!("/u0{m}"))]);
                engine.intern("disk_used_percent", &disk);
                let cpu = Labels::from_pairs([("host", format!("h{}", h * 5 + m))]);
                engine.intern("cpu_usage_percent", &cpu);
            }
        }
        g.bench_with_input(
            BenchmarkId::new("engine_reload_10k_series", n),
            &set,
            |b, set| {
                let mut out = Vec::new();
                b.iter(|| {
                    engine.replace_rules(Arc::clone(set), 0, &mut out);
                    out.clear();
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpu);
    targets = load
}
criterion_main!(benches);
