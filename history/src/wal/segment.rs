//! Segment files of the write-ahead log (`<dir>/<index>.wal`) and the framing of records in
//! them: `len: u32 LE, crc32c(payload): u32 LE, payload`. Scanning is a pure function over
//! the bytes, so a torn last write and a damaged record are found the same way at start-up and
//! in the tests.

use std::path::{Path, PathBuf};

/// Bytes before each payload.
pub const HEADER: usize = 8;
/// Largest payload written (the writer splits bigger batches); larger lengths are damage.
pub const MAX_RECORD: usize = 32 * 1024 * 1024;

/// Appends a framed record holding `payload` to `out`.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// The file of segment `index`.
pub fn path(dir: &Path, index: u64) -> PathBuf {
    dir.join(format!("{index:010}.wal"))
}

/// The segment indexes in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".wal")) else {
            continue;
        };
        if let Ok(i) = stem.parse::<u64>() {
            out.push(i);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Something wrong found while scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// A record whose checksum does not match: skipped, the next one is read.
    Checksum {
        /// Where the record starts.
        offset: usize,
    },
    /// A length that cannot be right (zero, too large, or past the end): nothing after it in
    /// this segment can be framed. At the end of the newest segment this is a torn write.
    Frame {
        /// Where the bad header starts.
        offset: usize,
        /// Bytes from there to the end of the segment.
        lost: usize,
    },
}

/// What a scan found.
#[derive(Debug, Default)]
pub struct Scan<'a> {
    /// Good records: their offset and payload.
    pub records: Vec<(usize, &'a [u8])>,
    /// Damage, in order.
    pub damage: Vec<Damage>,
    /// Where the good part ends (the end, or the first framing damage).
    pub valid_end: usize,
}

/// Scans a segment's bytes.
pub fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut out = Scan::default();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(header) = bytes.get(pos..pos + HEADER) else {
            out.damage.push(Damage::Frame {
                offset: pos,
                lost: bytes.len() - pos,
            });
            break;
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        let start = pos + HEADER;
        let payload = if len == 0 || len > MAX_RECORD {
            None
        } else {
            bytes.get(start..start + len)
        };
        let Some(payload) = payload else {
            out.damage.push(Damage::Frame {
                offset: pos,
                lost: bytes.len() - pos,
            });
            break;
        };
        if crc32c::crc32c(payload) == crc {
            out.records.push((pos, payload));
        } else {
            out.damage.push(Damage::Checksum { offset: pos });
        }
        pos = start + len;
    }
    out.valid_end = match out.damage.last() {
        Some(Damage::Frame { offset, .. }) => *offset,
        _ => bytes.len(),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            frame(&mut out, p);
        }
        out
    }

    #[test]
    fn a_torn_last_write_at_every_offset_keeps_the_records_before_it() {
        let whole = log(&[b"first", b"second", b"third record"]);
        let last_start = whole.len() - (HEADER + b"third record".len());
        for cut in last_start..whole.len() {
            let s = scan(&whole[..cut]);
            let got: Vec<&[u8]> = s.records.iter().map(|(_, p)| *p).collect();
            assert_eq!(got, vec![&b"first"[..], b"second"], "cut at {cut}");
            assert_eq!(s.valid_end, last_start, "cut at {cut}");
            if cut > last_start {
                assert_eq!(
                    s.damage,
                    vec![Damage::Frame {
                        offset: last_start,
                        lost: cut - last_start
                    }]
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_skips_that_record_only() {
        let mut bytes = log(&[b"one", b"two", b"three"]);
        let second = HEADER + 3;
        bytes[second + HEADER] ^= 0x40;
        let s = scan(&bytes);
        let got: Vec<&[u8]> = s.records.iter().map(|(_, p)| *p).collect();
        assert_eq!(got, vec![&b"one"[..], b"three"]);
        assert_eq!(s.damage, vec![Damage::Checksum { offset: second }]);
        assert_eq!(s.valid_end, bytes.len());
    }

    #[test]
    fn zeros_after_the_records_are_a_torn_tail() {
        let mut bytes = log(&[b"one"]);
        let end = bytes.len();
        bytes.extend_from_slice(&[0; 100]);
        let s = scan(&bytes);
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.valid_end, end);
    }
}
