//! The Oracle probe's CPU work per round, without a database: mapping one round's recorded
//! rows to samples, and counting `ORA-` codes in alert-log text. Figures: docs/benchmarks.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patrol_probes::oracle::alert_log::AlertCounts;
use patrol_probes::oracle::mapping::map_snapshot;
use patrol_probes::oracle::recorded::{PROD_FRA, RecordedSource, Recording};
use patrol_probes::oracle::rows::TablespaceRow;
use patrol_probes::oracle::source::fetch_snapshot;
use patrol_probes::tail::Record;
use patrol_probes::tail::counted::Counter;

fn mapping(c: &mut Criterion) {
    let recording = Recording::parse(PROD_FRA).expect("recording");
    let mut source = RecordedSource::new(recording.clone());
    let snap = fetch_snapshot(&mut source, None).expect("snapshot");
    c.bench_function("oracle map_snapshot (6 tablespaces)", |b| {
        b.iter(|| map_snapshot(black_box("ORCL"), black_box(&snap), 0))
    });
    // A large database: 1000 tablespaces.
    let mut big = snap.clone();
    big.tablespaces = Ok((0..1000)
        .map(|i| TablespaceRow {
            tablespace_name: format!("TS_{i:04}"),
            contents: "PERMANENT".into(),
            bytes: Some(1e10),
            max_bytes: Some(3.2e10),
            used_bytes: Some(5e9 + f64::from(i)),
        })
        .collect());
    c.bench_function("oracle map_snapshot (1000 tablespaces)", |b| {
        b.iter(|| map_snapshot(black_box("ORCL"), black_box(&big), 0))
    });
}

fn alert_log(c: &mut Criterion) {
    // A realistic mix: timestamps, messages without codes, and stacked ORA- lines.
    let block = "2024-03-01T10:00:00.123456+08:00\n\
Thread 1 advanced to log sequence 14661 (LGWR switch)\n\
  Current log# 2 seq# 14661 mem# 0: /u01/oradata/ORCL/redo02.log\n\
Errors in file /u01/app/oracle/diag/rdbms/orcl/ORCL/trace/ORCL_j000_20179.trc:\n\
ORA-12012: error on auto execute of job 4242\n\
ORA-12899: value too large for column \"APP\".\"T\".\"C\" (actual: 41, maximum: 40)\n\
ORA-06512: at line 1\n\
WARNING: inbound connection timed out (ORA-3136)\n";
    let text = block.repeat(8192);
    let mut group = c.benchmark_group("oracle alert log");
    group.throughput(Throughput::Bytes(text.len() as u64));
    // The code counting the shared tailer calls per line; the tailer's own splitting and
    // I/O are measured in benches/tail.rs.
    group.bench_function("count 3.5 MiB of lines", |b| {
        b.iter(|| {
            let mut counts = AlertCounts::default();
            for line in black_box(text.as_bytes()).split(|&b| b == b'\n') {
                counts.count(Record {
                    bytes: line,
                    truncated: false,
                });
            }
            counts.counts().len()
        })
    });
    group.finish();
}

criterion_group!(benches, mapping, alert_log);
criterion_main!(benches);
