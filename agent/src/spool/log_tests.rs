//! The segment log against crashes, limits and a model of what it must hold.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use super::head;
use super::log::{DropCause, Limits, RESERVE_BLOCK, SegmentLog};
use super::record::{RecordHeader, framed_len};
use super::segment;

const T0: i64 = 1_700_000_000_000;

fn limits() -> Limits {
    Limits {
        max_bytes: 1 << 30,
        max_age: Duration::from_secs(3600),
        segment_bytes: 1 << 20,
    }
}

fn open(dir: &Path, l: Limits, now: i64) -> (SegmentLog, u64, super::log::OpenReport) {
    SegmentLog::open(dir, l, now, || 77).unwrap()
}

fn body(seq: u64) -> Vec<u8> {
    format!("batch {seq} body").into_bytes()
}

fn append(log: &mut SegmentLog, seq: u64, points: u32, created_ms: i64) {
    let h = RecordHeader {
        epoch: log.epoch(),
        seq,
        created_ms,
        points,
    };
    let mut frame = Vec::new();
    super::log::frame(&h, &body(seq), &mut frame);
    log.append(&h, &frame).unwrap();
}

fn read_all(log: &mut SegmentLog) -> Vec<u64> {
    let (stored, damaged) = log.read(0, u64::MAX, usize::MAX).unwrap();
    assert!(damaged.is_empty(), "{damaged:?}");
    for s in &stored {
        assert_eq!(s.body, body(s.meta.seq));
    }
    stored.iter().map(|s| s.meta.seq).collect()
}

fn only_segment(dir: &Path) -> std::path::PathBuf {
    newest_segment(dir).unwrap()
}

fn newest_segment(dir: &Path) -> Option<std::path::PathBuf> {
    let mut segs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| segment::number_of(e.file_name().to_str().unwrap()).is_some())
        .map(|e| e.path())
        .collect();
    segs.sort();
    segs.pop()
}

#[test]
fn a_torn_last_record_is_cut_off_at_every_byte_and_the_rest_survives() {
    let template = tempfile::tempdir().unwrap();
    let (mut log, first, _) = open(template.path(), limits(), T0);
    for seq in first..first + 3 {
        append(&mut log, seq, 2, T0);
    }
    log.close().unwrap();
    drop(log);
    let seg = only_segment(template.path());
    let whole = std::fs::read(&seg).unwrap();
    let last_len = framed_len(body(first + 2).len());
    let last_start = whole.len() - last_len;
    for cut in last_start..whole.len() {
        let dir = tempfile::tempdir().unwrap();
        for name in [head::FILE, seg.file_name().unwrap().to_str().unwrap()] {
            std::fs::copy(template.path().join(name), dir.path().join(name)).unwrap();
        }
        let torn = dir.path().join(seg.file_name().unwrap());
        std::fs::write(&torn, &whole[..cut]).unwrap();
        let (mut log, next, report) = open(dir.path(), limits(), T0);
        assert_eq!(read_all(&mut log), vec![first, first + 1], "cut at {cut}");
        if cut > last_start {
            assert_eq!(report.repairs.len(), 1, "cut at {cut}");
            assert_eq!(report.repairs[0].offset, last_start as u64);
            assert_eq!(report.repairs[0].bytes, (cut - last_start) as u64);
        }
        assert_eq!(std::fs::metadata(&torn).unwrap().len(), last_start as u64);
        // Numbering continues past the reservation, and the spool takes new batches.
        assert!(next >= first + 3, "cut at {cut}: next {next}");
        append(&mut log, next, 1, T0);
        log.sync().unwrap();
        assert_eq!(read_all(&mut log), vec![first, first + 1, next]);
    }
}

#[test]
fn garbage_or_zeros_after_the_last_record_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, first, _) = open(dir.path(), limits(), T0);
    append(&mut log, first, 1, T0);
    log.close().unwrap();
    drop(log);
    let seg = only_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes.extend_from_slice(&[0; 4096]);
    std::fs::write(&seg, &bytes).unwrap();
    let (mut log, _, report) = open(dir.path(), limits(), T0);
    assert_eq!(read_all(&mut log), vec![first]);
    assert_eq!(report.repairs.len(), 1);
    assert_eq!(report.repairs[0].bytes, 4096);
}

#[test]
fn a_restart_keeps_the_epoch_and_never_reuses_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, first, _) = open(dir.path(), limits(), T0);
    assert_eq!((log.epoch(), first), (77, 1));
    assert_eq!(log.reserved(), 1 + RESERVE_BLOCK);
    for seq in 1..=5 {
        append(&mut log, seq, 1, T0);
    }
    log.ack(2).unwrap();
    log.close().unwrap();
    drop(log);
    let (mut log, next, report) = SegmentLog::open(dir.path(), limits(), T0, || {
        panic!("the epoch on disk must be kept")
    })
    .unwrap();
    assert_eq!(log.epoch(), 77);
    assert_eq!(report.pending_batches, 3);
    assert_eq!(read_all(&mut log), vec![3, 4, 5]);
    // Numbers up to the old reservation may have been handed out: continue after it.
    assert_eq!(next, 1 + RESERVE_BLOCK);
    assert!(log.reserved() > next);
}

#[test]
fn acknowledged_segments_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits {
        segment_bytes: 200,
        ..limits()
    };
    let (mut log, _, _) = open(dir.path(), l, T0);
    for seq in 1..=20 {
        append(&mut log, seq, 1, T0);
    }
    log.sync().unwrap();
    let before = log.bytes();
    log.ack(20).unwrap();
    assert_eq!(log.pending_batches(), 0);
    assert!(log.bytes() < before / 4, "{} of {before}", log.bytes());
    assert_eq!(read_all(&mut log), Vec::<u64>::new());
}

#[test]
fn over_max_bytes_the_oldest_segments_go_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits {
        max_bytes: 1000,
        segment_bytes: 250,
        ..limits()
    };
    let (mut log, _, _) = open(dir.path(), l, T0);
    let mut dropped = Vec::new();
    for seq in 1..=40 {
        append(&mut log, seq, 3, T0);
        dropped.extend(log.trim(T0).unwrap());
    }
    assert!(log.bytes() <= 1000, "{}", log.bytes());
    assert!(!dropped.is_empty());
    assert!(dropped.iter().all(|d| d.cause == DropCause::Full));
    let lost: u64 = dropped.iter().map(|d| d.batches).sum();
    let kept = read_all(&mut log);
    // What is left is the newest batches, contiguous, and together with the dropped ones
    // accounts for every batch.
    assert_eq!(kept, ((lost + 1)..=40).collect::<Vec<_>>());
    assert_eq!(dropped.iter().map(|d| d.samples).sum::<u64>(), lost * 3);
    assert_eq!(dropped.last().unwrap().through_seq, lost);
}

#[test]
fn acknowledged_batches_are_not_counted_when_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits {
        max_bytes: 1000,
        segment_bytes: 250,
        ..limits()
    };
    let (mut log, _, _) = open(dir.path(), l, T0);
    for seq in 1..=5 {
        append(&mut log, seq, 1, T0);
    }
    log.ack(4).unwrap();
    let dropped: Vec<_> = (6..=40)
        .flat_map(|seq| {
            append(&mut log, seq, 1, T0);
            log.trim(T0).unwrap()
        })
        .collect();
    let lost: u64 = dropped.iter().map(|d| d.batches).sum();
    assert_eq!(read_all(&mut log).first().copied(), Some(5 + lost));
}

#[test]
fn batches_older_than_max_age_go_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let l = Limits {
        segment_bytes: 200,
        ..limits()
    };
    let (mut log, _, _) = open(dir.path(), l, T0);
    for seq in 1..=10 {
        append(&mut log, seq, 2, T0 + seq as i64 * 60_000);
    }
    log.sync().unwrap();
    // One hour after batch 6 was made: 1..=6 are past max_age (1h), per whole segment.
    let now = T0 + 6 * 60_000 + 3_600_001;
    let dropped = log.trim(now).unwrap();
    assert!(dropped.iter().all(|d| d.cause == DropCause::Expired));
    let lost: u64 = dropped.iter().map(|d| d.batches).sum();
    assert!((1..=6).contains(&lost), "{lost}");
    let kept = read_all(&mut log);
    assert_eq!(kept, ((lost + 1)..=10).collect::<Vec<_>>());
    assert!(kept.iter().all(|&s| s > 6 || s > lost));
    // Also at open: a spool left alone for a day comes back empty, and says what it lost.
    log.close().unwrap();
    drop(log);
    let (mut log, _, report) = open(dir.path(), l, now + 86_400_000);
    assert_eq!(read_all(&mut log), Vec::<u64>::new());
    assert_eq!(
        report.dropped.iter().map(|d| d.batches).sum::<u64>(),
        10 - lost
    );
}

#[test]
fn a_lost_head_resends_everything_and_numbers_past_any_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let (mut log, _, _) = open(dir.path(), limits(), T0);
    for seq in 1..=3 {
        append(&mut log, seq, 1, T0);
    }
    log.ack(1).unwrap();
    log.close().unwrap();
    drop(log);
    std::fs::remove_file(head::path(dir.path())).unwrap();
    let (mut log, next, _) = open(dir.path(), limits(), T0);
    assert_eq!(log.epoch(), 77);
    assert_eq!(read_all(&mut log), vec![1, 2, 3]);
    assert!(next > 3 + RESERVE_BLOCK);
}

#[test]
fn a_damaged_head_without_batches_starts_a_new_epoch_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _, _) = open(dir.path(), limits(), T0);
    drop(log);
    std::fs::write(head::path(dir.path()), b"garbage").unwrap();
    let (log, next, report) = SegmentLog::open(dir.path(), limits(), T0, || 99).unwrap();
    assert_eq!((log.epoch(), next), (99, 1));
    assert!(report.lost.is_some());
}

#[derive(Debug, Clone)]
enum Op {
    Append(u8),
    Ack(u8),
    Reopen,
    Tear(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..5).prop_map(Op::Append),
        2 => any::<u8>().prop_map(Op::Ack),
        1 => Just(Op::Reopen),
        1 => (1u8..40).prop_map(Op::Tear),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Replay order is append order: whatever interleaving of appends, acks, restarts and torn
    /// last writes, reading the spool gives exactly the unacknowledged batches in the order
    /// they were appended, each once.
    #[test]
    fn replay_is_append_order(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let l = Limits { segment_bytes: 300, ..limits() };
        let (mut log, mut next, _) = open(dir.path(), l, T0);
        let mut model: Vec<u64> = Vec::new();
        let mut acked = 0;
        for op in ops {
            match op {
                Op::Append(n) => {
                    for _ in 0..n {
                        append(&mut log, next, 1, T0);
                        model.push(next);
                        next += 1;
                    }
                    log.sync().unwrap();
                }
                Op::Ack(k) => {
                    let seq = model.get(k as usize % (model.len() + 1)).copied().unwrap_or(acked);
                    log.ack(seq).unwrap();
                    acked = acked.max(seq);
                    model.retain(|&s| s > acked);
                }
                Op::Reopen => {
                    log.close().unwrap();
                    drop(log);
                    let (l2, n2, _) = open(dir.path(), l, T0);
                    prop_assert!(n2 >= next);
                    log = l2;
                    next = n2;
                }
                Op::Tear(bytes) => {
                    // A crash in the middle of writing one more batch.
                    log.close().unwrap();
                    drop(log);
                    let Some(seg) = newest_segment(dir.path()) else {
                        let (l2, n2, _) = open(dir.path(), l, T0);
                        log = l2;
                        next = n2;
                        continue;
                    };
                    let mut frame = Vec::new();
                    let h = RecordHeader { epoch: 77, seq: next, created_ms: T0, points: 1 };
                    super::log::frame(&h, &body(next), &mut frame);
                    let cut = (bytes as usize).min(frame.len() - 1);
                    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
                    std::io::Write::write_all(&mut f, &frame[..cut]).unwrap();
                    drop(f);
                    let (l2, n2, _) = open(dir.path(), l, T0);
                    prop_assert!(n2 > next);
                    log = l2;
                    next = n2;
                }
            }
            prop_assert_eq!(read_all(&mut log), model.clone());
            prop_assert_eq!(log.pending_batches(), model.len() as u64);
        }
    }
}
