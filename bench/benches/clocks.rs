//! The clock runner's steady cost: every 500 ms the store writer looks at each live incident
//! for deadlines and escalation steps that fell due. Measured once everything due has fired
//! (the common case: nothing new, every clock already recorded), with 1,000 and 10,000 live
//! incidents. `cargo bench -p patrol-bench --bench clocks`; figures in docs/benchmarks.md.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol_proto::Labels;
use patrol_store::{Change, Store, WriteBatch};

const MIN: i64 = 60_000;
const T0: i64 = 1_795_425_120_000; // 2026-11-23T09:12:00Z

/// Two levels with office-hours and 24/7 calendars, an escalation step and a reminder that
/// notify a target.
const SITE: &str = r#"
[calendar.office]
timezone = "Europe/Berlin"
hours = ["mon-fri 08:00-18:00"]

[[level]]
name = "P2"
respond = "10m"
resolve = "6h"
escalation = "major"

[[level]]
name = "P3"
respond = "20m"
resolve = "12h"
calendar = "office"
escalation = "major"

[channel.sms]
kind = "webhook"
url = "http://127.0.0.1:9/send"

[target.manager]
members = ["Li Na"]
channels = ["sms"]

[[escalation.major.step]]
name = "not_acknowledged"
when = "unacknowledged"
after = "10m"
notify = ["manager"]

[[escalation.major.step]]
name = "progress"
when = "unresolved"
after = "30m"
every = "30m"
notify = ["manager"]
"#;

fn store_with(rt: &tokio::runtime::Runtime, dir: &std::path::Path, live: u64) -> Store {
    let site = match patrol_site::parse_site("site.toml", SITE) {
        Ok(s) => s,
        Err(e) => panic!("bench site: {e:?}"),
    };
    let (tx, _rx) = tokio::sync::broadcast::channel(1024);
    let store =
        Store::open_with_site(dir, tx, patrol_site::site_handle(site)).expect("open the store");
    rt.block_on(async {
        for chunk in (0..live).collect::<Vec<_>>().chunks(500) {
            let changes = chunk
                .iter()
                .map(|i| Change::Open {
                    rule: "disk_full".into(),
                    severity: if i % 2 == 0 { "P2" } else { "P3" }.into(),
                    fingerprint: *i,
                    host: format!("h{}", i % 100),
                    labels: Labels::from_pairs([
                        ("host", format!("h{}", i % 100)),
                        ("mount", format!("/m{i}")),
                    ]),
                    summary: "disk above 90%".into(),
                    threshold: None,
                    value: 93.0,
                    at_ms: T0,
                })
                .collect();
            store
                .commit(WriteBatch {
                    changes,
                    applied: Vec::new(),
                })
                .await
                .expect("commit");
        }
        // Everything that falls due by then fires now; the measured rounds find nothing new.
        store.run_clocks(T0 + 20 * MIN).await.expect("first round");
    });
    store
}

fn clocks(c: &mut Criterion) {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime"),
    );
    let mut g = c.benchmark_group("clocks");
    g.sample_size(20);
    for live in [1_000u64, 10_000] {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with(&rt, dir.path(), live);
        g.bench_function(format!("steady_round_{live}_live_incidents"), |b| {
            b.iter(|| {
                let fired = rt.block_on(store.run_clocks(T0 + 25 * MIN)).expect("round");
                assert_eq!(fired, 0);
            });
        });
    }
    g.finish();
}

criterion_group!(benches, clocks);
criterion_main!(benches);
