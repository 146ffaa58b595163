//! Spool append throughput: one batch record (a 40-point probe round, ~1 KiB) appended to the
//! segment log, with the three durability choices the writer could make: no fsync, an
//! fdatasync per batch, and the group commit it uses (one fdatasync per group of queued
//! batches; groups of 16 and 64 shown). Figures in docs/benchmarks.md.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use patrol_agent::spool::log::{Limits, SegmentLog, frame};
use patrol_agent::spool::record::RecordHeader;

fn bench(c: &mut Criterion) {
    let body = vec![0x5au8; 1000];
    let mut g = c.benchmark_group("spool_append");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    for (name, group) in [
        ("no_sync", 0usize),
        ("sync_each", 1),
        ("group_16", 16),
        ("group_64", 64),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let limits = Limits::new(1 << 30, Duration::from_secs(86_400));
        let (mut log, mut seq, _) =
            SegmentLog::open(dir.path(), limits, 0, || 1).expect("open spool");
        let mut buf = Vec::new();
        g.throughput(Throughput::Elements(1));
        g.bench_function(BenchmarkId::new("batch_1KiB", name), |b| {
            b.iter(|| {
                let h = RecordHeader {
                    epoch: 1,
                    seq,
                    created_ms: 0,
                    points: 40,
                };
                frame(&h, &body, &mut buf);
                log.append(&h, &buf).expect("append");
                if group > 0 && seq.is_multiple_of(group as u64) {
                    log.sync().expect("sync");
                }
                if seq.is_multiple_of(4096) {
                    // Keep the spool small: acknowledge what is written, as the collector would.
                    log.ack(seq).expect("ack");
                }
                seq += 1;
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
