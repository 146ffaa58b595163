//! The segment log: the ordered segments of one spool directory, appended to at the end,
//! trimmed at the front (acknowledged, too big, too old), read in sequence order.
//!
//! Synchronous and single-owner: the spool's writer thread is the only user while the agent
//! runs, and tests drive it directly.

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::head::{self, Head};
use super::record::{self, Bad, RecordHeader};
use super::segment::{self, RecordMeta};

/// How many sequence numbers one durable reservation covers. A restart continues after the
/// reservation, so up to this many numbers are skipped then (gaps are harmless: the collector
/// only needs numbers to grow).
pub const RESERVE_BLOCK: u64 = 1 << 16;

/// Bounds of the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of segment files; past it the oldest segments go.
    pub max_bytes: u64,
    /// Segments whose newest batch is older than this go.
    pub max_age: Duration,
    /// A segment is closed and a new one started once it reaches this size.
    pub segment_bytes: u64,
}

impl Limits {
    /// `max_bytes` and `max_age` with segments a sixteenth of `max_bytes` (64 KiB to 16 MiB),
    /// so dropping the oldest segment frees a small share of the spool at a time.
    pub fn new(max_bytes: u64, max_age: Duration) -> Self {
        Self {
            max_bytes,
            max_age,
            segment_bytes: (max_bytes / 16).clamp(64 << 10, 16 << 20),
        }
    }
}

/// Why batches left the spool without being acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// Over `max_bytes`.
    Full,
    /// Older than `max_age`.
    Expired,
}

/// Unacknowledged batches a trim removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub cause: DropCause,
    pub batches: u64,
    pub samples: u64,
    /// The newest sequence number removed.
    pub through_seq: u64,
}

/// A part of a file that could not be read and was cut off (or a file removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    pub file: PathBuf,
    pub offset: u64,
    pub bytes: u64,
    pub reason: String,
}

/// What opening the spool found and did.
#[derive(Debug, Default)]
pub struct OpenReport {
    pub repairs: Vec<Repair>,
    /// Set when a new epoch had to be started although a spool existed: why.
    pub lost: Option<String>,
    pub dropped: Vec<Dropped>,
    /// Unacknowledged batches found on disk.
    pub pending_batches: u64,
}

/// A record that no longer read back intact: its file, where it was, and what is wrong.
pub type Damaged = (PathBuf, RecordMeta, Bad);

/// A spooled batch read back: its header and protobuf body.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub meta: RecordMeta,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[derive(Debug)]
struct Segment {
    number: u64,
    bytes: u64,
    records: Vec<RecordMeta>,
}

impl Segment {
    /// Index of the first record with a sequence number above `seq`.
    fn first_above(&self, seq: u64) -> usize {
        self.records.partition_point(|r| r.seq <= seq)
    }
}

pub struct SegmentLog {
    dir: PathBuf,
    segments: VecDeque<Segment>,
    /// Append handle of the newest segment, when this process created it.
    active: Option<File>,
    head: Head,
    /// `head` changed in memory since it was last written.
    head_dirty: bool,
    next_number: u64,
    bytes: u64,
    limits: Limits,
    unsynced: bool,
    dir_unsynced: bool,
    /// The segment last read from, kept open for sequential replay.
    reading: Option<(u64, File)>,
}

impl SegmentLog {
    /// Opens (or creates) the spool in `dir`: checks every record, cuts torn or damaged tails
    /// off, forgets what is acknowledged, trims to the limits, and reserves sequence numbers.
    /// Returns the log and the sequence number the next batch gets. `new_epoch` is asked only
    /// when there is no usable epoch on disk.
    pub fn open(
        dir: &Path,
        limits: Limits,
        now_ms: i64,
        new_epoch: impl FnOnce() -> u64,
    ) -> Result<(SegmentLog, u64, OpenReport), LogError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut report = OpenReport::default();
        let _ = std::fs::remove_file(dir.join("head.tmp"));
        let read_head = head::read(dir).map_err(io(&head::path(dir)))?;
        let mut numbers = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            if let Some(n) = entry.file_name().to_str().and_then(segment::number_of) {
                numbers.push(n);
            }
        }
        numbers.sort_unstable();
        let mut segments = VecDeque::new();
        for &number in &numbers {
            let path = segment::path(dir, number);
            let scan = segment::scan(&path).map_err(io(&path))?;
            if scan.bad_header {
                std::fs::remove_file(&path).map_err(io(&path))?;
                report.repairs.push(Repair {
                    file: path,
                    offset: 0,
                    bytes: scan.file_len,
                    reason: "segment header missing or damaged; file removed".into(),
                });
                continue;
            }
            if let Some(bad) = scan.bad {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io(&path))?;
                f.set_len(scan.valid_len).map_err(io(&path))?;
                f.sync_all().map_err(io(&path))?;
                report.repairs.push(Repair {
                    file: path,
                    offset: scan.valid_len,
                    bytes: scan.file_len - scan.valid_len,
                    reason: bad.to_string(),
                });
            }
            segments.push_back(Segment {
                number,
                bytes: scan.valid_len,
                records: scan.records,
            });
        }
        // One epoch per spool: a record of another epoch than the newest cannot be resent
        // under the newest one's hello, so it is cut off like a damaged record.
        let epoch_on_disk = segments
            .iter()
            .rev()
            .find_map(|s| s.records.last())
            .map(|r| r.epoch);
        if let Some(e) = epoch_on_disk {
            for s in &mut segments {
                if let Some(i) = s.records.iter().position(|r| r.epoch != e) {
                    let at = s.records[i].offset;
                    let path = segment::path(dir, s.number);
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io(&path))?;
                    f.set_len(at).map_err(io(&path))?;
                    report.repairs.push(Repair {
                        file: path,
                        offset: at,
                        bytes: s.bytes - at,
                        reason: format!("records of an older epoch than {e}"),
                    });
                    s.records.truncate(i);
                    s.bytes = at;
                }
            }
        }
        let last_seq = segments
            .iter()
            .rev()
            .find_map(|s| s.records.last())
            .map(|r| r.seq);
        let first_seq = segments
            .iter()
            .find_map(|s| s.records.first())
            .map(|r| r.seq);
        let (head, next_seq) = match (read_head, epoch_on_disk) {
            (head::Read::Valid(h), Some(e)) if h.epoch == e => {
                let next = h.reserved.max(last_seq.unwrap_or(0) + 1).max(h.acked + 1);
                (h, next)
            }
            (head::Read::Valid(h), None) => (h, h.reserved.max(h.acked + 1)),
            (read, Some(e)) => {
                // Batches on disk but no head of their epoch: resend them all (the collector
                // drops what it has) and continue past any reservation that may have been made.
                let last = last_seq.unwrap_or(0);
                report.repairs.push(Repair {
                    file: head::path(dir),
                    offset: 0,
                    bytes: 0,
                    reason: format!("head {read:?} does not match the records (epoch {e})"),
                });
                let h = Head {
                    epoch: e,
                    acked: first_seq.unwrap_or(1).saturating_sub(1),
                    reserved: 0,
                };
                (h, last + 1 + RESERVE_BLOCK)
            }
            (read, None) => {
                if let head::Read::Corrupt(why) = &read {
                    report.lost = Some(format!("head unreadable ({why}) and no batches on disk"));
                }
                let h = Head {
                    epoch: new_epoch(),
                    acked: 0,
                    reserved: 0,
                };
                (h, 1)
            }
        };
        let next_number = numbers.last().map(|n| n + 1).unwrap_or(1);
        let mut log = SegmentLog {
            dir: dir.to_owned(),
            bytes: segments.iter().map(|s| s.bytes).sum(),
            segments,
            active: None,
            head,
            head_dirty: true,
            next_number,
            limits,
            unsynced: false,
            dir_unsynced: false,
            reading: None,
        };
        log.forget_acked()?;
        report.dropped = log.trim(now_ms)?;
        report.pending_batches = log.pending_batches();
        log.reserve(next_seq)?;
        Ok((log, next_seq, report))
    }

    pub fn epoch(&self) -> u64 {
        self.head.epoch
    }

    pub fn acked(&self) -> u64 {
        self.head.acked
    }

    /// Sequence numbers below this one may be handed out.
    pub fn reserved(&self) -> u64 {
        self.head.reserved
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Unacknowledged batches on disk.
    pub fn pending_batches(&self) -> u64 {
        let acked = self.head.acked;
        self.segments
            .iter()
            .map(|s| (s.records.len() - s.first_above(acked)) as u64)
            .sum()
    }

    /// Oldest and newest unacknowledged sequence numbers on disk.
    pub fn pending_range(&self) -> Option<(u64, u64)> {
        let acked = self.head.acked;
        let first = self
            .segments
            .iter()
            .find_map(|s| s.records.get(s.first_above(acked)))?;
        let last = self.segments.iter().rev().find_map(|s| s.records.last())?;
        Some((first.seq, last.seq))
    }

    /// Makes sure every number up to `seq` is reserved durably, reserving a block ahead.
    pub fn reserve(&mut self, seq: u64) -> Result<(), LogError> {
        if seq < self.head.reserved && !self.head_dirty {
            return Ok(());
        }
        if seq >= self.head.reserved {
            self.head.reserved = seq + RESERVE_BLOCK;
        }
        self.write_head()
    }

    /// Writes the head if it changed (acks); called now and then and at close.
    pub fn flush_head(&mut self) -> Result<(), LogError> {
        if self.head_dirty {
            self.write_head()?;
        }
        Ok(())
    }

    fn write_head(&mut self) -> Result<(), LogError> {
        head::write(&self.dir, &self.head).map_err(io(&head::path(&self.dir)))?;
        self.head_dirty = false;
        Ok(())
    }

    /// Appends one framed record (see [`record::encode`]); durable after [`Self::sync`].
    pub fn append(&mut self, h: &RecordHeader, frame: &[u8]) -> Result<(), LogError> {
        let full = self
            .segments
            .back()
            .is_none_or(|s| s.bytes >= self.limits.segment_bytes);
        if self.active.is_none() || full {
            self.roll()?;
        }
        let (Some(file), Some(seg)) = (self.active.as_mut(), self.segments.back_mut()) else {
            return Ok(());
        };
        let path = segment::path(&self.dir, seg.number);
        if let Err(e) = file.write_all(frame) {
            // A partial write would leave garbage before the next record: cut back to the
            // last whole one so the segment stays readable, then report the failure.
            let _ = file.set_len(seg.bytes);
            return Err(io(&path)(e));
        }
        seg.records.push(segment::meta(h, seg.bytes, frame.len()));
        seg.bytes += frame.len() as u64;
        self.bytes += frame.len() as u64;
        self.unsynced = true;
        Ok(())
    }

    /// Starts a new segment, after making the current one durable.
    fn roll(&mut self) -> Result<(), LogError> {
        self.sync()?;
        let number = self.next_number;
        let file =
            segment::create(&self.dir, number).map_err(io(&segment::path(&self.dir, number)))?;
        self.next_number += 1;
        self.segments.push_back(Segment {
            number,
            bytes: segment::HEADER_LEN,
            records: Vec::new(),
        });
        self.bytes += segment::HEADER_LEN;
        self.active = Some(file);
        self.dir_unsynced = true;
        Ok(())
    }

    /// Makes every appended record durable (one fdatasync, plus the directory after a new
    /// segment).
    pub fn sync(&mut self) -> Result<(), LogError> {
        if self.unsynced {
            if let (Some(f), Some(seg)) = (&self.active, self.segments.back()) {
                f.sync_data()
                    .map_err(io(&segment::path(&self.dir, seg.number)))?;
            }
            self.unsynced = false;
        }
        if self.dir_unsynced {
            head::sync_dir(&self.dir).map_err(io(&self.dir))?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    /// Every batch up to `seq` is acknowledged: segments holding nothing newer are removed.
    pub fn ack(&mut self, seq: u64) -> Result<(), LogError> {
        if seq <= self.head.acked {
            return Ok(());
        }
        self.head.acked = seq;
        self.head_dirty = true;
        self.forget_acked()
    }

    fn forget_acked(&mut self) -> Result<(), LogError> {
        let acked = self.head.acked;
        while let Some(front) = self.segments.front() {
            let done = front.records.last().is_some_and(|r| r.seq <= acked);
            // An empty segment is removed too, unless it is the one being appended to.
            let empty_closed = front.records.is_empty() && self.segments.len() > 1;
            if !(done || empty_closed) {
                break;
            }
            self.remove_front()?;
        }
        Ok(())
    }

    fn remove_front(&mut self) -> Result<Option<Segment>, LogError> {
        let Some(seg) = self.segments.pop_front() else {
            return Ok(None);
        };
        let path = segment::path(&self.dir, seg.number);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                self.segments.push_front(seg);
                return Err(io(&path)(e));
            }
        }
        self.bytes -= seg.bytes;
        if self.segments.is_empty() {
            self.active = None;
            self.unsynced = false;
        }
        if self.reading.as_ref().is_some_and(|(n, _)| *n == seg.number) {
            self.reading = None;
        }
        self.dir_unsynced = true;
        Ok(Some(seg))
    }

    /// Removes the oldest segments while the spool is over `max_bytes` or their newest batch
    /// is older than `max_age`; returns what was lost that was not acknowledged.
    pub fn trim(&mut self, now_ms: i64) -> Result<Vec<Dropped>, LogError> {
        let mut dropped = Vec::new();
        let max_age_ms = i64::try_from(self.limits.max_age.as_millis()).unwrap_or(i64::MAX);
        let oldest_kept = now_ms.saturating_sub(max_age_ms);
        while let Some(front) = self.segments.front() {
            let expired = front
                .records
                .last()
                .is_some_and(|r| r.created_ms < oldest_kept);
            let full = self.bytes > self.limits.max_bytes && self.segments.len() > 1;
            if !(expired || full) {
                break;
            }
            let cause = if expired {
                DropCause::Expired
            } else {
                DropCause::Full
            };
            let acked = self.head.acked;
            if let Some(seg) = self.remove_front()? {
                let lost = &seg.records[seg.first_above(acked)..];
                if let Some(last) = lost.last() {
                    dropped.push(Dropped {
                        cause,
                        batches: lost.len() as u64,
                        samples: lost.iter().map(|r| u64::from(r.points)).sum(),
                        through_seq: last.seq,
                    });
                }
            }
        }
        Ok(dropped)
    }

    /// Up to `max` unacknowledged batches with a sequence number above `after` and below
    /// `before`, in order. A record that no longer reads back intact is skipped and returned
    /// in the second list with its file.
    pub fn read(
        &mut self,
        after: u64,
        before: u64,
        max: usize,
    ) -> Result<(Vec<Stored>, Vec<Damaged>), LogError> {
        let from = after.max(self.head.acked);
        let mut out = Vec::new();
        let mut damaged = Vec::new();
        let wanted: Vec<(u64, RecordMeta)> = self
            .segments
            .iter()
            .flat_map(|s| {
                s.records[s.first_above(from)..]
                    .iter()
                    .map(|r| (s.number, *r))
            })
            .take_while(|(_, r)| r.seq < before)
            .take(max)
            .collect();
        for (number, meta) in wanted {
            let path = segment::path(&self.dir, number);
            if self.reading.as_ref().is_none_or(|(n, _)| *n != number) {
                let f = File::open(&path).map_err(io(&path))?;
                self.reading = Some((number, f));
            }
            let Some((_, file)) = &self.reading else {
                continue;
            };
            match segment::read_record(file, &meta).map_err(io(&path))? {
                Ok(body) => out.push(Stored { meta, body }),
                Err(bad) => damaged.push((path, meta, bad)),
            }
        }
        Ok((out, damaged))
    }

    /// Writes what is pending (records, head) to disk.
    pub fn close(&mut self) -> Result<(), LogError> {
        self.sync()?;
        self.flush_head()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Frames a record; `frame` is reused between calls.
pub fn frame(h: &RecordHeader, body: &[u8], frame: &mut Vec<u8>) {
    frame.clear();
    record::encode(h, body, frame);
}
