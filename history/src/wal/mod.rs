//! The write-ahead log: every accepted sample is appended here, and made durable with one
//! fdatasync per group of requests, before its batch is acknowledged. Chunks are rebuilt from
//! it after a crash; remote-write follows it.

pub mod record;
pub mod segment;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A position in the log: segment and byte offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    /// Segment index.
    pub segment: u64,
    /// Offset within it.
    pub offset: u64,
}

/// The segment being written.
#[derive(Debug)]
pub struct Appender {
    dir: PathBuf,
    index: u64,
    file: File,
    len: u64,
    fsync: bool,
}

impl Appender {
    /// Starts segment `index` in `dir` (a new, empty file).
    pub fn create(dir: &Path, index: u64, fsync: bool) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(segment::path(dir, index))?;
        if fsync {
            // The new file's name must survive a crash too.
            File::open(dir)?.sync_all()?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            index,
            file,
            len: 0,
            fsync,
        })
    }

    /// Writes framed records and makes them durable.
    pub fn write(&mut self, framed: &[u8]) -> std::io::Result<Pos> {
        if !framed.is_empty() {
            self.file.write_all(framed)?;
            if self.fsync {
                self.file.sync_data()?;
            }
            self.len += framed.len() as u64;
        }
        Ok(self.pos())
    }

    /// The end of what was written.
    pub fn pos(&self) -> Pos {
        Pos {
            segment: self.index,
            offset: self.len,
        }
    }

    /// Closes this segment and starts the next one.
    pub fn rotate(&mut self) -> std::io::Result<u64> {
        let next = Self::create(&self.dir, self.index + 1, self.fsync)?;
        *self = next;
        Ok(self.index)
    }

    /// Bytes in this segment.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written to it.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its index.
    pub fn index(&self) -> u64 {
        self.index
    }
}

/// Total bytes of the log's segments.
pub fn disk_bytes(dir: &Path) -> u64 {
    segment::list(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|i| std::fs::metadata(segment::path(dir, *i)).ok())
        .map(|m| m.len())
        .sum()
}
