//! One segment file of the spool: a 16-byte header, then records back to back. Segments are
//! named by a number that only grows (`00000000000000000042.seg`), so listing the directory
//! gives them oldest first. A segment is appended to by one agent process only: a restarted
//! agent starts a new one, so the only place a torn write can be is the end of a segment.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, Bad, RecordHeader};

const MAGIC: &[u8; 12] = b"PATROLSPOOL\0";
const VERSION: u32 = 1;
pub const HEADER_LEN: u64 = 16;
const SUFFIX: &str = ".seg";

/// Where one record sits in its segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub seq: u64,
    pub epoch: u64,
    pub created_ms: i64,
    pub points: u32,
    pub offset: u64,
    pub len: u32,
}

/// What scanning a segment found.
#[derive(Debug)]
pub struct Scan {
    pub records: Vec<RecordMeta>,
    /// Bytes up to the end of the last intact record (the header alone when none is).
    pub valid_len: u64,
    pub file_len: u64,
    /// Why scanning stopped before the end of the file, if it did.
    pub bad: Option<Bad>,
    /// The header itself is missing or wrong.
    pub bad_header: bool,
}

pub fn file_name(number: u64) -> String {
    format!("{number:020}{SUFFIX}")
}

/// The segment number of a file name, if it is a segment's.
pub fn number_of(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn path(dir: &Path, number: u64) -> PathBuf {
    dir.join(file_name(number))
}

fn header() -> [u8; HEADER_LEN as usize] {
    let mut h = [0; HEADER_LEN as usize];
    h[..12].copy_from_slice(MAGIC);
    h[12..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Creates a new, empty segment (header only). The caller makes the directory entry durable.
pub fn create(dir: &Path, number: u64) -> std::io::Result<File> {
    let mut f = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(path(dir, number))?;
    f.write_all(&header())?;
    Ok(f)
}

/// Reads a whole segment and checks every record. Scanning stops at the first record that is
/// not intact: everything from there on is unreadable, since record boundaries are only known
/// by walking the lengths.
pub fn scan(path: &Path) -> std::io::Result<Scan> {
    let bytes = std::fs::read(path)?;
    let file_len = bytes.len() as u64;
    if bytes.len() < HEADER_LEN as usize || bytes[..HEADER_LEN as usize] != header() {
        return Ok(Scan {
            records: Vec::new(),
            valid_len: 0,
            file_len,
            bad: None,
            bad_header: true,
        });
    }
    let mut records = Vec::new();
    let mut at = HEADER_LEN as usize;
    let mut bad = None;
    while at < bytes.len() {
        match record::decode(&bytes[at..]) {
            Ok((h, _, len)) => {
                records.push(meta(&h, at as u64, len));
                at += len;
            }
            Err(e) => {
                bad = Some(e);
                break;
            }
        }
    }
    Ok(Scan {
        records,
        valid_len: at as u64,
        file_len,
        bad,
        bad_header: false,
    })
}

pub fn meta(h: &RecordHeader, offset: u64, len: usize) -> RecordMeta {
    RecordMeta {
        seq: h.seq,
        epoch: h.epoch,
        created_ms: h.created_ms,
        points: h.points,
        offset,
        len: len as u32,
    }
}

/// Reads and re-checks one record (the disk may have changed since it was scanned).
pub fn read_record(file: &File, m: &RecordMeta) -> std::io::Result<Result<Vec<u8>, Bad>> {
    let mut buf = vec![0; m.len as usize];
    file.read_exact_at(&mut buf, m.offset)?;
    Ok(match record::decode(&buf) {
        Ok((h, body, _)) if h.seq == m.seq => Ok(body.to_vec()),
        Ok(_) => Err(Bad::Checksum),
        Err(e) => Err(e),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_number() {
        assert_eq!(file_name(42), "00000000000000000042.seg");
        assert_eq!(number_of(&file_name(42)), Some(42));
        assert_eq!(number_of("head"), None);
        assert_eq!(number_of("0042.seg"), None);
    }
}
