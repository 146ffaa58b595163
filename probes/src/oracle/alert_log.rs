//! `ORA-` error counts from the database's alert log (`alert_<SID>.log`).
//!
//! [`ora_codes`] is the parser (pure, on bytes: alert logs are written in the database
//! character set, so text may not be UTF-8). [`AlertCounts`] is what the shared tailer
//! (`probes/src/tail/`) feeds with the log's lines; [`open`] sets that tailer up, so rotation
//! (logrotate's `alert_ORCL.log.1`), truncation, restarts (position and counts saved together
//! in the agent's state directory) and over-long lines are handled as for the WebLogic logs.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::tail::counted::{CountedLog, Counter};
use crate::tail::{Record, RecordStart, StartAt, TailSpec, split_path, state};

/// Bytes read per round at most; the rest waits for the next round.
pub const MAX_READ_PER_ROUND: u64 = 4 * 1024 * 1024;
/// Longest line kept; the rest of a longer one is skipped (and counted by the tailer as an
/// oversized record), so one runaway line cannot grow memory.
pub const MAX_LINE: usize = 64 * 1024;
/// Distinct codes kept; later new codes count under `ORA-other`, bounding the series count.
pub const MAX_CODES: usize = 256;

/// The `ORA-` codes in one line, in order. Accepts the short form (`ORA-3136`, seen in
/// `WARNING: inbound connection timed out (ORA-3136)`) as well as `ORA-03136`; a code is 1–5
/// digits not preceded by a letter or digit (so `XORA-1` is not a match).
pub fn ora_codes(line: &[u8]) -> Vec<u32> {
    let mut codes = Vec::new();
    let mut i = 0;
    while let Some(found) = find(&line[i..], b"ORA-") {
        let at = i + found;
        let start = at + 4;
        let digits = line[start..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let boundary = at == 0 || !line[at - 1].is_ascii_alphanumeric();
        if boundary && (1..=5).contains(&digits) {
            let code = line[start..start + digits]
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            codes.push(code);
        }
        i = start;
    }
    codes
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// ORA-00060: deadlock detected while waiting for resource.
pub const DEADLOCK: u32 = 60;

/// The label value of a code: zero-padded to five digits as Oracle documents it.
pub fn code_label(code: u32) -> String {
    format!("ORA-{code:05}")
}

/// Counts of `ORA-` codes by code label (`ORA-00060`), saved with the read position.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct AlertCounts {
    counts: BTreeMap<String, u64>,
}

impl AlertCounts {
    /// Cumulative counts by code label.
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }
}

impl Counter for AlertCounts {
    /// Counts the codes of one line; a cut line counts the codes in its kept first part.
    fn count(&mut self, record: Record<'_>) {
        for code in ora_codes(record.bytes) {
            let mut label = code_label(code);
            if !self.counts.contains_key(&label) && self.counts.len() >= MAX_CODES {
                label = "ORA-other".to_owned();
            }
            *self.counts.entry(label).or_insert(0) += 1;
        }
    }
}

/// The alert log at `path` on the shared tailer: one record per line, history not counted
/// (it starts at the current end the first time), rotated copies `alert_<SID>.log?*` read
/// to their end. State is kept in `state_dir` under a name derived from `db` and the path.
pub fn open(
    db: &str,
    path: &Path,
    state_dir: &Path,
    persist: bool,
) -> Result<CountedLog<AlertCounts>, String> {
    let (dir, active) =
        split_path(path).ok_or_else(|| format!("alert_log {}: not a file path", path.display()))?;
    let rotated = glob::Pattern::new(&format!("{}?*", glob::Pattern::escape(&active)))
        .map_err(|e| format!("alert_log {}: {e}", path.display()))?;
    let spec = TailSpec {
        dir,
        active,
        rotated: Some(rotated),
        record_start: RecordStart::EveryLine,
        max_record_bytes: MAX_LINE,
        start_at: StartAt::End,
    };
    let name = state::file_name("oracle_alert_log", &[db, &path.to_string_lossy()]);
    Ok(CountedLog::open(spec, state_dir.join(name), persist))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn codes_in_real_alert_log_shapes() {
        // Shapes seen in a real 10.2 alert log (shinhwagk/filebeat-centos5 test/11.log), see
        // shared/reference/oracle-weblogic.md §4.
        let cases: &[(&[u8], &[u32])] = &[
            (
                b"ORA-00060: Deadlock detected. More info in file /u01/app/oracle/admin/whpay/udump/whpay_ora_25857.trc.",
                &[60],
            ),
            (b"WARNING: inbound connection timed out (ORA-3136)", &[3136]),
            (
                b"ORA-12012: error on auto execute of job 42 ORA-06512: at line 1",
                &[12012, 6512],
            ),
            (b"Thread 1 cannot allocate new log, sequence 14661", &[]),
            (b"XORA-1 and ORA- and ORA-123456 are not codes", &[]),
            // Localised text in a non-UTF-8 character set around the code.
            (b"ORA-01555: \xbf\xec\xd5\xd5\xb9\xfd\xbe\xc9", &[1555]),
        ];
        for (line, want) in cases {
            assert_eq!(ora_codes(line), *want, "{}", String::from_utf8_lossy(line));
        }
        assert_eq!(code_label(3136), "ORA-03136");
    }

    /// Polls until a poll finds nothing new, which closes the last line (the tailer hands a
    /// line over once the writer has gone quiet for a round).
    fn settle(log: &mut CountedLog<AlertCounts>) {
        log.poll(MAX_READ_PER_ROUND).expect("poll");
        log.poll(MAX_READ_PER_ROUND).expect("quiet poll");
    }

    fn count(log: &CountedLog<AlertCounts>, code: &str) -> Option<u64> {
        log.counts().counts().get(code).copied()
    }

    #[test]
    fn counts_only_new_lines_across_appends_rotation_truncation_and_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let path = dir.path().join("alert_ORCL.log");
        std::fs::write(&path, "ORA-00600: history, not counted\n").expect("write");
        let mut log = open("ORCL", &path, &state, true).expect("opens");
        settle(&mut log);
        assert!(log.counts().counts().is_empty());

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        // A line written in two pieces is counted once, when complete.
        f.write_all(b"2024-03-01T10:00:00.000000+08:00\nORA-016")
            .expect("w");
        settle(&mut log);
        assert!(log.counts().counts().is_empty());
        f.write_all(b"53: unable to extend\nORA-01653 again\n")
            .expect("w");
        settle(&mut log);
        assert_eq!(count(&log, "ORA-01653"), Some(2));

        // Rotation (logrotate's rename): lines written to the old file before the rename and
        // to the new file after it are each counted once.
        f.write_all(b"ORA-00060: deadlock before rotation\n")
            .expect("w");
        std::fs::rename(&path, dir.path().join("alert_ORCL.log.1")).expect("rename");
        std::fs::write(&path, "ORA-00060: deadlock\n").expect("new file");
        settle(&mut log);
        assert_eq!(count(&log, "ORA-00060"), Some(2));
        assert_eq!(log.stats().rotations, 1);

        // Truncation in place.
        std::fs::write(&path, "").expect("truncate");
        settle(&mut log);
        std::fs::write(&path, "ORA-00060 after truncate\n").expect("write");
        settle(&mut log);
        assert_eq!(count(&log, "ORA-00060"), Some(3));

        // Restart: the saved position and counts carry on; nothing is counted twice and
        // what was written while the agent was down is counted.
        drop(log);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(b"ORA-00060 while the agent was down\n")
            .expect("w");
        let mut log = open("ORCL", &path, &state, true).expect("reopens");
        settle(&mut log);
        assert_eq!(count(&log, "ORA-00060"), Some(4));
        assert_eq!(count(&log, "ORA-01653"), Some(2));
    }

    #[test]
    fn hostile_input_is_bounded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alert_X.log");
        std::fs::write(&path, "").expect("write");
        let mut log = open("X", &path, dir.path(), false).expect("opens");
        settle(&mut log);
        // An endless line: cut at MAX_LINE and counted as oversized; the next line parses.
        let mut text = vec![b'x'; MAX_LINE + 10];
        text.extend_from_slice(b"ORA-00001 past the cut\nORA-00942: real\n\xff\xfe not UTF-8\n");
        // Many distinct codes: at most MAX_CODES series plus `ORA-other`.
        for c in 1..=1000 {
            text.extend_from_slice(format!("ORA-{c}\n").as_bytes());
        }
        std::fs::write(&path, &text).expect("write");
        settle(&mut log);
        assert_eq!(log.stats().oversized, 1);
        assert_eq!(count(&log, "ORA-00001"), Some(1), "only the short line's");
        assert_eq!(count(&log, "ORA-00942"), Some(2));
        assert_eq!(log.counts().counts().len(), MAX_CODES + 1);
        assert!(count(&log, "ORA-other").is_some_and(|n| n > 0));
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = open(
            "X",
            Path::new("/nonexistent/alert_X.log"),
            dir.path(),
            false,
        )
        .expect("opens");
        let err = log
            .poll(MAX_READ_PER_ROUND)
            .expect_err("missing")
            .to_string();
        assert!(err.contains("/nonexistent"), "{err}");
    }
}
