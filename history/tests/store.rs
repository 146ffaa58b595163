//! The history on real files: what is appended reads back through memory, the chunk database
//! and a restart; a torn log tail and a damaged record are skipped and counted; retention and
//! the disk cap remove the oldest data first.

#![allow(clippy::unwrap_used)] // a failing unwrap is a failing test

use std::time::Duration;

use patrol_history::query::{Answer, parse};
use patrol_history::read::Budget;
use patrol_history::{History, HistoryConfig, Sample};
use patrol_proto::Labels;
use patrol_proto::model::now_ms;

fn cfg() -> HistoryConfig {
    HistoryConfig {
        // Short chunks so a test fills several.
        chunk_samples: 16,
        chunk_minutes: 8,
        flush_interval: Duration::from_millis(20),
        checkpoint_interval: Duration::from_secs(3600),
        ..HistoryConfig::default()
    }
}

fn labels(host: &str) -> Labels {
    Labels::from_pairs([("host", host)])
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn raw(h: &History, name: &str, host: &str) -> Vec<(i64, f64)> {
    let e = h
        .select(Some(name), |e| e.labels == labels(host), 10)
        .unwrap()
        .pop()
        .expect("series exists");
    h.raw(&e, i64::MIN, i64::MAX, &mut Budget::new(u64::MAX))
        .unwrap()
}

#[test]
fn samples_read_back_from_memory_the_database_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let start = now_ms() - 3_600_000;
    let expected: Vec<(i64, f64)> = (0..200)
        .map(|i| (start + i * 10_000, (i % 7) as f64 * 1.5))
        .collect();
    {
        let h = History::open(dir.path(), cfg()).unwrap();
        let a = h.series("cpu_usage_percent", &labels("db1"));
        let b = h.series("cpu_usage_percent", &labels("db2"));
        for chunk in expected.chunks(25) {
            let samples = chunk
                .iter()
                .flat_map(|&(ts, value)| {
                    [
                        Sample {
                            series: a,
                            ts,
                            value,
                        },
                        Sample {
                            series: b,
                            ts,
                            value: value + 1.0,
                        },
                    ]
                })
                .collect();
            let r = rt.block_on(h.append(samples)).unwrap();
            assert_eq!(r.older, 0);
        }
        // A resent batch changes nothing.
        let again = expected[..25]
            .iter()
            .map(|&(ts, value)| Sample {
                series: a,
                ts,
                value,
            })
            .collect();
        let r = rt.block_on(h.append(again)).unwrap();
        assert_eq!((r.kept, r.older), (0, 25));
        assert_eq!(raw(&h, "cpu_usage_percent", "db1"), expected);
        h.checkpoint().unwrap();
        assert_eq!(raw(&h, "cpu_usage_percent", "db1"), expected);
        assert!(h.stats().chunks_flushed.get() > 0);
    }
    let h = History::open(dir.path(), cfg()).unwrap();
    assert_eq!(raw(&h, "cpu_usage_percent", "db1"), expected);
    let db2 = raw(&h, "cpu_usage_percent", "db2");
    assert_eq!(db2.len(), 200);
    assert_eq!(db2[199].1, expected[199].1 + 1.0);
    // Samples appended after the restart go on the same series.
    let a = h.series("cpu_usage_percent", &labels("db1"));
    let t = start + 200 * 10_000;
    rt.block_on(h.append(vec![Sample {
        series: a,
        ts: t,
        value: 9.0,
    }]))
    .unwrap();
    assert_eq!(raw(&h, "cpu_usage_percent", "db1").last(), Some(&(t, 9.0)));
}

#[test]
fn without_a_checkpoint_the_log_alone_brings_everything_back() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let start = now_ms() - 600_000;
    let expected: Vec<(i64, f64)> = (0..50).map(|i| (start + i * 1_000, i as f64)).collect();
    {
        let h = History::open(dir.path(), cfg()).unwrap();
        let a = h.series("m", &labels("x"));
        let samples = expected
            .iter()
            .map(|&(ts, value)| Sample {
                series: a,
                ts,
                value,
            })
            .collect();
        rt.block_on(h.append(samples)).unwrap();
        // Dropped without a checkpoint: sealed chunks were flushed, the open ones live only
        // in the log.
    }
    let h = History::open(dir.path(), cfg()).unwrap();
    assert_eq!(raw(&h, "m", "x"), expected);
    // Reopening twice (the log replayed over flushed chunks) still duplicates nothing.
    drop(h);
    let h = History::open(dir.path(), cfg()).unwrap();
    assert_eq!(raw(&h, "m", "x"), expected);
    let mut b = Budget::new(u64::MAX);
    let e = h.select(Some("m"), |_| true, 10).unwrap().pop().unwrap();
    let minutes = h.minutes(&e, i64::MIN, i64::MAX, &mut b).unwrap();
    assert_eq!(
        minutes.iter().map(|m| m.count).sum::<u64>(),
        50,
        "each sample once in the minutes"
    );
}

#[test]
fn a_torn_log_tail_and_a_damaged_record_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let start = now_ms() - 600_000;
    {
        let h = History::open(dir.path(), cfg()).unwrap();
        let a = h.series("m", &labels("x"));
        for i in 0..3 {
            rt.block_on(h.append(vec![Sample {
                series: a,
                ts: start + i,
                value: i as f64,
            }]))
            .unwrap();
        }
    }
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    let last = segs
        .iter()
        .rev()
        .find(|p| std::fs::metadata(p).unwrap().len() > 0)
        .unwrap()
        .clone();
    let mut bytes = std::fs::read(&last).unwrap();
    // Records: series definition, then three sample records. Flip a byte of the second
    // sample record's payload, and add half a record at the end.
    let mut offsets = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        offsets.push(pos);
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    assert_eq!(offsets.len(), 4);
    bytes[offsets[2] + 9] ^= 0xff;
    bytes.extend_from_slice(&[40, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&last, &bytes).unwrap();
    let h = History::open(dir.path(), cfg()).unwrap();
    assert_eq!(raw(&h, "m", "x"), vec![(start, 0.0), (start + 2, 2.0)]);
    assert_eq!(h.stats().wal_records_damaged.get(), 2);
    assert_eq!(h.stats().wal_bytes_damaged.get(), 7);
    assert_eq!(
        std::fs::metadata(&last).unwrap().len() as usize,
        bytes.len() - 7,
        "the torn tail is cut"
    );
}

#[test]
fn retention_keeps_minutes_longer_than_samples_and_queries_use_them() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let now = now_ms();
    let day = 86_400_000;
    let h = History::open(
        dir.path(),
        HistoryConfig {
            raw_retention: Duration::from_secs(2 * 86_400),
            aggregate_retention: Duration::from_secs(10 * 86_400),
            ..cfg()
        },
    )
    .unwrap();
    let a = h.series("disk_used_percent", &labels("x"));
    // 20 days ago (gone everywhere), 5 days ago (only minutes left), an hour ago (both).
    for (age, v) in [(20 * day, 10.0), (5 * day, 50.0), (3_600_000, 90.0)] {
        let samples = (0..120)
            .map(|i| Sample {
                series: a,
                ts: now - age + i * 1_000,
                value: v + (i % 3) as f64,
            })
            .collect();
        rt.block_on(h.append(samples)).unwrap();
    }
    h.checkpoint().unwrap();
    assert_eq!(h.stats().retention_raw_samples.get(), 240);
    assert!(h.stats().retention_minutes.get() >= 2);
    let e = h
        .select(Some("disk_used_percent"), |_| true, 1)
        .unwrap()
        .pop()
        .unwrap();
    let raw = h
        .raw(&e, i64::MIN, i64::MAX, &mut Budget::new(u64::MAX))
        .unwrap();
    assert_eq!(raw.len(), 120);
    let q = parse("max_over_time(disk_used_percent[1d])").unwrap();
    let Answer::Vector(v) = h.instant(&q, now - 4 * day, 300_000, now).unwrap() else {
        panic!()
    };
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].2, 52.0, "the max of the minutes 5 days ago");
    let Answer::Vector(v) = h.instant(&q, now - 15 * day, 300_000, now).unwrap() else {
        panic!()
    };
    assert!(v.is_empty(), "20 days ago is past the aggregate retention");
}

#[test]
fn series_whose_data_retention_took_are_removed_and_their_ids_not_reused() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let now = now_ms();
    let day = 86_400_000;
    let config = HistoryConfig {
        raw_retention: Duration::from_secs(2 * 86_400),
        aggregate_retention: Duration::from_secs(10 * 86_400),
        ..cfg()
    };
    let one = |id: u32, ts: i64| {
        vec![Sample {
            series: id,
            ts,
            value: 1.0,
        }]
    };
    let never_fed;
    {
        let h = History::open(dir.path(), config.clone()).unwrap();
        let kept = h.series("m", &labels("kept"));
        let quiet = h.series("m", &labels("quiet"));
        let gone = h.series("m", &labels("gone"));
        // The highest id: after a restart it must not be given out again.
        never_fed = h.series("m", &labels("never-fed"));
        // An hour ago (everything kept), 5 days ago (minutes kept), 20 days ago (nothing).
        for (id, age) in [(kept, 3_600_000), (quiet, 5 * day), (gone, 20 * day)] {
            let samples = (0..120)
                .map(|i| Sample {
                    series: id,
                    ts: now - age + i * 1_000,
                    value: i as f64,
                })
                .collect();
            rt.block_on(h.append(samples)).unwrap();
        }
        assert_eq!((h.memory().0, h.removals()), (4, 0));
        h.checkpoint().unwrap();
        assert_eq!(h.stats().series_removed.get(), 2);
        assert_eq!((h.memory().0, h.stats().series.get()), (2, 2));
        assert_eq!(
            h.removals(),
            1,
            "callers holding ids are told to look them up again"
        );
        let hosts: Vec<String> = h
            .select(Some("m"), |_| true, 10)
            .unwrap()
            .iter()
            .map(|e| e.labels.get("host").unwrap().to_owned())
            .collect();
        assert_eq!(hosts.len(), 2, "{hosts:?}");
        // A sample already on its way when the series was removed brings it back.
        rt.block_on(h.append(one(gone, now))).unwrap();
        assert_eq!(h.memory().0, 3);
        assert_eq!(raw(&h, "m", "gone"), vec![(now, 1.0)]);
        // The next pass ends the limbo: the never-fed series' id is dead now.
        h.checkpoint().unwrap();
        assert_eq!(h.stats().series_removed.get(), 2);
        rt.block_on(h.append(one(never_fed, now))).unwrap();
        assert_eq!(h.stats().samples_removed_series.get(), 1);
        assert_eq!(h.memory().0, 3);
    }
    let h = History::open(dir.path(), config).unwrap();
    assert_eq!(
        h.memory().0,
        3,
        "the removed series stays removed after a restart"
    );
    assert_eq!(raw(&h, "m", "kept").len(), 120);
    assert_eq!(raw(&h, "m", "gone"), vec![(now, 1.0)]);
    let back = h.series("m", &labels("never-fed"));
    assert!(
        back > never_fed,
        "a returning series gets a new id ({back} after {never_fed})"
    );
    rt.block_on(h.append(one(back, now))).unwrap();
    assert_eq!(raw(&h, "m", "never-fed"), vec![(now, 1.0)]);
}

#[test]
fn over_the_disk_cap_the_oldest_raw_chunks_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let now = now_ms();
    let h = History::open(
        dir.path(),
        HistoryConfig {
            max_disk: bytesize::ByteSize::mib(1),
            segment_size: bytesize::ByteSize::kib(64),
            chunk_samples: 120,
            ..cfg()
        },
    )
    .unwrap();
    // Random-looking values compress badly: ~8 bytes a sample, ~2.4 MB in all.
    let ids: Vec<u32> = (0..10)
        .map(|i| h.series("noise", &labels(&format!("h{i}"))))
        .collect();
    let mut x: u64 = 88172645463325252;
    for step in 0..3_000i64 {
        let samples = ids
            .iter()
            .map(|&id| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                Sample {
                    series: id,
                    ts: now - 86_400_000 + step * 10_000,
                    value: f64::from_bits(x >> 12 | 0x3ff0_0000_0000_0000),
                }
            })
            .collect();
        rt.block_on(h.append(samples)).unwrap();
    }
    h.checkpoint().unwrap();
    assert!(
        h.stats().cap_raw_samples.get() > 0,
        "raw samples removed for the cap"
    );
    assert_eq!(
        h.stats().cap_minutes.get(),
        0,
        "minutes are kept while raw data can go"
    );
    assert!(
        h.stats().disk_bytes.get() <= 1024 * 1024,
        "{}",
        h.stats().disk_bytes.get()
    );
    let e = h
        .select(Some("noise"), |_| true, 100)
        .unwrap()
        .pop()
        .unwrap();
    let raw = h
        .raw(&e, i64::MIN, i64::MAX, &mut Budget::new(u64::MAX))
        .unwrap();
    assert!(raw.len() < 3_000 && !raw.is_empty());
    assert_eq!(
        raw.last().unwrap().0,
        now - 86_400_000 + 2_999 * 10_000,
        "the newest samples stay"
    );
}

#[test]
fn a_corrupt_chunk_is_skipped_and_counted_and_the_rest_reads() {
    let dir = tempfile::tempdir().unwrap();
    let rt = rt();
    let start = now_ms() - 3_600_000;
    {
        let h = History::open(dir.path(), cfg()).unwrap();
        let a = h.series("m", &labels("a"));
        let b = h.series("m", &labels("b"));
        let samples: Vec<Sample> = (0..64)
            .flat_map(|i| {
                [a, b].map(|series| Sample {
                    series,
                    ts: start + i * 1_000,
                    value: i as f64,
                })
            })
            .collect();
        rt.block_on(h.append(samples)).unwrap();
        h.checkpoint().unwrap();
    }
    // Garble every raw chunk of series a in the database (as a bad disk would).
    {
        let db = rusqlite::Connection::open(dir.path().join("chunks.db")).unwrap();
        let n = db
            .execute(
                "UPDATE chunks SET data = zeroblob(length(data)) WHERE series = 0 AND tier = 0",
                [],
            )
            .unwrap();
        assert!(n > 0);
    }
    let h = History::open(dir.path(), cfg()).unwrap();
    let b = raw(&h, "m", "b");
    assert_eq!(b.len(), 64, "the other series reads whole");
    let a = raw(&h, "m", "a");
    assert!(a.len() < 64, "what decoded before the damage, at most");
    assert!(h.stats().chunks_corrupt.get() > 0);
}
