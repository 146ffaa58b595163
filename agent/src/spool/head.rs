//! The spool's small durable pointer file, `head`: the batch-numbering epoch, the highest
//! sequence number the collector acknowledged, and how far sequence numbers are reserved.
//!
//! Reserving ahead is what lets the agent send a batch before its record is on disk: every
//! number handed out lies below a reservation that is durable, and a restarted agent continues
//! from the reservation, so it never reuses a number the collector may already have applied.
//! The file is replaced atomically (write a temporary file, fsync it, rename it over, fsync the
//! directory) and carries a checksum, so it is either the old or the new version, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"PTRLHEAD";
const VERSION: u32 = 1;
const LEN: usize = 8 + 4 + 8 + 8 + 8 + 4;
pub const FILE: &str = "head";

/// The contents of `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub epoch: u64,
    /// Every batch up to this one is acknowledged.
    pub acked: u64,
    /// Sequence numbers below this one may have been handed out.
    pub reserved: u64,
}

/// What reading `head` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    Missing,
    /// Present but not a valid head (torn or damaged); the reason.
    Corrupt(String),
    Valid(Head),
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

pub fn read(dir: &Path) -> std::io::Result<Read> {
    let bytes = match std::fs::read(path(dir)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Missing),
        Err(e) => return Err(e),
    };
    Ok(parse(&bytes))
}

fn parse(b: &[u8]) -> Read {
    if b.len() != LEN {
        return Read::Corrupt(format!("{} bytes, expected {LEN}", b.len()));
    }
    if &b[..8] != MAGIC {
        return Read::Corrupt("not a spool head file".into());
    }
    let crc = u32::from_le_bytes([b[36], b[37], b[38], b[39]]);
    if crc32c::crc32c(&b[..36]) != crc {
        return Read::Corrupt("checksum mismatch".into());
    }
    let version = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    if version != VERSION {
        return Read::Corrupt(format!("version {version}, this agent reads {VERSION}"));
    }
    let u = |i: usize| {
        let mut w = [0; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    Read::Valid(Head {
        epoch: u(12),
        acked: u(20),
        reserved: u(28),
    })
}

fn bytes(h: &Head) -> Vec<u8> {
    let mut b = Vec::with_capacity(LEN);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&h.epoch.to_le_bytes());
    b.extend_from_slice(&h.acked.to_le_bytes());
    b.extend_from_slice(&h.reserved.to_le_bytes());
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Replaces `head` durably.
pub fn write(dir: &Path, h: &Head) -> std::io::Result<()> {
    let tmp = dir.join("head.tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes(h))?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path(dir))?;
    sync_dir(dir)
}

/// Makes a directory's entries (new, renamed or removed files) durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn written_head_reads_back_and_damage_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), Read::Missing);
        let h = Head {
            epoch: 3,
            acked: 10,
            reserved: 70_000,
        };
        write(dir.path(), &h).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Read::Valid(h));
        let mut b = std::fs::read(path(dir.path())).unwrap();
        b[21] ^= 1;
        std::fs::write(path(dir.path()), &b).unwrap();
        assert!(matches!(read(dir.path()).unwrap(), Read::Corrupt(_)));
        std::fs::write(path(dir.path()), &b[..10]).unwrap();
        assert!(matches!(read(dir.path()).unwrap(), Read::Corrupt(_)));
    }
}
