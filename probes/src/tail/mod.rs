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
//! state::save(&path, &(tailer.state(), my_counts))?;        // positions + counts together
//! ```
//! - [`Tailer::poll`] reads what was written since the last poll, at most `budget` bytes, and
//!   hands over every complete record: lines grouped by [`RecordStart`] (a record ends where
//!   the next starts), each capped at `max_record_bytes` (the rest is skipped and the record
//!   flagged `truncated`). Bytes are passed as they are (no UTF-8 check).
//! - [`Tailer::state`] is what to persist: for each file of the log, the start of the first
//!   record not yet handed over. Saving it together with what the caller counted from the
//!   records keeps the two consistent: after a restart from that state every record is handed
//!   over once relative to the saved counts. [`state::save`] writes atomically.
//!
//! # Files and rotation
//! A file is known by its identity, (device, inode) plus its birth time where the filesystem
//! keeps one and a fingerprint of its first 256 bytes, never by its name. Each poll:
//! 1. takes a snapshot: lists the directory and opens the live file and every rotated file
//!    (by the rotated-name pattern), each then known by the identity of the opened handle; a
//!    name that no longer leads to the file it was listed for (a rotation under way) makes
//!    the listing stale and it is taken again;
//! 2. matches the snapshot against the files it knows: a known file keeps its read position
//!    whatever its name now, so a file already read is never read from 0 again; an unknown
//!    file is new and is read from its start; a known file whose handle is kept (the live
//!    file, files not read to their end) stays readable even if it was renamed or deleted
//!    meanwhile;
//! 3. reads what is unread, oldest file first (by birth time, else modification time, then
//!    name), the live file last; a file no longer live is finished (its last record handed
//!    over) at its end.
//!
//! Copy-truncate (logrotate's `copytruncate`: copy the live file, then empty it): a new
//! rotated file holding exactly the live file's first bytes is its copy. Found before the
//! truncation, it follows the live file's read position; once the live file is found
//! truncated (shorter than what was read, or starting differently), the copy continues where
//! the live file was read, record left open included, and the live file is read again from
//! 0. A copy found only after the truncation is recognised by starting with the bytes read
//! (kept, with the position, until a snapshot listed after the truncation was searched).
//! Supported: one copy per truncation, as logrotate makes; two copies of the same content
//! between two polls (a backup copy and a copy-truncate) may be counted twice.
//!
//! Counters ([`TailStats`]): `rotations` counts each new file of the log once; `truncations`
//! a followed file found shorter than what was read or rewritten (read again from 0); `lost`
//! the files that could not be read to their end: created and gone between two polls (known
//! from an inotify watch on the directory, see `watch.rs`), a file not yet read whose name
//! changed and which vanished before it could be opened again, or after a restart a saved
//! file that is gone. Compressed rotations (`.gz` ...) are not files of the log.
//!
//! A record is complete when the next one starts. The last record of the live file is
//! handed over when a poll finds nothing new (the writer has gone quiet for one interval), or
//! when the file is rotated away or truncated. An unfinished last line (no newline yet) is
//! only taken once the file is finished; after a truncation that left no copy, it is dropped
//! (its rest is gone) and the record is handed over with its complete lines.

pub mod counted;
mod follow;
mod identity;
mod read;
mod snapshot;
mod split;
pub mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_fast;
#[cfg(test)]
mod tests_model;
mod tracked;
mod watch;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use identity::Names;
pub use identity::{FileId, Fingerprint};
use snapshot::{Snapshot, SnapshotError};
use tracked::{Tracked, Truncated};
use watch::Watch;

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// Handles kept open on rotated files not yet read to their end, beyond the live file's:
/// enough for every realistic backlog, few enough that many tailers in one agent stay far
/// from the descriptor limit. Files beyond it are opened again by name (and checked to be the
/// same file) when their turn comes.
const MAX_HELD: usize = 32;

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

/// What to persist between runs: the read positions and the tailer's own counters.
///
/// Compatible both ways with the state written before `others` existed: an older state (no
/// `others`) is read with the rule it was written under (rotated files modified after the
/// saved file are new), and an older reader ignores `others`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TailState {
    /// The live file being followed.
    pub file: Option<FilePosition>,
    /// Only in states written before `others`: with no file, rotated files modified after
    /// this (ns) are new and read from their start; older ones were there before the tailer
    /// started.
    #[serde(default = "no_horizon")]
    pub horizon_ns: i64,
    pub stats: TailStats,
    /// Every other file of the log in the directory (rotated ones) and how far each was read.
    /// `Some` means the list is complete: a file not in it is new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub others: Option<Vec<FilePosition>>,
    /// Files as read before they were found truncated, until their copy-truncate copies are
    /// looked for (a new rotated file starting with those bytes continues from `offset`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub truncated: Vec<FilePosition>,
}

fn no_horizon() -> i64 {
    i64::MIN
}

/// One file of the log and how far it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilePosition {
    pub id: FileId,
    /// Of the bytes read from it (at most the first 256).
    pub fingerprint: Fingerprint,
    /// Start of the first record not yet handed over.
    pub offset: u64,
    /// Modification time (ns) when last seen.
    pub mtime_ns: i64,
    /// Its name when last seen.
    pub name: String,
    /// Its length when last seen: more than `offset` means bytes were left unread.
    #[serde(default)]
    pub len: u64,
    /// Birth time (ns), where the filesystem keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_ns: Option<i64>,
    /// A copy-truncate copy of that file, read where that file was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy_of: Option<FileId>,
    /// The bytes the fingerprint covers, in hex, for the live file and truncated ones: after a
    /// restart they tell a copy-truncate copy made before part of them was read.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub head: String,
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
    /// New files of the log (rotations), each counted once, including those lost.
    pub rotations: u64,
    /// Files found shorter than what was read or rewritten, and read again from 0.
    pub truncations: u64,
    /// Files that could not be read to their end: what they held is not counted.
    pub lost: u64,
}

/// Why a poll failed. Positions are unchanged: the next poll tries again.
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
    #[error(
        "{dir}: more than {max} files match the log's names; make the rotated-name pattern narrower",
        max = snapshot::MAX_FILES
    )]
    TooManyFiles { dir: PathBuf },
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

/// A point inside a poll, where the model test changes the directory under the tailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The directory was listed; the files are not opened yet.
    Listed,
    /// The snapshot is taken and matched; nothing is read yet.
    Opened,
    /// One file was read.
    Read,
}

/// Called at each [`Step`]; only tests set one.
#[derive(Default)]
struct Hook(Option<Box<dyn FnMut(Step) + Send>>);

impl Hook {
    fn call(&mut self, step: Step) {
        if let Some(hook) = &mut self.0 {
            hook(step);
        }
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Hook(set)"
        } else {
            "Hook"
        })
    }
}

/// Follows one log (see the module doc).
#[derive(Debug)]
pub struct Tailer {
    spec: TailSpec,
    names: Names,
    /// The files of the log it knows.
    files: Vec<Tracked>,
    /// A first snapshot was taken: unknown files are new from now on.
    started: bool,
    /// A file of the log was known: a new file now is a rotation.
    any_file: bool,
    /// Saved state, until the first snapshot uses it.
    resume: Option<TailState>,
    watch: Watch,
    /// See [`Truncated`].
    truncated: Vec<Truncated>,
    stats: TailStats,
    /// Files lost during this poll, and why the first one was.
    lost_now: u64,
    lost_why: &'static str,
    /// The previous poll lost files too (losses are logged once per run of such polls).
    losing: bool,
    buf: Vec<u8>,
    hook: Hook,
}

impl Tailer {
    /// A tailer for `spec`, resuming from `saved` (from [`Tailer::state`] of an earlier run).
    pub fn new(spec: TailSpec, saved: Option<TailState>) -> Self {
        let names = Names {
            active: spec.active.clone(),
            rotated: spec.rotated.clone(),
        };
        Self {
            stats: saved.as_ref().map(|s| s.stats).unwrap_or_default(),
            spec,
            names,
            files: Vec::new(),
            started: false,
            any_file: false,
            resume: saved,
            watch: Watch::default(),
            truncated: Vec::new(),
            lost_now: 0,
            lost_why: "",
            losing: false,
            buf: vec![0; CHUNK],
            hook: Hook::default(),
        }
    }

    pub fn spec(&self) -> &TailSpec {
        &self.spec
    }

    pub fn stats(&self) -> TailStats {
        self.stats
    }

    /// Calls `hook` at each [`Step`] of every later poll.
    #[cfg(test)]
    pub(crate) fn set_hook(&mut self, hook: impl FnMut(Step) + Send + 'static) {
        self.hook = Hook(Some(Box::new(hook)));
    }

    /// The state to persist, consistent with every record handed over so far.
    pub fn state(&self) -> TailState {
        if !self.started {
            // Nothing looked at yet: what was loaded stands.
            return TailState {
                stats: self.stats,
                ..self.resume.clone().unwrap_or(TailState {
                    horizon_ns: i64::MIN,
                    ..TailState::default()
                })
            };
        }
        let position = |t: &Tracked| {
            let mut p = t.position();
            // A copy following its source holds what the source has not handed over yet.
            if let Some(src) = t
                .copy_of
                .and_then(|id| self.files.iter().find(|s| s.id == id))
            {
                p.offset = p.offset.min(src.split.committed());
            }
            // A short copy holding the start of a truncated file's open record, which is only
            // in memory: after a restart the record is read again from the copy.
            for tr in self.truncated.iter().filter(|tr| tr.copy == Some(t.id)) {
                p.offset = p.offset.min(tr.split.committed());
            }
            p
        };
        TailState {
            file: self.files.iter().find(|t| t.live).map(position),
            horizon_ns: i64::MIN,
            stats: self.stats,
            others: Some(
                self.files
                    .iter()
                    .filter(|t| !t.live)
                    .map(position)
                    .collect(),
            ),
            truncated: self.truncated.iter().map(Truncated::position).collect(),
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
        self.lost_now = 0;
        let result = self.poll_inner(budget, &mut counting);
        self.stats.records += records;
        self.stats.oversized += oversized;
        if let Ok(outcome) = &result {
            self.stats.bytes += outcome.bytes;
        }
        self.log_losses();
        result
    }

    fn poll_inner(
        &mut self,
        budget: u64,
        sink: &mut dyn FnMut(Record<'_>),
    ) -> Result<PollOutcome, TailError> {
        // Events count only once the files they are about are known from a first snapshot.
        let counting = self.watch.ensure(&self.spec.dir) && self.started;
        if counting {
            self.watch.before_listing(&self.names);
        }
        let Snapshot { found, consistent } = match self.snapshot() {
            Ok(snapshot) => snapshot,
            Err(e) => {
                if !counting {
                    self.watch.restart(&self.names, Vec::new());
                }
                return Err(e);
            }
        };
        if !counting {
            // What happened before this snapshot is in it.
            let names = found.iter().map(|f| f.name.as_str()).collect();
            self.watch.restart(&self.names, names);
        }
        let new_files = if self.started {
            self.merge(found)
        } else {
            self.start(found)
        };
        if counting {
            self.watch
                .after_snapshot(&self.names, new_files.iter().map(String::as_str).collect());
            let unseen = self.watch.settle(new_files.len() as u64, consistent);
            if unseen > 0 {
                // Real rotations too, though nothing of them was read.
                self.stats.rotations += unseen;
                self.lost(
                    unseen,
                    "files of the log were created and deleted (or renamed away) between two polls, before they could be read",
                );
            }
        }
        self.hook.call(Step::Opened);
        let outcome = self.read_files(budget, sink);
        self.close_finished();
        outcome
    }

    /// Lists and opens the files of the log (see `snapshot.rs`).
    fn snapshot(&mut self) -> Result<Snapshot, TailError> {
        let held = self.files.iter().filter(|t| t.file.is_some()).count();
        let files = &self.files;
        // A handle is worth keeping for a file with something to read and none kept yet.
        let mut keep = |found: &snapshot::Found| match files.iter().find(|t| t.id == found.id) {
            Some(t) if t.file.is_some() => false,
            Some(t) if t.is(found) => {
                found.len > t.split.scanned() || t.unfinished() || t.rewritten_in(found)
            }
            _ => true,
        };
        snapshot::take(
            &self.spec.dir,
            &self.names,
            MAX_HELD.saturating_sub(held),
            &mut keep,
            &mut |step| self.hook.call(step),
        )
        .map_err(|e| match e {
            SnapshotError::List(source) => TailError::List {
                dir: self.spec.dir.clone(),
                source,
            },
            SnapshotError::Open(name, source) => TailError::Read {
                path: self.spec.dir.join(name),
                source,
            },
            SnapshotError::TooMany => TailError::TooManyFiles {
                dir: self.spec.dir.clone(),
            },
        })
    }

    fn live_index(&self) -> Option<usize> {
        self.files.iter().position(|t| t.live)
    }

    fn read_error(&self, i: Option<usize>, source: std::io::Error) -> TailError {
        let name = i.map(|i| self.files[i].name.as_str()).unwrap_or_default();
        TailError::Read {
            path: self.spec.dir.join(name),
            source,
        }
    }

    /// Counts `n` files as lost; the poll logs it.
    fn lost(&mut self, n: u64, why: &'static str) {
        self.stats.lost += n;
        if self.lost_now == 0 {
            self.lost_why = why;
        }
        self.lost_now += n;
    }

    /// One warning when files start being lost, one line when it stops.
    fn log_losses(&mut self) {
        let dir = self.spec.dir.display();
        if self.lost_now > 0 && !self.losing {
            tracing::warn!(%dir, file = %self.spec.active, lost = self.lost_now,
                lost_total = self.stats.lost, "{}; what they held is not counted (the lost-files counter says how many; poll more often or keep more rotated files)",
                self.lost_why);
        } else if self.lost_now == 0 && self.losing {
            tracing::info!(%dir, file = %self.spec.active, lost_total = self.stats.lost,
                "no more log files lost");
        }
        self.losing = self.lost_now > 0;
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
