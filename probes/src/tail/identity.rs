//! Telling files apart across renames: (device, inode), the birth time where the filesystem
//! keeps one, and a fingerprint of the first bytes, which together catch an inode reused by a
//! new file and a file rewritten in place.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// How many leading bytes the fingerprint covers once the file has them.
pub(super) const FINGERPRINT_BYTES: usize = 256;

/// (device, inode) of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
    /// The fingerprint of a file whose first bytes are `head` (from [`read_head`]).
    pub(super) fn of(head: &[u8]) -> Self {
        let head = &head[..head.len().min(FINGERPRINT_BYTES)];
        Self {
            len: head.len() as u32,
            hash: head.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            }),
        }
    }

    /// Whether a file starting with `head` is the one fingerprinted (or a lengthening of it).
    pub(super) fn matches(&self, head: &[u8]) -> bool {
        let len = self.len as usize;
        len == 0 || (head.len() >= len && Self::of(&head[..len]) == *self)
    }
}

/// The first [`FINGERPRINT_BYTES`] bytes of `file` (fewer if it is shorter).
pub(super) fn read_head(file: &File) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; FINGERPRINT_BYTES];
    let n = read_full_at(file, &mut buf, 0)?;
    buf.truncate(n);
    Ok(buf)
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

/// Whether the first `len` bytes of `copy` are the first `len` bytes of `of`: how a
/// copy-truncate copy is told from a file that merely starts alike.
pub(super) fn is_prefix(copy: &File, len: u64, of: &File) -> std::io::Result<bool> {
    same_bytes(copy, of, 0, len)
}

/// Whether `a` and `b` both hold the same bytes from `from` to `to`.
pub(super) fn same_bytes(a: &File, b: &File, from: u64, to: u64) -> std::io::Result<bool> {
    if a.metadata()?.len() < to || b.metadata()?.len() < to {
        return Ok(false);
    }
    let mut x = vec![0u8; 64 * 1024];
    let mut y = vec![0u8; 64 * 1024];
    let mut at = from;
    while at < to {
        let want = x.len().min(usize::try_from(to - at).unwrap_or(usize::MAX));
        let n = read_full_at(a, &mut x[..want], at)?;
        // Shorter than it was, or different.
        if n == 0 || read_full_at(b, &mut y[..n], at)? < n || x[..n] != y[..n] {
            return Ok(false);
        }
        at += n as u64;
    }
    Ok(true)
}

/// `bytes` in lowercase hex.
pub(super) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string written by [`to_hex`] whose fingerprint is `fingerprint`; empty
/// if it is not one (saved state edited by hand, or from an older version).
pub(super) fn from_hex(hex: &str, fingerprint: Fingerprint) -> Vec<u8> {
    let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    match bytes {
        Some(b) if hex.len().is_multiple_of(2) && Fingerprint::of(&b) == fingerprint => b,
        _ => Vec::new(),
    }
}

/// Modification time in ns since the epoch.
pub(super) fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Birth time in ns since the epoch, where the filesystem records one (statx `btime`: ext4,
/// xfs, btrfs ...). Two files with the same inode and different birth times are different
/// files, which tells a reused inode apart without looking at the content.
pub(super) fn birth_ns(meta: &std::fs::Metadata) -> Option<i64> {
    let born = meta.created().ok()?;
    let since = born.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(since.as_nanos()).ok()
}

/// Suffixes of compressed rotations, which can only be read after decompressing.
const COMPRESSED: &[&str] = &[".gz", ".bz2", ".xz", ".zst", ".z", ".zip", ".lz4"];

/// Which names in the log's directory belong to the log.
#[derive(Debug, Clone)]
pub(super) struct Names {
    pub active: String,
    pub rotated: Option<glob::Pattern>,
}

/// What a name in the directory is to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NameKind {
    /// The file being written.
    Live,
    /// One of its rotated copies.
    Rotated,
}

impl Names {
    /// `Some` for the live file's name and for rotated names (compressed ones left out).
    pub(super) fn kind(&self, name: &str) -> Option<NameKind> {
        if name == self.active {
            return Some(NameKind::Live);
        }
        let rotated = self.rotated.as_ref().is_some_and(|p| p.matches(name))
            && !COMPRESSED
                .iter()
                .any(|s| name.to_ascii_lowercase().ends_with(s));
        rotated.then_some(NameKind::Rotated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_its_file_and_lengthenings_only() {
        let fp = Fingerprint::of(b"####<1> one");
        assert!(fp.matches(b"####<1> one"));
        assert!(fp.matches(b"####<1> one\n####<2>"), "the file grew");
        assert!(!fp.matches(b"####<1> on"), "shorter than the fingerprint");
        assert!(!fp.matches(b"####<2> one"));
        assert!(Fingerprint::default().matches(b"anything"));
        let long = vec![b'x'; 1000];
        assert_eq!(Fingerprint::of(&long).len as usize, FINGERPRINT_BYTES);
    }

    #[test]
    fn a_copy_is_a_prefix_and_a_look_alike_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(dir.path().join(name), bytes).expect("write");
            File::open(dir.path().join(name)).expect("open")
        };
        let live = write(
            "live",
            &[b"####<12> one\n".repeat(10_000), b"more".to_vec()].concat(),
        );
        let copy = write("copy", &b"####<12> one\n".repeat(10_000));
        let alike = write("alike", b"####<13> one\n");
        let long = copy.metadata().expect("stat").len();
        assert!(is_prefix(&copy, long, &live).expect("compare"));
        assert!(!is_prefix(&alike, 13, &live).expect("compare"));
        assert!(
            !is_prefix(&live, long + 4, &copy).expect("compare"),
            "longer"
        );
    }

    #[test]
    fn head_round_trips_through_hex_and_garbage_is_dropped() {
        let head = b"####<\xff\x00> x".to_vec();
        let fp = Fingerprint::of(&head);
        assert_eq!(from_hex(&to_hex(&head), fp), head);
        assert!(from_hex("zz", fp).is_empty());
        assert!(
            from_hex(&to_hex(b"other"), fp).is_empty(),
            "not what the fingerprint says"
        );
        assert!(
            from_hex("abc", Fingerprint::of(&[0xab])).is_empty(),
            "odd length"
        );
    }

    #[test]
    fn names_of_the_log() {
        let names = Names {
            active: "ms1.log".into(),
            rotated: Some(glob::Pattern::new("ms1.log?*").expect("pattern")),
        };
        assert_eq!(names.kind("ms1.log"), Some(NameKind::Live));
        assert_eq!(names.kind("ms1.log00001"), Some(NameKind::Rotated));
        assert_eq!(names.kind("ms1.log00001.GZ"), None);
        assert_eq!(names.kind("ms1.out"), None);
    }
}
