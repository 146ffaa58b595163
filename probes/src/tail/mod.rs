//! Rotation-aware log tailing shared by the log probes (a library module, not a probe).
//!
//! # API
//! ```text
//! let spec = TailSpec {
//!     dir: "/u01/domains/base/servers/AdminServer/logs".into(),
//!     active: "AdminServer.log".into(),                      // the file being written
//!     rotated: Some(glob::Pattern::new("AdminServer.log?*")?), // its rotated copies, same dir
//!     record_start: RecordStart::Prefix(b"####<".to_vec()),  // multi-line records
//!     max_record_bytes: 256 * 1024,
//!     start_at: StartAt::End,                                // only without saved state
//! };
//! let mut tailer = Tailer::new(spec, state::load(&path)?);  // saved TailState or None
//! tailer.poll(64 << 20, &mut |record: Record<'_>| count(record.bytes))?;
//! state::save(&path, &(tailer.state(), my_counts))?;        // position + counts together
//! ```
//! - [`Tailer::poll`] reads what was written since the last poll, at most `budget` bytes, and
//!   hands over every complete record: lines grouped by [`RecordStart`] (a record ends where
//!   the next starts), each capped at `max_record_bytes` (the rest is skipped and the record
//!   flagged `truncated`). Bytes are passed as they are (no UTF-8 check).
//! - [`Tailer::state`] is the position to persist: the start of the first record not yet
//!   handed over. Saving it together with what the caller counted from the records keeps
//!   the two consistent: after a restart from that state every record is handed over once
//!   relative to the saved counts. [`state::save`] writes atomically.
//!
//! # Files and rotation
//! Files are told apart by (device, inode) and a fingerprint of their first 256 bytes. When
//! the active file's inode changes (rename rotation: `server.log` → `server.log00001`), the
//! old file is read to its end through the handle still open, then every rotated file
//! written after it (by modification time, then name), then the new active file from 0.
//! After a restart the saved file is looked up by inode among the active and rotated files.
//! A file that shrank below the position, or whose first bytes changed (truncation,
//! copy-truncate), is read again from 0. Compressed rotations (`.gz` ...) are ignored.
//!
//! A record is complete when the next one starts. The last record of the active file is
//! handed over when a poll finds nothing new (the writer has gone quiet for one interval), or
//! when the file is rotated away or truncated. An unfinished last line (no newline yet) is
//! only taken once the file is finished.

pub mod counted;
mod identity;
mod split;
pub mod state;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use identity::{Entry, mtime_ns};
pub use identity::{FileId, Fingerprint};
use split::Splitter;

/// Bytes read from the file at a time.
const CHUNK: usize = 64 * 1024;

/// How many files one poll may move through (rotations since the last poll), a guard
/// against a directory that keeps changing under us.
const MAX_SWITCHES: usize = 1000;

/// Which files make up one log and how they are cut into records.
#[derive(Debug, Clone)]
pub struct TailSpec {
    /// Directory holding the active file and its rotations.
    pub dir: PathBuf,
    /// Name of the file being written (may be a symbolic link to it).
    pub active: String,
    /// Names of its rotated copies in `dir` (not following links). `None`: no rotated files
    /// are read (a rename rotation is still followed through the open handle).
    pub rotated: Option<glob::Pattern>,
    /// Where a record starts.
    pub record_start: RecordStart,
    /// Longest record kept, in bytes; the rest of a longer one is skipped.
    pub max_record_bytes: usize,
    /// Where to start in a file found with no saved state. Files that appear later are
    /// always read from their start.
    pub start_at: StartAt,
}

/// The "record starts here" rule, tested on each complete line.
#[derive(Debug, Clone)]
pub enum RecordStart {
    /// Every line is a record.
    EveryLine,
    /// A line starting with these bytes starts a record (`####<` for WebLogic).
    Prefix(Vec<u8>),
    /// A line this regex matches starts a record (anchor it with `^`).
    Regex(regex::bytes::Regex),
}

impl RecordStart {
    fn starts(&self, line: &[u8]) -> bool {
        match self {
            Self::EveryLine => true,
            Self::Prefix(p) => line.starts_with(p),
            Self::Regex(r) => r.is_match(line),
        }
    }
}

/// Where to start reading a log met for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// From the first byte: what is already there is counted.
    Beginning,
    /// From the current end: only what is written from now on is counted.
    #[default]
    End,
}

/// One record handed over by [`Tailer::poll`]: its lines joined by `\n`, without the final
/// newline (and without `\r` before newlines).
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    pub bytes: &'a [u8],
    /// The record was longer than `max_record_bytes` and was cut.
    pub truncated: bool,
}

/// What to persist between runs: the read position and the tailer's own counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailState {
    pub file: Option<FilePosition>,
    /// With no file: rotated files modified after this (ns) are new and read from their
    /// start; older ones were there before the tailer started.
    #[serde(default = "no_horizon")]
    pub horizon_ns: i64,
    pub stats: TailStats,
}

fn no_horizon() -> i64 {
    i64::MIN
}

/// The file being read and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    pub id: FileId,
    pub fingerprint: Fingerprint,
    /// Start of the first record not yet handed over.
    pub offset: u64,
    /// Modification time (ns) when last read, to find the rotations written after it if
    /// the file itself is gone.
    pub mtime_ns: i64,
    /// Its name when last seen.
    pub name: String,
}

/// Counters of the tailer, kept across restarts with the position.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailStats {
    /// Records handed over.
    pub records: u64,
    /// Records cut at `max_record_bytes`.
    pub oversized: u64,
    /// Bytes read (a record read again after a restart counts again).
    pub bytes: u64,
    /// Moves to a newer file (rotations followed).
    pub rotations: u64,
    /// Files found shorter than the position or rewritten, and read again from 0.
    pub truncations: u64,
    /// Saved positions whose file was gone at start-up (what was left in it is lost).
    pub lost: u64,
}

/// Why a poll failed. The position is unchanged: the next poll tries again.
#[derive(Debug, thiserror::Error)]
pub enum TailError {
    #[error("cannot list {dir}: {source}")]
    List {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`Tailer::poll`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollOutcome {
    /// Bytes read.
    pub bytes: u64,
    /// The budget ran out before the end of the log: poll again soon.
    pub more: bool,
    /// No file of the log exists yet.
    pub missing: bool,
}

/// Follows one log (see the module doc).
#[derive(Debug)]
pub struct Tailer {
    spec: TailSpec,
    current: Option<Current>,
    resume: Resume,
    stats: TailStats,
    buf: Vec<u8>,
}

#[derive(Debug)]
enum Resume {
    /// No saved state: the file present now starts at `start_at`.
    Fresh,
    /// Restarted: look the saved file up.
    Saved(FilePosition),
    /// No file yet: files modified after the horizon (ns) are new and read from 0.
    Waiting(i64),
}

#[derive(Debug)]
struct Current {
    file: File,
    id: FileId,
    fingerprint: Fingerprint,
    name: String,
    mtime_ns: i64,
    split: Splitter,
}

impl Tailer {
    /// A tailer for `spec`, resuming from `saved` (from [`Tailer::state`] of an earlier run).
    pub fn new(spec: TailSpec, saved: Option<TailState>) -> Self {
        let (resume, stats) = match saved {
            Some(TailState {
                file: Some(file),
                stats,
                ..
            }) => (Resume::Saved(file), stats),
            Some(s) => (Resume::Waiting(s.horizon_ns), s.stats),
            None => (Resume::Fresh, TailStats::default()),
        };
        Self {
            spec,
            current: None,
            resume,
            stats,
            buf: vec![0; CHUNK],
        }
    }

    pub fn spec(&self) -> &TailSpec {
        &self.spec
    }

    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// The state to persist, consistent with every record handed over so far.
    pub fn state(&self) -> TailState {
        let file = match (&self.current, &self.resume) {
            (Some(c), _) => Some(FilePosition {
                id: c.id,
                fingerprint: c.fingerprint,
                offset: c.split.committed(),
                mtime_ns: c.mtime_ns,
                name: c.name.clone(),
            }),
            (None, Resume::Saved(p)) => Some(p.clone()),
            (None, _) => None,
        };
        let horizon_ns = match self.resume {
            Resume::Waiting(h) => h,
            _ => i64::MIN,
        };
        TailState {
            file,
            horizon_ns,
            stats: self.stats,
        }
    }

    /// Reads up to `budget` bytes of new log and hands every complete record to `sink`.
    pub fn poll(
        &mut self,
        budget: u64,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> Result<PollOutcome, TailError> {
        let mut records = 0u64;
        let mut oversized = 0u64;
        let mut counting = |r: Record<'_>| {
            records += 1;
            oversized += u64::from(r.truncated);
            sink(r);
        };
        let result = self.poll_inner(budget, &mut counting);
        self.stats.records += records;
        self.stats.oversized += oversized;
        if let Ok(outcome) = &result {
            self.stats.bytes += outcome.bytes;
        }
        result
    }

    fn poll_inner(
        &mut self,
        budget: u64,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> Result<PollOutcome, TailError> {
        let (active, rotated) = identity::list(
            &self.spec.dir,
            &self.spec.active,
            self.spec.rotated.as_ref(),
        )
        .map_err(|source| TailError::List {
            dir: self.spec.dir.clone(),
            source,
        })?;
        if self.current.is_none() {
            self.current = self.resume(active.as_ref(), &rotated)?;
        }
        let mut outcome = PollOutcome::default();
        let mut left = budget;
        for _ in 0..MAX_SWITCHES {
            let Some(cur) = self.current.as_mut() else {
                outcome.missing = true;
                break;
            };
            let path = self.spec.dir.join(&cur.name);
            let read_err = |source| TailError::Read {
                path: path.clone(),
                source,
            };
            let rule = &self.spec.record_start;
            // Checked on rotated files too: one may have been truncated before its rename.
            if cur.rewritten().map_err(read_err)? {
                cur.split.flush(true, rule, sink);
                cur.split = Splitter::new(0, self.spec.max_record_bytes);
                cur.fingerprint = Fingerprint::default();
                self.stats.truncations += 1;
            }
            if active.as_ref().is_some_and(|a| a.id == cur.id) {
                let (n, at_end) = cur
                    .read(&mut self.buf, &mut left, rule, sink)
                    .map_err(read_err)?;
                outcome.bytes += n;
                outcome.more = !at_end;
                if n == 0 && at_end {
                    // Nothing new for a whole interval: the writer has finished its record.
                    cur.split.flush(false, rule, sink);
                }
                break;
            }
            // No longer the active file: rotated away (or deleted). Finish it, then move on.
            let (n, at_end) = cur
                .read(&mut self.buf, &mut left, rule, sink)
                .map_err(read_err)?;
            outcome.bytes += n;
            if !at_end {
                outcome.more = true;
                break;
            }
            cur.split.flush(true, rule, sink);
            let next = successor(&rotated, cur.id, cur.mtime_ns)
                .or(active.as_ref().filter(|a| a.id != cur.id));
            let Some(next) = next else { break };
            let Some(file) = self.open(next, Some(0))? else {
                break;
            };
            self.current = Some(file);
            self.stats.rotations += 1;
        }
        Ok(outcome)
    }

    /// Picks the file to read when none is open: after a (re)start, or while waiting for the
    /// log to appear. Leaves `resume` as `Waiting` when there is still nothing to read.
    fn resume(
        &mut self,
        active: Option<&Entry>,
        rotated: &[Entry],
    ) -> Result<Option<Current>, TailError> {
        match std::mem::replace(&mut self.resume, Resume::Waiting(i64::MIN)) {
            Resume::Fresh => {
                if let Some(a) = active {
                    let offset = match self.spec.start_at {
                        StartAt::Beginning => Some(0),
                        StartAt::End => None,
                    };
                    return self.open(a, offset);
                }
                // Rotated files already there are history, unless asked to read it.
                let horizon = match self.spec.start_at {
                    StartAt::Beginning => i64::MIN,
                    StartAt::End => rotated.iter().map(|e| e.mtime_ns).max().unwrap_or(i64::MIN),
                };
                self.wait_for_files(horizon, active, rotated)
            }
            Resume::Waiting(horizon) => self.wait_for_files(horizon, active, rotated),
            Resume::Saved(saved) => {
                let found = active.into_iter().chain(rotated).find(|e| e.id == saved.id);
                if let Some(entry) = found
                    && let Some(mut cur) = self.open(entry, Some(0))?
                {
                    let path = self.spec.dir.join(&entry.name);
                    let read_err = |source| TailError::Read { path, source };
                    let same = saved
                        .fingerprint
                        .still_matches(&cur.file)
                        .map_err(read_err)?;
                    let len = cur.file.metadata().map(|m| m.len()).unwrap_or(0);
                    if same && len >= saved.offset {
                        cur.split = Splitter::new(saved.offset, self.spec.max_record_bytes);
                        return Ok(Some(cur));
                    }
                    // Shrunk or rewritten in place: read again from its start.
                    if active.is_some_and(|a| a.id == entry.id) {
                        self.stats.truncations += 1;
                        return Ok(Some(cur));
                    }
                }
                self.stats.lost += 1;
                tracing::warn!(
                    dir = %self.spec.dir.display(),
                    file = %saved.name,
                    "the file of the saved read position is gone; what was left unread in it is lost"
                );
                self.wait_for_files(saved.mtime_ns, active, rotated)
            }
        }
    }

    /// The oldest file written after `horizon`, from its start; else keeps waiting.
    fn wait_for_files(
        &mut self,
        horizon: i64,
        active: Option<&Entry>,
        rotated: &[Entry],
    ) -> Result<Option<Current>, TailError> {
        self.resume = Resume::Waiting(horizon);
        let none = FileId { dev: 0, ino: 0 };
        match successor(rotated, none, horizon).or(active) {
            Some(e) => self.open(e, Some(0)),
            None => Ok(None),
        }
    }

    /// Opens `entry` at `offset` (`None`: at its end). `Ok(None)` if it vanished meanwhile.
    fn open(&self, entry: &Entry, offset: Option<u64>) -> Result<Option<Current>, TailError> {
        let path = self.spec.dir.join(&entry.name);
        let read_err = |source| TailError::Read {
            path: path.clone(),
            source,
        };
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(e)),
        };
        let meta = file.metadata().map_err(read_err)?;
        let fingerprint = Fingerprint::read(&file).map_err(read_err)?;
        let offset = offset.unwrap_or(meta.len());
        Ok(Some(Current {
            id: identity::FileId::of(&meta),
            fingerprint,
            name: entry.name.clone(),
            mtime_ns: mtime_ns(&meta),
            split: Splitter::new(offset, self.spec.max_record_bytes),
            file,
        }))
    }
}

/// The oldest rotated file written after the file `id` (last modified at `mtime_ns`).
/// Equal times are ordered by name, when the file's own name is known.
fn successor(rotated: &[Entry], id: FileId, mtime_ns: i64) -> Option<&Entry> {
    let own = rotated.iter().find(|e| e.id == id).map(|e| e.name.as_str());
    rotated
        .iter()
        .filter(|e| e.id != id)
        .filter(|e| {
            e.mtime_ns > mtime_ns
                || (e.mtime_ns == mtime_ns && own.is_some_and(|n| e.name.as_str() > n))
        })
        .min_by(|a, b| a.key().cmp(&b.key()))
}

impl Current {
    /// Whether the file shrank below what was read or its first bytes changed.
    fn rewritten(&mut self) -> std::io::Result<bool> {
        let meta = self.file.metadata()?;
        self.mtime_ns = mtime_ns(&meta);
        Ok(meta.len() < self.split.scanned() || !self.fingerprint.still_matches(&self.file)?)
    }

    /// Reads to the end of the file or of `left`; returns (bytes read, reached the end).
    fn read(
        &mut self,
        buf: &mut [u8],
        left: &mut u64,
        rule: &RecordStart,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> std::io::Result<(u64, bool)> {
        let mut total = 0u64;
        let at_end = loop {
            if *left == 0 {
                break false;
            }
            let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
            let n = identity::read_full_at(&self.file, &mut buf[..want], self.split.scanned())?;
            if n == 0 {
                break true;
            }
            self.split.feed(&buf[..n], rule, sink);
            total += n as u64;
            *left -= n as u64;
        };
        if !self.fingerprint.is_full() {
            self.fingerprint = Fingerprint::read(&self.file)?;
        }
        self.mtime_ns = mtime_ns(&self.file.metadata()?);
        Ok((total, at_end))
    }
}

/// `dir/name` split from a file path, for probes configured with one path.
pub fn split_path(path: &Path) -> Option<(PathBuf, String)> {
    let name = path.file_name()?.to_str()?.to_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Some((dir, name))
}
