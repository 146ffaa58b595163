//! The tailer on real files: rename rotation, truncation, restart from saved state,
//! malformed input, and a model-based test of random sequences of those.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

const LOG: &str = "server.log";

fn spec(dir: &Path, start_at: StartAt) -> TailSpec {
    TailSpec {
        dir: dir.to_owned(),
        active: LOG.into(),
        rotated: Some(glob::Pattern::new("server.log?*").expect("pattern")),
        record_start: RecordStart::Prefix(b"####<".to_vec()),
        max_record_bytes: 4096,
        start_at,
    }
}

fn append(dir: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG))
        .expect("open log");
    f.write_all(bytes).expect("append");
}

/// WebLogic-style rename rotation: the live file becomes the next numbered one.
fn rotate(dir: &Path, n: u32) -> PathBuf {
    let to = dir.join(format!("{LOG}{n:05}"));
    std::fs::rename(dir.join(LOG), &to).expect("rotate");
    to
}

fn poll_all(t: &mut Tailer) -> Vec<String> {
    let mut out = Vec::new();
    t.poll(u64::MAX, &mut |r| {
        out.push(String::from_utf8_lossy(r.bytes).into_owned())
    })
    .expect("poll");
    out
}

/// Polls twice: the second, quiet poll hands over the last record.
fn drain(t: &mut Tailer) -> Vec<String> {
    let mut out = poll_all(t);
    out.extend(poll_all(t));
    out
}

fn rec(n: u32) -> String {
    format!(
        "####<{n}> <Info> <S> <m> <s> <t> <> <> <> <{n}> <BEA-000001> <message {n}\n\tat frame({n})\n> \n"
    )
}

fn ids(records: &[String]) -> Vec<u32> {
    records
        .iter()
        .map(|r| {
            r.strip_prefix("####<")
                .and_then(|r| r.split('>').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a test record: {r:?}"))
        })
        .collect()
}

#[test]
fn starts_at_the_end_of_an_existing_log_then_follows_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), rec(1).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::End), None);
    assert!(drain(&mut t).is_empty(), "history is not counted");
    append(dir.path(), (rec(2) + &rec(3)).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [2, 3]);
}

#[test]
fn start_at_beginning_reads_what_is_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    let first = poll_all(&mut t);
    assert_eq!(
        ids(&first),
        [1],
        "the last record waits for the next or a quiet poll"
    );
    assert_eq!(first[0], rec(1).trim_end_matches('\n'));
    assert_eq!(ids(&poll_all(&mut t)), [2]);
}

#[test]
fn rename_rotation_drains_the_old_file_then_reads_the_new_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), rec(1).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    assert_eq!(ids(&poll_all(&mut t)), Vec::<u32>::new());
    // Written just before the rotation, then two rotations before the next poll.
    append(dir.path(), rec(2).as_bytes());
    rotate(dir.path(), 1);
    append(dir.path(), rec(3).as_bytes());
    rotate(dir.path(), 2);
    append(dir.path(), (rec(4) + "####<5> partial last li").as_bytes());
    // Record 4 closes only when the line after it is whole: the writer is mid-line.
    assert_eq!(ids(&drain(&mut t)), [1, 2, 3]);
    assert_eq!(t.stats().rotations, 2);
    append(dir.path(), "ne\n".as_bytes());
    rotate(dir.path(), 3);
    append(dir.path(), rec(6).as_bytes());
    let out = drain(&mut t);
    assert_eq!(ids(&out), [4, 5, 6]);
    assert_eq!(out[1], "####<5> partial last line");
}

#[test]
fn truncation_restarts_from_the_beginning() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    assert_eq!(ids(&drain(&mut t)), [1, 2]);
    // copytruncate: emptied in place, then written again, shorter than before.
    std::fs::File::create(dir.path().join(LOG)).expect("truncate");
    append(dir.path(), rec(3).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [3]);
    assert_eq!(t.stats().truncations, 1);
    // Emptied and rewritten longer than the old position: caught by the fingerprint.
    std::fs::File::create(dir.path().join(LOG)).expect("truncate");
    append(dir.path(), (rec(40) + &rec(41) + &rec(42)).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [40, 41, 42]);
    assert_eq!(t.stats().truncations, 2);
}

#[test]
fn restart_resumes_at_the_saved_position_even_after_a_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    assert_eq!(ids(&poll_all(&mut t)), [1]);
    let saved = t.state();
    drop(t);
    // While the agent is down: more lines, a rotation, a new file.
    append(dir.path(), rec(3).as_bytes());
    rotate(dir.path(), 1);
    append(dir.path(), rec(4).as_bytes());
    let json = serde_json::to_string(&saved).expect("state serializes");
    let saved: TailState = serde_json::from_str(&json).expect("state deserializes");
    let mut t = Tailer::new(spec(dir.path(), StartAt::End), Some(saved));
    assert_eq!(
        ids(&drain(&mut t)),
        [2, 3, 4],
        "record 2 was pending at the save"
    );
}

#[test]
fn a_saved_file_that_is_gone_is_counted_as_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), rec(1).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    drain(&mut t);
    let saved = t.state();
    drop(t);
    let old = rotate(dir.path(), 1);
    std::fs::remove_file(old).expect("delete");
    append(dir.path(), rec(2).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::End), Some(saved));
    assert_eq!(ids(&drain(&mut t)), [2]);
    // The new file may get the deleted one's inode: with birth times it is still told apart
    // (a loss); without, it is taken for the old file rewritten (a truncation).
    let stats = t.stats();
    assert_eq!(stats.lost + stats.truncations, 1, "{stats:?}");
}

#[test]
fn absurd_lines_and_binary_garbage_stay_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    let mut garbage = rec(1).into_bytes();
    garbage.extend(std::iter::repeat_n(0xffu8, 3 * 1024 * 1024)); // 3 MiB, no newline
    garbage.extend_from_slice(b"\n####<\xc3\x28> <Error>\x00\n");
    garbage.extend_from_slice(rec(2).as_bytes());
    append(dir.path(), &garbage);
    let mut sizes = Vec::new();
    let mut cut = 0;
    for _ in 0..2 {
        t.poll(u64::MAX, &mut |r| {
            sizes.push(r.bytes.len());
            cut += usize::from(r.truncated);
        })
        .expect("poll");
    }
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(sizes.iter().all(|s| *s <= 4096), "{sizes:?}");
    assert_eq!((cut, t.stats().oversized), (1, 1));
}

#[test]
fn budget_spreads_a_backlog_over_polls_without_loss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: String = (0..200).map(rec).collect();
    append(dir.path(), text.as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    let mut out = Vec::new();
    let mut polls = 0;
    loop {
        polls += 1;
        let o = t
            .poll(1000, &mut |r| {
                out.push(String::from_utf8_lossy(r.bytes).into_owned())
            })
            .expect("poll");
        if !o.more && o.bytes == 0 {
            break;
        }
    }
    assert!(polls > 10);
    assert_eq!(ids(&out), (0..200).collect::<Vec<_>>());
}

#[test]
fn missing_directory_is_an_error_and_a_missing_file_is_waited_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(&dir.path().join("nope"), StartAt::End), None);
    assert!(matches!(
        t.poll(1, &mut |_| {}),
        Err(TailError::List { .. })
    ));
    let mut t = Tailer::new(spec(dir.path(), StartAt::End), None);
    assert!(t.poll(1 << 20, &mut |_| {}).expect("poll").missing);
    // Appears after the tailer started: new, so read from its start.
    append(dir.path(), rec(7).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [7]);
}

#[test]
fn compressed_rotations_are_ignored() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), rec(1).as_bytes());
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    drain(&mut t);
    rotate(dir.path(), 1);
    std::fs::write(dir.path().join("server.log00002.gz"), b"\x1f\x8b binary").expect("gz");
    append(dir.path(), rec(2).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [2]);
}

#[test]
fn a_renamed_and_deleted_file_is_read_to_its_end_through_its_handle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    poll_all(&mut t);
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    assert_eq!(ids(&poll_all(&mut t)), [1]);
    append(dir.path(), rec(3).as_bytes());
    let old = rotate(dir.path(), 1);
    std::fs::remove_file(old).expect("delete");
    append(dir.path(), rec(4).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [2, 3, 4]);
    let stats = t.stats();
    assert_eq!((stats.lost, stats.rotations), (0, 1));
}

#[test]
fn files_rotated_and_deleted_between_polls_are_counted_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    append(dir.path(), rec(1).as_bytes());
    assert!(drain(&mut t).len() == 1);
    // Three files come and go before the next poll; the fourth is still there.
    let first = rotate(dir.path(), 1);
    for n in 2..5 {
        append(dir.path(), rec(n).as_bytes());
        let rotated = rotate(dir.path(), n);
        if n < 4 {
            std::fs::remove_file(rotated).expect("delete");
        }
    }
    std::fs::remove_file(first).expect("delete");
    append(dir.path(), rec(5).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [4, 5]);
    let stats = t.stats();
    assert_eq!(stats.lost, 2, "the files of records 2 and 3: {stats:?}");
    assert_eq!(stats.rotations, 4, "every new file once, lost ones too");
}

#[test]
fn copy_truncate_copy_is_read_from_where_the_live_file_was_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    assert_eq!(ids(&poll_all(&mut t)), [1]);
    // Written after that poll: only the copy has it once the live file is truncated.
    append(dir.path(), rec(3).as_bytes());
    std::fs::copy(dir.path().join(LOG), dir.path().join("server.log.1")).expect("copy");
    std::fs::File::create(dir.path().join(LOG)).expect("truncate");
    append(dir.path(), rec(4).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [2, 3, 4]);
    let stats = t.stats();
    assert_eq!((stats.truncations, stats.rotations, stats.lost), (1, 1, 0));
}

#[test]
fn copy_seen_before_the_truncation_follows_the_live_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    assert_eq!(ids(&poll_all(&mut t)), [1]);
    std::fs::copy(dir.path().join(LOG), dir.path().join("server.log.1")).expect("copy");
    append(dir.path(), rec(3).as_bytes());
    // The copy is only a duplicate of what the live file still holds.
    assert_eq!(ids(&poll_all(&mut t)), [2]);
    std::fs::File::create(dir.path().join(LOG)).expect("truncate");
    append(dir.path(), rec(4).as_bytes());
    assert_eq!(ids(&drain(&mut t)), [3, 4]);
}

#[test]
fn a_new_rotated_file_that_merely_starts_like_the_live_one_is_read_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut t = Tailer::new(spec(dir.path(), StartAt::Beginning), None);
    append(dir.path(), "####<1".as_bytes());
    assert!(poll_all(&mut t).is_empty(), "half a line");
    // Another file whose first bytes are the same as the few read of the live file.
    std::fs::write(
        dir.path().join("server.log.1"),
        (rec(10) + &rec(11)).as_bytes(),
    )
    .expect("write");
    append(dir.path(), "> live\n".as_bytes());
    let mut got = drain(&mut t);
    got.sort();
    let mut want = vec![
        "####<1> live".to_owned(),
        rec(10).trim_end_matches('\n').to_owned(),
        rec(11).trim_end_matches('\n').to_owned(),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn state_written_before_per_file_positions_still_loads() {
    let dir = tempfile::tempdir().expect("tempdir");
    append(dir.path(), (rec(1) + &rec(2)).as_bytes());
    let meta = std::fs::metadata(dir.path().join(LOG)).expect("stat");
    let first = rec(1).len();
    // The state the previous version wrote: one position, no `others`.
    let old = format!(
        r#"{{"file":{{"id":{{"dev":{},"ino":{}}},"fingerprint":{{"len":{first},"hash":{}}},"offset":{first},"mtime_ns":{},"name":"server.log"}},"horizon_ns":-9223372036854775808,"stats":{{"records":1,"oversized":0,"bytes":{first},"rotations":0,"truncations":0,"lost":0}}}}"#,
        std::os::unix::fs::MetadataExt::dev(&meta),
        std::os::unix::fs::MetadataExt::ino(&meta),
        Fingerprint::of(rec(1).as_bytes()).hash,
        identity::mtime_ns(&meta),
    );
    let saved: TailState = serde_json::from_str(&old).expect("old state parses");
    // A rotated file older than the saved one was there before: history, not read.
    std::fs::write(dir.path().join("server.log.0"), rec(0).as_bytes()).expect("write");
    let past = std::fs::FileTimes::new().set_modified(std::time::UNIX_EPOCH);
    std::fs::File::options()
        .write(true)
        .open(dir.path().join("server.log.0"))
        .and_then(|f| f.set_times(past))
        .expect("age it");
    let mut t = Tailer::new(spec(dir.path(), StartAt::End), Some(saved));
    assert_eq!(ids(&drain(&mut t)), [2]);
    assert_eq!(t.stats().records, 2, "counters carried over");
    assert!(t.state().others.is_some(), "written in the new form");
}

/// One step of the model test.
#[derive(Debug, Clone)]
enum Op {
    /// Append this many records (some multi-line), the last one maybe without its newline.
    Write(u8, bool),
    /// Rename the live file to the next rotated name and start a new one.
    Rotate,
    /// Poll (with a budget) and save the state.
    Poll(u16),
    /// Poll to the end, then empty the live file in place (what was written after that poll
    /// is lost by the nature of copy-truncate, so the model polls first).
    Truncate,
    /// Crash and restart from the last saved state: what was handed over since is forgotten.
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..6, any::<bool>()).prop_map(|(n, p)| Op::Write(n, p)),
        1 => Just(Op::Rotate),
        3 => (1u16..2000).prop_map(Op::Poll),
        1 => Just(Op::Truncate),
        1 => Just(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever the sequence of writes, rotations, truncations and crashes, every record is
    /// handed over exactly once (relative to the saved state), in order.
    #[test]
    fn every_record_once_in_order(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut next = 0u32;
        let mut written = Vec::new();
        let mut rotations = 0u32;
        // A record whose last newline is not written yet.
        let mut open_line = false;
        // Started before anything is written: every file that appears is new.
        let mut t = Tailer::new(spec(dir.path(), StartAt::End), None);
        t.poll(u64::MAX, &mut |_| {}).expect("first poll");
        let mut saved = Some(t.state());
        let mut got: Vec<u32> = Vec::new();
        let mut got_saved: Vec<u32> = Vec::new();
        let poll = |t: &mut Tailer, budget: u64, got: &mut Vec<u32>| {
            let mut out = Vec::new();
            t.poll(budget, &mut |r| out.push(String::from_utf8_lossy(r.bytes).into_owned()))
                .expect("poll");
            got.extend(ids(&out));
        };
        for op in ops {
            match op {
                Op::Write(n, partial) => {
                    let mut text = String::new();
                    if open_line {
                        text.push('\n');
                    }
                    for i in 0..n {
                        let r = if next.is_multiple_of(3) { format!("####<{next}> one line\n") } else { rec(next) };
                        written.push(next);
                        next += 1;
                        text += &r;
                        if partial && i + 1 == n {
                            text.pop();
                        }
                    }
                    open_line = partial;
                    append(dir.path(), text.as_bytes());
                }
                Op::Rotate => {
                    if dir.path().join(LOG).exists() {
                        rotations += 1;
                        rotate(dir.path(), rotations);
                        open_line = false;
                    }
                }
                Op::Poll(budget) => {
                    poll(&mut t, u64::from(budget), &mut got);
                    saved = Some(t.state());
                    got_saved = got.clone();
                }
                Op::Truncate => {
                    if open_line {
                        append(dir.path(), b"\n");
                        open_line = false;
                    }
                    for _ in 0..3 {
                        poll(&mut t, u64::MAX, &mut got);
                    }
                    saved = Some(t.state());
                    got_saved = got.clone();
                    if dir.path().join(LOG).exists() {
                        std::fs::File::create(dir.path().join(LOG)).expect("truncate");
                        open_line = false;
                    }
                }
                Op::Crash => {
                    t = Tailer::new(spec(dir.path(), StartAt::End), saved.clone());
                    got = got_saved.clone();
                }
            }
        }
        if open_line {
            append(dir.path(), b"\n");
        }
        for _ in 0..3 {
            poll(&mut t, u64::MAX, &mut got);
        }
        prop_assert_eq!(got, written);
    }
}
