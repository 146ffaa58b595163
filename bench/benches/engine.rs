//! The collector's hot path without the network: a sample through the series table and the
//! rules that watch it. `cargo bench -p patrol-bench --bench engine`; figures in
//! docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patrol_collector::engine::{Engine, Evaluated};
use patrol_proto::Labels;
use patrol_rules::{Levels, RuleSet};

fn shipped_rules() -> Arc<RuleSet> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default");
    match patrol_rules::load_dir(std::path::Path::new(dir), &Levels::default()) {
        Ok(set) => Arc::new(set),
        Err(d) => panic!("shipped rules: {d:?}"),
    }
}

fn engine(c: &mut Criterion) {
    const SERIES: u32 = 10_000;
    let mut e = Engine::new(shipped_rules());
    let ids: Vec<_> = (0..SERIES)
        .map(|i| {
            let labels = Labels::from_pairs([
                ("host", format!("h{}", i % 100)),
                ("mount", format!("/m{i}")),
            ]);
            e.intern("disk_used_percent", &labels)
        })
        .collect();
    let other: Vec<_> = (0..SERIES)
        .map(|i| {
            e.intern(
                "net_receive_bytes_per_second",
                &Labels::from_pairs([("iface", format!("e{i}"))]),
            )
        })
        .collect();

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(u64::from(SERIES)));
    // Values below the threshold: evaluation without state changes, the common case.
    g.bench_function("observe_10k_samples_one_rule_each", |b| {
        let mut now = 0i64;
        let mut out = Vec::new();
        b.iter(|| {
            now += 1;
            let mut st = Evaluated::default();
            for (n, id) in ids.iter().enumerate() {
                e.observe(
                    *id,
                    black_box(50.0 + (n % 7) as f64),
                    now,
                    now,
                    &mut out,
                    &mut st,
                );
            }
            black_box(st);
        });
    });
    // A metric no rule names: the cost of the index saying "nothing to do".
    g.bench_function("observe_10k_samples_no_rule", |b| {
        let mut now = 0i64;
        let mut out = Vec::new();
        b.iter(|| {
            now += 1;
            let mut st = Evaluated::default();
            for id in &other {
                e.observe(*id, black_box(1.0), now, now, &mut out, &mut st);
            }
            black_box(st);
        });
    });
    g.bench_function("intern_10k_known_series", |b| {
        let labels: Vec<_> = (0..SERIES)
            .map(|i| {
                Labels::from_pairs([
                    ("host", format!("h{}", i % 100)),
                    ("mount", format!("/m{i}")),
                ])
            })
            .collect();
        b.iter(|| {
            for l in &labels {
                black_box(e.intern("disk_used_percent", l));
            }
        });
    });
    g.finish();
}

fn parse(c: &mut Criterion) {
    c.bench_function("parse_expr", |b| {
        b.iter(|| {
            patrol_rules::expr::parse(black_box(
                r#"disk_used_percent{mount!~"/(boot|snap/.*)", host="db1"} > 90"#,
            ))
        })
    });
}

criterion_group!(benches, engine, parse);
criterion_main!(benches);
