//! Telling files apart across renames: (device, inode) plus a fingerprint of the first bytes,
//! which catches an inode reused by a new file and a file rewritten in place.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many leading bytes the fingerprint covers once the file has them.
pub(super) const FINGERPRINT_BYTES: usize = 256;

/// (device, inode) of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub(super) fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
}

/// FNV-1a of the first `len` bytes of a file. A file shorter than [`FINGERPRINT_BYTES`] gets
/// a short fingerprint, lengthened as it grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Fingerprint {
    pub len: u32,
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `file` as it is now.
    pub(super) fn read(file: &File) -> std::io::Result<Self> {
        let mut buf = [0u8; FINGERPRINT_BYTES];
        let n = read_full_at(file, &mut buf, 0)?;
        Ok(Self::of(&buf[..n]))
    }

    fn of(bytes: &[u8]) -> Self {
        Self {
            len: bytes.len() as u32,
            hash: bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            }),
        }
    }

    /// Whether `now` (the file's current fingerprint) is this one or a lengthening of it.
    pub(super) fn still_matches(&self, file: &File) -> std::io::Result<bool> {
        if self.len == 0 {
            return Ok(true);
        }
        let mut buf = [0u8; FINGERPRINT_BYTES];
        let n = read_full_at(file, &mut buf, 0)?;
        let len = self.len as usize;
        Ok(n >= len && Self::of(&buf[..len]) == *self)
    }

    pub(super) fn is_full(&self) -> bool {
        self.len as usize >= FINGERPRINT_BYTES
    }
}

/// Reads until `buf` is full or the file ends; returns how many bytes were read.
pub(super) fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// One regular file of the log in its directory.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub name: String,
    pub id: FileId,
    /// Modification time in ns since the epoch: the order rotated files were written in.
    pub mtime_ns: i64,
}

impl Entry {
    pub(super) fn key(&self) -> (i64, &str) {
        (self.mtime_ns, self.name.as_str())
    }
}

pub(super) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Suffixes of compressed rotations, which can only be read after decompressing.
const COMPRESSED: &[&str] = &[".gz", ".bz2", ".xz", ".zst", ".z", ".zip", ".lz4"];

/// The regular files in `dir` whose names match `rotated` (compressed ones left out), and
/// the active file `active` if it exists. Symbolic links are not followed.
pub(super) fn list(
    dir: &Path,
    active: &str,
    rotated: Option<&glob::Pattern>,
) -> std::io::Result<(Option<Entry>, Vec<Entry>)> {
    let mut active_entry = None;
    let mut others = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let item = item?;
        let Ok(name) = item.file_name().into_string() else {
            continue;
        };
        let is_active = name == active;
        let is_rotated = !is_active
            && rotated.is_some_and(|p| p.matches(&name))
            && !COMPRESSED
                .iter()
                .any(|s| name.to_ascii_lowercase().ends_with(s));
        if !is_active && !is_rotated {
            continue;
        }
        // The active file may be a link to the real log; rotated ones are taken as they are.
        // Vanished between listing and stat: a rotation in progress; the next poll sees it.
        let meta = if is_active {
            std::fs::metadata(item.path())
        } else {
            std::fs::symlink_metadata(item.path())
        };
        let Ok(meta) = meta else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let entry = Entry {
            name,
            id: FileId::of(&meta),
            mtime_ns: mtime_ns(&meta),
        };
        if is_active {
            active_entry = Some(entry);
        } else {
            others.push(entry);
        }
    }
    Ok((active_entry, others))
}
