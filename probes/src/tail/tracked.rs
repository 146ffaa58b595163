//! One file of the log that the tailer knows: who it is, how far it was read, and the handle
//! that keeps it readable after a rename or a delete.

use std::fs::File;

use super::identity::{self, FileId, Fingerprint, NameKind, mtime_ns};
use super::snapshot::Found;
use super::split::Splitter;
use super::{FilePosition, Record, RecordStart};

#[derive(Debug)]
pub(super) struct Tracked {
    pub id: FileId,
    pub birth_ns: Option<i64>,
    pub name: String,
    /// Of the bytes read so far (lengthened as the file grows to 256 bytes).
    pub fingerprint: Fingerprint,
    /// Those bytes: taken from what was read, never read again from the file, which may
    /// have been truncated and rewritten since.
    head: Vec<u8>,
    pub mtime_ns: i64,
    /// Its length when last looked at.
    pub len: u64,
    /// Open while the file is the live one or still has bytes to read: through it a renamed
    /// or deleted file is read to its end, and its inode cannot be reused meanwhile.
    pub file: Option<File>,
    /// Where reading stands: `scanned` is what was read, `committed` what was handed over.
    pub split: Splitter,
    /// The file being written (its name is the live name).
    pub live: bool,
    /// Found by the last snapshot.
    pub present: bool,
    /// A copy-truncate copy of that file: read only where the file itself no longer has the
    /// bytes (after its truncation); until then it follows that file's read position.
    pub copy_of: Option<FileId>,
}

impl Tracked {
    /// A file from a snapshot, to be read from `offset`.
    pub(super) fn new(found: Found, offset: u64, max_record: usize) -> Self {
        // The bytes before `offset`, as the snapshot read them, count as read.
        let mut head = found.head;
        head.truncate(offset_len(offset));
        Self {
            id: found.id,
            birth_ns: found.birth_ns,
            fingerprint: Fingerprint::of(&head),
            head,
            name: found.name,
            mtime_ns: found.mtime_ns,
            len: found.len,
            file: found.file,
            split: Splitter::new(offset, max_record),
            live: found.kind == NameKind::Live,
            present: true,
            copy_of: None,
        }
    }

    /// A file known from saved state, found again by a snapshot; `rewritten`: it no longer
    /// starts with the bytes read from it, which the saved fingerprint still describes.
    pub(super) fn resumed(
        saved: &FilePosition,
        found: Found,
        rewritten: bool,
        max_record: usize,
    ) -> Self {
        let mut t = Self::new(found, saved.offset, max_record);
        if rewritten {
            t.fingerprint = saved.fingerprint;
            t.head = identity::from_hex(&saved.head, saved.fingerprint);
        }
        t.birth_ns = t.birth_ns.or(saved.birth_ns);
        t.copy_of = saved.copy_of;
        t
    }

    /// Forgets what was read: the file is read again from 0. Returns where reading stood,
    /// the fingerprint of what was read and its first bytes.
    pub(super) fn restart(&mut self, max_record: usize) -> (Splitter, Fingerprint, Vec<u8>) {
        (
            std::mem::replace(&mut self.split, Splitter::new(0, max_record)),
            std::mem::take(&mut self.fingerprint),
            std::mem::take(&mut self.head),
        )
    }

    /// Continues from where `split` stood (a copy-truncate copy taking over from its
    /// source, whose first bytes it has too). A copy shorter than what was read of its source
    /// (copied before that read) holds nothing more: it is then taken as read to its end and
    /// `split` is handed back, for its open record to be finished as it is.
    pub(super) fn take_over(&mut self, split: Splitter, max_record: usize) -> Option<Splitter> {
        if split.scanned() > self.len {
            self.split = Splitter::new(self.len, max_record);
            return Some(split);
        }
        // Its own first bytes, as far as they count as read: the fingerprint describes this
        // file, which may be shorter than the source was when it was read.
        self.head.truncate(offset_len(split.scanned()));
        self.fingerprint = Fingerprint::of(&self.head);
        self.split = split;
        None
    }

    /// What to save: the position of the first record not yet handed over.
    pub(super) fn position(&self) -> FilePosition {
        FilePosition {
            id: self.id,
            fingerprint: self.fingerprint,
            offset: self.split.committed(),
            mtime_ns: self.mtime_ns,
            name: self.name.clone(),
            len: self.len.max(self.split.scanned()),
            birth_ns: self.birth_ns,
            copy_of: self.copy_of,
            head: if self.live {
                identity::to_hex(&self.head)
            } else {
                String::new()
            },
        }
    }

    /// Whether `found`, which has this file's inode, is this file (and not a new file that
    /// got the inode after this one was deleted, or this one rewritten).
    pub(super) fn is(&self, found: &Found) -> bool {
        if let (Some(a), Some(b)) = (self.birth_ns, found.birth_ns) {
            // Same birth: the same file, even rewritten (the read notices that).
            return a == b;
        }
        // Without birth times an empty file matches any fingerprint; one that is no longer
        // empty is taken as new (a file followed to its end and renamed is not written to
        // again in the common case; if it is, reading it as new reads the same bytes).
        let was_empty = self.fingerprint.len == 0 && self.split.scanned() == 0;
        if was_empty && self.len == 0 && found.len > 0 {
            return false;
        }
        self.fingerprint.matches(&found.head) && found.len >= self.split.scanned()
    }

    /// Whether `found` (this file) is shorter than what was read or starts differently.
    pub(super) fn rewritten_in(&self, found: &Found) -> bool {
        found.len < self.split.scanned() || !self.fingerprint.matches(&found.head)
    }

    /// Takes the news of a snapshot about this file.
    pub(super) fn update(&mut self, found: Found) {
        self.name = found.name;
        self.len = found.len;
        self.mtime_ns = found.mtime_ns;
        self.live = found.kind == NameKind::Live;
        self.present = true;
        self.birth_ns = self.birth_ns.or(found.birth_ns);
        if self.file.is_none() {
            self.file = found.file;
        }
    }

    /// Bytes not read yet, or a last record read but not handed over (a file no longer
    /// written hands it over when finished).
    pub(super) fn unfinished(&self) -> bool {
        self.len > self.split.scanned() || self.split.committed() < self.split.scanned()
    }

    /// Whether the file shrank below what was read or its first bytes changed (truncation,
    /// copy-truncate). Only meaningful through a kept handle.
    pub(super) fn rewritten(&mut self) -> std::io::Result<bool> {
        let Some(file) = &self.file else {
            return Ok(false);
        };
        let meta = file.metadata()?;
        self.len = meta.len();
        self.mtime_ns = mtime_ns(&meta);
        let head = identity::read_head(file)?;
        Ok(meta.len() < self.split.scanned() || !self.fingerprint.matches(&head))
    }

    /// Reads to the end of the file or of `left`; returns (bytes read, reached the end).
    /// `go_on(offset, bytes)` is asked about every chunk read before it is taken; `false`
    /// stops the read there, the chunk not taken.
    pub(super) fn read(
        &mut self,
        buf: &mut [u8],
        left: &mut u64,
        rule: &RecordStart,
        sink: &mut dyn FnMut(Record<'_>),
        go_on: &mut dyn FnMut(u64, &[u8]) -> bool,
    ) -> std::io::Result<(u64, bool)> {
        let Some(file) = &self.file else {
            return Ok((0, true));
        };
        let mut total = 0u64;
        let at_end = loop {
            if *left == 0 {
                break false;
            }
            let want = buf.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
            let at = self.split.scanned();
            let n = identity::read_full_at(file, &mut buf[..want], at)?;
            if n == 0 {
                break true;
            }
            if !go_on(at, &buf[..n]) {
                break false;
            }
            if self.head.len() as u64 == at && self.head.len() < identity::FINGERPRINT_BYTES {
                let room = identity::FINGERPRINT_BYTES - self.head.len();
                self.head.extend_from_slice(&buf[..n.min(room)]);
                self.fingerprint = Fingerprint::of(&self.head);
            }
            self.split.feed(&buf[..n], rule, sink);
            total += n as u64;
            *left -= n as u64;
        };
        let meta = file.metadata()?;
        self.mtime_ns = mtime_ns(&meta);
        self.len = meta.len();
        Ok((total, at_end))
    }

    /// Key for reading files in the order they were written: by birth time where known,
    /// else by last modification, then by name.
    pub(super) fn age(&self) -> (i64, i64, &str) {
        (
            self.birth_ns.unwrap_or(self.mtime_ns),
            self.mtime_ns,
            self.name.as_str(),
        )
    }
}

/// How many leading bytes of a file read up to `offset` the fingerprint may cover: only bytes
/// actually read, so a fingerprint always describes what was counted.
fn offset_len(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// What was read of a file before it was truncated, kept until the next snapshot in case its
/// copy-truncate copy turns up there (copied after the snapshot that would have shown it):
/// the copy then continues from here instead of being read from 0.
#[derive(Debug)]
pub(super) struct Truncated {
    pub id: FileId,
    pub name: String,
    /// Of the bytes read before the truncation.
    pub fingerprint: Fingerprint,
    /// Those bytes (empty when known from saved state only).
    pub head: Vec<u8>,
    /// Where reading stood, with the record it left open.
    pub split: Splitter,
    pub mtime_ns: i64,
    /// A snapshot listed after the truncation was seen was searched for the copy: if this
    /// is still here when files are read, there is none and the open record is finished by
    /// itself.
    pub looked: bool,
    /// A copy shorter than what was read, holding the start of the open record: if the
    /// agent stops before the record is finished here, the copy is read again from the
    /// record's start after the restart (see [`super::Tailer::state`]).
    pub copy: Option<FileId>,
}

impl Truncated {
    pub(super) fn position(&self) -> FilePosition {
        FilePosition {
            id: self.id,
            fingerprint: self.fingerprint,
            offset: self.split.committed(),
            mtime_ns: self.mtime_ns,
            name: self.name.clone(),
            len: self.split.scanned(),
            birth_ns: None,
            copy_of: None,
            head: identity::to_hex(&self.head),
        }
    }

    /// Whether `found`, a new rotated file, is its copy — it starts with the bytes read
    /// before the truncation, or all of it is their beginning (copied before they were all
    /// read) — and how many bytes that rests on (0: not a copy). Of several truncated files a
    /// new file could be the copy of, the longest match is the one.
    pub(super) fn match_len(&self, found: &Found) -> usize {
        if found.kind != NameKind::Rotated || found.len == 0 {
            return 0;
        }
        if self.head.is_empty() {
            let fp = self.fingerprint;
            return if fp.len > 0 && fp.matches(&found.head) {
                fp.len as usize
            } else {
                0
            };
        }
        let n = found.head.len().min(self.head.len());
        if found.head[..n] == self.head[..n] {
            n
        } else {
            0
        }
    }
}
