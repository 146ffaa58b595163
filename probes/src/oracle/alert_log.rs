//! `ORA-` error counts from the database's alert log (`alert_<SID>.log`).
//!
//! [`ora_codes`] is the parser (pure, on bytes: alert logs are written in the database
//! character set, so text may not be UTF-8). [`AlertLog`] is a deliberately small reader that
//! remembers its position: it starts at the end of the file (history is not counted), reads at
//! most [`MAX_READ_PER_ROUND`] per round, and restarts from the top when the file is replaced
//! or truncated. It is meant to be swapped for Patrol's shared tailer (`probes/src/tail/`)
//! once that exists; only [`AlertLog::poll`] would change.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// Bytes read per round at most; the rest waits for the next round.
pub const MAX_READ_PER_ROUND: u64 = 4 * 1024 * 1024;
/// A line longer than this is dropped (and counted), so one runaway line cannot grow memory.
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

/// The label value of a code: zero-padded to five digits as Oracle documents it.
pub fn code_label(code: u32) -> String {
    format!("ORA-{code:05}")
}

/// Where reading stopped: which file (device, inode) and the offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    dev: u64,
    ino: u64,
    offset: u64,
}

/// Counts of `ORA-` codes seen since the agent started, per code.
#[derive(Debug)]
pub struct AlertLog {
    path: PathBuf,
    position: Option<Position>,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    counts: BTreeMap<String, u64>,
    pub lines_too_long: u64,
}

impl AlertLog {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            position: None,
            partial: Vec::new(),
            skipping: false,
            counts: BTreeMap::new(),
            lines_too_long: 0,
        }
    }

    /// Cumulative counts by code label (`ORA-00060`).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Reads what was appended since the last call and counts its codes.
    pub fn poll(&mut self) -> Result<(), String> {
        let shown = self.path.display();
        let mut file = File::open(&self.path).map_err(|e| format!("alert_log {shown}: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("alert_log {shown}: {e}"))?;
        let (dev, ino, len) = (meta.dev(), meta.ino(), meta.len());
        let offset = match self.position {
            // First sight: count only what is written from now on.
            None => len,
            Some(p) if p.dev == dev && p.ino == ino && p.offset <= len => p.offset,
            // Replaced (rotated) or truncated: the new content is all unread.
            Some(_) => {
                self.partial.clear();
                self.skipping = false;
                0
            }
        };
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| format!("alert_log {shown}: {e}"))?;
        let mut chunk = Vec::new();
        let read = file
            .take(MAX_READ_PER_ROUND)
            .read_to_end(&mut chunk)
            .map_err(|e| format!("alert_log {shown}: {e}"))?;
        self.position = Some(Position {
            dev,
            ino,
            offset: offset + read as u64,
        });
        self.feed(&chunk);
        Ok(())
    }

    /// Splits `bytes` into lines (carrying an unfinished one over) and counts codes.
    pub fn feed(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            let (piece, after) = rest.split_at(nl);
            rest = &after[1..];
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if self.partial.is_empty() {
                self.count_line(piece);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(piece);
                self.count_line(&line);
            }
        }
        if self.skipping {
            return;
        }
        if self.partial.len() + rest.len() > MAX_LINE {
            self.partial.clear();
            self.skipping = true;
            self.lines_too_long += 1;
        } else {
            self.partial.extend_from_slice(rest);
        }
    }

    fn count_line(&mut self, line: &[u8]) {
        if line.len() > MAX_LINE {
            self.lines_too_long += 1;
            return;
        }
        for code in ora_codes(line) {
            let mut label = code_label(code);
            if !self.counts.contains_key(&label) && self.counts.len() >= MAX_CODES {
                label = "ORA-other".to_owned();
            }
            *self.counts.entry(label).or_insert(0) += 1;
        }
    }
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

    #[test]
    fn counts_only_new_lines_across_appends_rotation_and_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("alert_ORCL.log");
        std::fs::write(&path, "ORA-00600: history, not counted\n").expect("write");
        let mut log = AlertLog::new(path.clone());
        log.poll().expect("first poll");
        assert!(log.counts().is_empty());

        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        // A line written in two pieces is counted once, when complete.
        f.write_all(b"2024-03-01T10:00:00.000000+08:00\nORA-016")
            .expect("w");
        log.poll().expect("poll");
        assert!(log.counts().is_empty());
        f.write_all(b"53: unable to extend\nORA-01653 again\n")
            .expect("w");
        log.poll().expect("poll");
        assert_eq!(log.counts().get("ORA-01653"), Some(&2));

        // Rotation: renamed away, a new file created at the path.
        std::fs::rename(&path, dir.path().join("alert_ORCL.log.1")).expect("rename");
        std::fs::write(&path, "ORA-00060: deadlock\n").expect("new file");
        log.poll().expect("poll after rotation");
        assert_eq!(log.counts().get("ORA-00060"), Some(&1));

        // Truncation in place.
        std::fs::write(&path, "").expect("truncate");
        log.poll().expect("poll");
        std::fs::write(&path, "ORA-00060 after truncate\n").expect("write");
        log.poll().expect("poll");
        assert_eq!(log.counts().get("ORA-00060"), Some(&2));
    }

    #[test]
    fn hostile_input_is_bounded() {
        let mut log = AlertLog::new("/unused".into());
        // An endless line: dropped, counted, and the next line still parses.
        let long = vec![b'x'; MAX_LINE + 10];
        log.feed(&long);
        log.feed(b"ORA-00001 still part of the long line\nORA-00942: real\n");
        assert_eq!(log.lines_too_long, 1);
        assert_eq!(log.counts().len(), 1);
        assert_eq!(log.counts().get("ORA-00942"), Some(&1));
        // Many distinct codes: at most MAX_CODES series plus `ORA-other`.
        let many: String = (1..=1000).map(|c| format!("ORA-{c}\n")).collect();
        log.feed(many.as_bytes());
        assert_eq!(log.counts().len(), MAX_CODES + 1);
        assert!(log.counts().get("ORA-other").is_some_and(|n| *n > 0));
    }

    #[test]
    fn missing_file_is_an_error_naming_it() {
        let mut log = AlertLog::new("/nonexistent/alert_X.log".into());
        let err = log.poll().expect_err("missing");
        assert!(err.contains("/nonexistent/alert_X.log"), "{err}");
    }
}
