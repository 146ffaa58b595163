//! The log tailer and the WebLogic parser on a real file: records per second through
//! `Tailer::poll` (read from the page cache, split into records) and then counted by the
//! WebLogic probe's counter (parse, severity, message id, STUCK, OOM).
//! `cargo bench -p patrol-bench --bench tail`; figures in docs/benchmarks.md.

use std::io::Write;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use patrol_probes::tail::counted::Counter;
use patrol_probes::tail::{RecordStart, StartAt, TailSpec, Tailer};
use patrol_probes::weblogic::WeblogicCounts;
use patrol_probes::weblogic::parse::record_start;

/// Writes a server log of `records` messages in the 12.2.1 format: mostly one-line Info and
/// Notice messages, every 20th an Error with a 12-frame stack trace, every 100th a STUCK
/// thread. Returns the number of lines.
fn write_log(path: &Path, records: usize) -> u64 {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create log"));
    let mut lines = 0u64;
    for i in 0..records {
        let (severity, id, text) = match i % 100 {
            0 => (
                "Error",
                "BEA-000337",
                "[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Workmanager: default\n\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:\n\tsun.misc.Unsafe.park(Native Method)\n",
            ),
            n if n % 20 == 0 => (
                "Error",
                "BEA-101020",
                "[ServletContext@1][app/web] Servlet failed with an Exception\njava.lang.IllegalStateException: bad state\n\tat a.b.C.d(C.java:10)\n\tat a.b.C.e(C.java:11)\n\tat a.b.C.f(C.java:12)\n\tat a.b.C.g(C.java:13)\n\tat a.b.C.h(C.java:14)\n\tat a.b.C.i(C.java:15)\n\tat weblogic.servlet.internal.StubSecurityHelper$ServletServiceAction.run(StubSecurityHelper.java:286)\n\tat weblogic.servlet.internal.StubSecurityHelper.invokeServlet(StubSecurityHelper.java:260)\n\tat weblogic.servlet.internal.ServletStubImpl.execute(ServletStubImpl.java:137)\n\tat weblogic.work.ExecuteThread.execute(ExecuteThread.java:420)\n\tat weblogic.work.ExecuteThread.run(ExecuteThread.java:360)\nCaused By: java.lang.RuntimeException: root\n",
            ),
            n if n % 2 == 0 => (
                "Info",
                "BEA-310002",
                "62% of the total memory in the server is free.",
            ),
            _ => ("Notice", "BEA-000365", "Server state changed to RUNNING."),
        };
        let record = format!(
            "####<Mar 24, 2022 10:29:51,636 AM GMT> <{severity}> <WebLogicServer> <wls-host-01> <ms1> <[ACTIVE] ExecuteThread: '7' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <a1b2c3d4-0000-1111-2222-333344445555-000000ab> <1648117791636> <[severity-value: 64] [rid: 0] [partition-id: 0] [partition-name: DOMAIN] > <{id}> <{text}> \n"
        );
        lines += record.matches('\n').count() as u64;
        f.write_all(record.as_bytes()).expect("write");
    }
    f.flush().expect("flush");
    lines
}

fn spec(dir: &Path, record_start: RecordStart) -> TailSpec {
    TailSpec {
        dir: dir.to_owned(),
        active: "ms1.log".into(),
        rotated: None,
        record_start,
        max_record_bytes: 256 * 1024,
        start_at: StartAt::Beginning,
    }
}

fn tail(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ms1.log");
    const RECORDS: usize = 100_000;
    let lines = write_log(&path, RECORDS);
    let bytes = std::fs::metadata(&path).expect("log").len();
    eprintln!("log: {RECORDS} records, {lines} lines, {bytes} bytes");

    let mut g = c.benchmark_group("tail");
    g.sample_size(20);
    g.throughput(Throughput::Elements(lines));
    g.bench_function("weblogic_lines_split_and_counted", |b| {
        b.iter(|| {
            // The probe's own rule: `####<` or `<` and a date (the stdout format).
            let mut t = Tailer::new(spec(dir.path(), record_start()), None);
            let mut counts = WeblogicCounts::default();
            for _ in 0..2 {
                t.poll(u64::MAX, &mut |r| counts.count(r)).expect("poll");
            }
            assert_eq!(counts.stuck_threads, (RECORDS / 100) as u64);
            counts
        })
    });
    // The rule before the stdout format was read: what the date-shaped rule costs.
    g.bench_function("weblogic_prefix_rule_split_and_counted", |b| {
        b.iter(|| {
            let rule = RecordStart::Prefix(b"####<".to_vec());
            let mut t = Tailer::new(spec(dir.path(), rule), None);
            let mut counts = WeblogicCounts::default();
            for _ in 0..2 {
                t.poll(u64::MAX, &mut |r| counts.count(r)).expect("poll");
            }
            assert_eq!(counts.stuck_threads, (RECORDS / 100) as u64);
            counts
        })
    });
    g.bench_function("lines_split_only", |b| {
        b.iter(|| {
            let mut t = Tailer::new(spec(dir.path(), RecordStart::EveryLine), None);
            let mut n = 0u64;
            t.poll(u64::MAX, &mut |_| n += 1).expect("poll");
            assert_eq!(n, lines);
            n
        })
    });
    g.finish();
}

criterion_group!(benches, tail);
criterion_main!(benches);
