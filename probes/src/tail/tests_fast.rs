//! The generator, fast case, made deterministic: 100,000 messages, a rotation every
//! 0.05 s of "log time" (250 messages at 5,000 messages/s), 2 to 5 old files kept, and the
//! tailer polled every 10 s, 1 s or 0.2 s of log time, driven directly between writer steps
//! (no clock, no sleep). The real-time version against the WebLogic probe is
//! `bench/benches/tail_rotation.rs`.
//!
//! What must hold at the end: every message counted once, except those in files the tailer
//! reports lost, and those files are exactly the ones deleted before a poll saw them.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use super::*;

const MESSAGES: u32 = 100_000;
/// Messages per file: 0.05 s at 5,000 messages/s.
const BURST: u32 = 250;

#[derive(Debug, Clone, Copy)]
enum Style {
    /// `ms1.log` → `ms1.log00001`, `ms1.log00002` ... (WebLogic).
    Numbered,
    /// `ms1.log.1` → `ms1.log.2` ..., then `ms1.log` → `ms1.log.1` (logrotate).
    Shifted,
}

fn spec(dir: &Path, style: Style) -> TailSpec {
    let rotated = match style {
        Style::Numbered => "ms1.log?*",
        Style::Shifted => "ms1.log.*",
    };
    TailSpec {
        dir: dir.to_owned(),
        active: "ms1.log".into(),
        rotated: Some(glob::Pattern::new(rotated).expect("pattern")),
        record_start: RecordStart::Prefix(b"####<".to_vec()),
        max_record_bytes: 4096,
        start_at: StartAt::Beginning,
    }
}

fn message(n: u32) -> String {
    if n.is_multiple_of(10) {
        format!(
            "####<{n}> <Error> <HTTP> <BEA-101020> <Servlet failed\njava.lang.IllegalStateException\n\tat a.b(C.java:{n})\n> \n"
        )
    } else {
        format!("####<{n}> <Info> <Health> <BEA-310002> <62% free.> \n")
    }
}

/// The generator: writes file after file of `BURST` messages, rotating and deleting all but
/// `keep` rotated files, and polls the tailer every `poll_every` files. Returns the files
/// (each a range of message numbers) the tailer never saw.
fn run(style: Style, keep: usize, poll_every: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let live = dir.path().join("ms1.log");
    let mut t = Tailer::new(spec(dir.path(), style), None);
    let mut counted: Vec<u32> = Vec::new();
    let poll = |t: &mut Tailer, counted: &mut Vec<u32>| {
        t.poll(u64::MAX, &mut |r| {
            let text = String::from_utf8_lossy(r.bytes);
            let n = text
                .strip_prefix("####<")
                .and_then(|r| r.split('>').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a generated record: {text:?}"));
            counted.push(n);
        })
        .expect("poll");
    };
    poll(&mut t, &mut counted);
    let files = MESSAGES / BURST;
    // The model: which file (its first message) holds each name, and which files a poll saw.
    let mut names: Vec<(String, u32)> = Vec::new();
    let mut seen: HashSet<u32> = HashSet::new();
    let mut deleted_unseen: Vec<u32> = Vec::new();
    let mut next_number = 1u32;
    for file in 0..files {
        let first = file * BURST;
        let text: String = (first..first + BURST).map(message).collect();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&live)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write burst");
        names.retain(|(n, _)| n != "ms1.log");
        names.push(("ms1.log".into(), first));
        if (file + 1).is_multiple_of(poll_every) {
            poll(&mut t, &mut counted);
            seen.extend(names.iter().map(|(_, f)| *f));
        }
        if file + 1 == files {
            break;
        }
        // Rotate, then delete what is beyond `keep`.
        let mut delete = |name: String, names: &mut Vec<(String, u32)>| {
            std::fs::remove_file(dir.path().join(&name)).expect("delete");
            let f = names.iter().find(|(n, _)| *n == name).expect("known").1;
            names.retain(|(n, _)| *n != name);
            if !seen.contains(&f) {
                deleted_unseen.push(f);
            }
        };
        match style {
            Style::Numbered => {
                rename(
                    dir.path(),
                    &mut names,
                    "ms1.log",
                    format!("ms1.log{next_number:05}"),
                );
                if next_number > keep as u32 {
                    delete(
                        format!("ms1.log{:05}", next_number - keep as u32),
                        &mut names,
                    );
                }
                next_number += 1;
            }
            Style::Shifted => {
                let oldest = format!("ms1.log.{keep}");
                if names.iter().any(|(n, _)| *n == oldest) {
                    delete(oldest, &mut names);
                }
                for i in (1..keep).rev() {
                    if names.iter().any(|(n, _)| *n == format!("ms1.log.{i}")) {
                        rename(
                            dir.path(),
                            &mut names,
                            &format!("ms1.log.{i}"),
                            format!("ms1.log.{}", i + 1),
                        );
                    }
                }
                rename(dir.path(), &mut names, "ms1.log", "ms1.log.1".into());
            }
        }
    }
    // Settle: the last poll finds nothing new and closes the last record.
    for _ in 0..2 {
        poll(&mut t, &mut counted);
    }
    let lost: HashSet<u32> = deleted_unseen.iter().flat_map(|f| *f..*f + BURST).collect();
    let mut expected: Vec<u32> = (0..MESSAGES).filter(|n| !lost.contains(n)).collect();
    let mut got = counted.clone();
    got.sort_unstable();
    expected.sort_unstable();
    let what = format!("{style:?}, keep {keep}, poll every {poll_every} files");
    assert_eq!(got.len(), expected.len(), "{what}: counted vs expected");
    assert!(got == expected, "{what}: counted the wrong messages");
    let stats = t.stats();
    assert_eq!(
        stats.lost,
        deleted_unseen.len() as u64,
        "{what}: lost files"
    );
    assert_eq!(stats.rotations, u64::from(files - 1), "{what}: rotations");
    assert_eq!(stats.truncations, 0, "{what}: truncations");
}

fn rename(dir: &Path, names: &mut [(String, u32)], from: &str, to: String) {
    std::fs::rename(dir.join(from), dir.join(&to)).expect("rename");
    for entry in names.iter_mut().filter(|(n, _)| n == from) {
        entry.0 = to.clone();
    }
}

#[test]
fn weblogic_rotation_every_50ms_polled_every_10s_reports_what_it_lost() {
    run(Style::Numbered, 5, 200);
}

#[test]
fn weblogic_rotation_every_50ms_polled_every_second_keeping_two() {
    run(Style::Numbered, 2, 20);
}

#[test]
fn weblogic_rotation_every_50ms_polled_every_200ms_loses_nothing() {
    run(Style::Numbered, 5, 4);
}

#[test]
fn logrotate_shifting_every_50ms_polled_every_second() {
    run(Style::Shifted, 5, 20);
}

#[test]
fn logrotate_shifting_every_50ms_polled_every_200ms_keeping_two() {
    run(Style::Shifted, 2, 4);
}
