//! The SNMP probe's CPU work per device and round once the walks are in: every profile file
//! evaluated over the rows (labels, filters, fallbacks, rates), without a network. Rows: the
//! Cisco Catalyst 3750 recording snmpsim ships (59 interfaces; needs the Debian package
//! snmpsim), and a synthetic 48-port × 25-switch stack (1200 interfaces) for a large chassis.
//! `cargo bench -p patrol-bench --bench snmp_profiles`; figures in docs/benchmarks.md.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol_probes::snmp::parse_snmprec;
use patrol_probes::snmp::profile::{DEFAULT_PROFILES, ProfileDef, builtin, replay::Replay};

fn profiles(names: &[&str]) -> Vec<Arc<ProfileDef>> {
    let registry = builtin().expect("built-in profiles");
    names.iter().map(|n| Arc::clone(&registry[*n])).collect()
}

/// An IF-MIB walk of `n` interfaces with 64-bit counters, as a large switch stack answers.
fn synthetic_if_mib(n: u32) -> String {
    let mut text = String::new();
    for i in 1..=n {
        for (column, tag, value) in [
            (
                "1.3.6.1.2.1.2.2.1.2",
                "4",
                format!("GigabitEthernet{}/0/{}", i / 48 + 1, i % 48),
            ),
            ("1.3.6.1.2.1.2.2.1.5", "66", "1000000000".to_owned()),
            ("1.3.6.1.2.1.2.2.1.7", "2", "1".to_owned()),
            (
                "1.3.6.1.2.1.2.2.1.8",
                "2",
                if i % 7 == 0 { "2" } else { "1" }.to_owned(),
            ),
            ("1.3.6.1.2.1.2.2.1.14", "65", (i * 3).to_string()),
            ("1.3.6.1.2.1.2.2.1.20", "65", (i * 2).to_string()),
            ("1.3.6.1.2.1.2.2.1.13", "65", i.to_string()),
            ("1.3.6.1.2.1.2.2.1.19", "65", i.to_string()),
            (
                "1.3.6.1.2.1.31.1.1.1.1",
                "4",
                format!("Gi{}/0/{}", i / 48 + 1, i % 48),
            ),
            (
                "1.3.6.1.2.1.31.1.1.1.6",
                "70",
                (u64::from(i) * 1_000_003).to_string(),
            ),
            (
                "1.3.6.1.2.1.31.1.1.1.10",
                "70",
                (u64::from(i) * 999_983).to_string(),
            ),
            ("1.3.6.1.2.1.31.1.1.1.15", "66", "1000".to_owned()),
            ("1.3.6.1.2.1.31.1.1.1.18", "4", format!("server-{i}")),
        ] {
            text.push_str(&format!("{column}.{i}|{tag}|{value}\n"));
        }
    }
    text
}

fn evaluation(c: &mut Criterion) {
    let path = "/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz";
    let out = std::process::Command::new("zcat")
        .arg(path)
        .output()
        .expect("zcat runs");
    assert!(
        out.status.success(),
        "{path}: install the Debian package snmpsim"
    );
    let cisco = parse_snmprec(&String::from_utf8_lossy(&out.stdout));
    let mut replay = Replay::new(profiles(DEFAULT_PROFILES), &cisco);
    let mut samples = Vec::new();
    replay.round(0.0, &mut samples);
    let mut t = 0.0;
    c.bench_function(
        "snmp profiles: Cisco 3750 recording, the six default profiles",
        |b| {
            b.iter(|| {
                t += 60.0;
                samples.clear();
                replay.round(black_box(t), &mut samples);
                samples.len()
            })
        },
    );

    // Two sizes, to see how the cost grows with the table.
    for n in [300, 1200] {
        let rows = parse_snmprec(&synthetic_if_mib(n));
        let mut replay = Replay::new(profiles(&["if_mib"]), &rows);
        replay.round(0.0, &mut samples);
        c.bench_function(&format!("snmp profiles: if_mib, {n} interfaces"), |b| {
            b.iter(|| {
                t += 60.0;
                samples.clear();
                replay.round(black_box(t), &mut samples);
                samples.len()
            })
        });
    }
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
