//! What `/metrics` and `patrolctl channels status` cost as the outbox grows: the per-channel
//! figures (pending, sent, dead, refused, oldest pending and its error) over an outbox of
//! 10,000 and 300,000 delivered rows on three channels. "counted" runs the query those figures
//! came from before schema v6 (a pass over every row); "kept" is `Store::outbox_backlog`,
//! reading the figures the triggers keep. `cargo bench -p patrol-bench --bench outbox_status`;
//! figures in docs/benchmarks.md.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use patrol_store::{DB_FILE, Store};

/// The query `outbox_backlog` ran before schema v6.
const COUNTED: &str = "SELECT channel, \
       SUM(state = 'pending'), SUM(state = 'sent'), SUM(state = 'dead'), \
       SUM(state = 'dead' AND attempts = 0), \
       MIN(CASE WHEN state = 'pending' THEN created_ms END), \
       (SELECT last_error FROM notify_outbox o2 WHERE o2.channel = o.channel \
          AND o2.state = 'pending' ORDER BY o2.id LIMIT 1) \
     FROM notify_outbox o GROUP BY channel ORDER BY channel";

/// A store whose outbox holds `rows` sent notifications with payloads of a realistic size.
fn store_with(dir: &std::path::Path, rows: i64) -> Store {
    let (tx, _rx) = tokio::sync::broadcast::channel(16);
    let site = patrol_site::site_handle(Default::default());
    let store = match Store::open_with(dir, tx, site, None) {
        Ok(s) => s,
        Err(e) => panic!("open the store: {e}"),
    };
    let conn = rusqlite::Connection::open(dir.join(DB_FILE)).expect("open the database");
    // Rows only: the bench measures reading figures, not the journal they came from.
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN")
        .expect("begin");
    let payload = "x".repeat(800);
    {
        let mut insert = conn
            .prepare(
                "INSERT INTO notify_outbox (event_id, incident_id, channel, route, payload, \
                 state, attempts, next_ms, created_ms, done_ms) \
                 VALUES (?1, ?2, ?3, 'changes', ?4, 'sent', 1, ?1, ?1, ?1)",
            )
            .expect("prepare");
        for i in 0..rows {
            let channel = ["mail", "noc-mqtt", "sms"][(i % 3) as usize];
            insert
                .execute(rusqlite::params![i + 1, i / 3 + 1, channel, payload])
                .expect("insert");
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
    store
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("outbox_status");
    group.sample_size(20);
    for rows in [10_000, 300_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(dir.path(), rows);
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).expect("open");
        let figures = store.outbox_backlog().expect("figures");
        assert_eq!(figures.iter().map(|b| b.sent).sum::<u64>(), rows as u64);
        group.bench_with_input(BenchmarkId::new("counted", rows), &rows, |b, _| {
            b.iter(|| {
                let mut stmt = conn.prepare_cached(COUNTED).expect("prepare");
                let n = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .expect("query")
                    .count();
                assert_eq!(n, 3);
            });
        });
        group.bench_with_input(BenchmarkId::new("kept", rows), &rows, |b, _| {
            b.iter(|| assert_eq!(store.outbox_backlog().expect("figures").len(), 3));
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
