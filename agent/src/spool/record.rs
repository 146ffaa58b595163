//! One spooled batch on disk: `len: u32 | crc: u32 | payload`, little-endian.
//!
//! The payload is a fixed header (epoch, seq, the time it was spooled, point count) followed by
//! the batch as a protobuf body. The checksum (CRC-32C) covers the length field and the payload,
//! so a torn write, a zero-filled tail left by a crash, or a flipped bit are all caught: a zero
//! length is refused outright (the CRC-32C of nothing is 0, which a zero-filled tail would
//! otherwise pass).

/// Bytes before the payload: length and checksum.
pub const FRAME_LEN: usize = 8;
/// Bytes of the fixed payload header.
pub const HEADER_LEN: usize = 28;
/// Largest payload accepted when reading; anything longer is a corrupt length field.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// What a record says about its batch without decoding the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// Batch-numbering epoch of the agent that made it.
    pub epoch: u64,
    /// The batch's sequence number, as sent to the collector.
    pub seq: u64,
    /// When the batch was spooled (ms since the Unix epoch): what `max_age` is judged on.
    pub created_ms: i64,
    /// Points in the batch, so drops are counted without decoding the body.
    pub points: u32,
}

/// Why bytes are not a whole, intact record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Fewer bytes than the frame announces: a write cut short.
    Short,
    /// A length no record has (zero, below the header, or absurdly large).
    Length,
    /// The checksum does not match.
    Checksum,
}

impl std::fmt::Display for Bad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Bad::Short => "record cut short",
            Bad::Length => "impossible record length",
            Bad::Checksum => "checksum mismatch",
        })
    }
}

/// Appends the framed record to `out`.
pub fn encode(h: &RecordHeader, body: &[u8], out: &mut Vec<u8>) {
    let len = (HEADER_LEN + body.len()) as u32;
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&h.epoch.to_le_bytes());
    out.extend_from_slice(&h.seq.to_le_bytes());
    out.extend_from_slice(&h.created_ms.to_le_bytes());
    out.extend_from_slice(&h.points.to_le_bytes());
    out.extend_from_slice(body);
    let crc = checksum(&out[start..start + 4], &out[start + FRAME_LEN..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// The total size of a record with a body of `body_len` bytes.
pub fn framed_len(body_len: usize) -> usize {
    FRAME_LEN + HEADER_LEN + body_len
}

/// Reads the record at the start of `buf`: its header, its body and its total length.
pub fn decode(buf: &[u8]) -> Result<(RecordHeader, &[u8], usize), Bad> {
    let len = payload_len(buf)?;
    let total = FRAME_LEN + len;
    let frame = buf.get(..total).ok_or(Bad::Short)?;
    let stored = u32::from_le_bytes(word(&frame[4..8]));
    if checksum(&frame[..4], &frame[FRAME_LEN..]) != stored {
        return Err(Bad::Checksum);
    }
    let p = &frame[FRAME_LEN..];
    let header = RecordHeader {
        epoch: u64::from_le_bytes(dword(&p[0..8])),
        seq: u64::from_le_bytes(dword(&p[8..16])),
        created_ms: i64::from_le_bytes(dword(&p[16..24])),
        points: u32::from_le_bytes(word(&p[24..28])),
    };
    Ok((header, &p[HEADER_LEN..], total))
}

/// The payload length announced by the frame at the start of `buf`, checked for sanity.
pub fn payload_len(buf: &[u8]) -> Result<usize, Bad> {
    let head = buf.get(..FRAME_LEN).ok_or(Bad::Short)?;
    let len = u32::from_le_bytes(word(&head[..4])) as usize;
    if !(HEADER_LEN..=MAX_PAYLOAD).contains(&len) {
        return Err(Bad::Length);
    }
    Ok(len)
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(len), payload)
}

fn word(b: &[u8]) -> [u8; 4] {
    let mut w = [0; 4];
    w.copy_from_slice(&b[..4]);
    w
}

fn dword(b: &[u8]) -> [u8; 8] {
    let mut w = [0; 8];
    w.copy_from_slice(&b[..8]);
    w
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(seq: u64) -> RecordHeader {
        RecordHeader {
            epoch: 7,
            seq,
            created_ms: 1_700_000_000_000,
            points: 3,
        }
    }

    #[test]
    fn round_trips() {
        let mut buf = Vec::new();
        encode(&header(5), b"body", &mut buf);
        assert_eq!(buf.len(), framed_len(4));
        let (h, body, n) = decode(&buf).unwrap();
        assert_eq!((h, body, n), (header(5), &b"body"[..], buf.len()));
    }

    #[test]
    fn every_cut_and_every_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        encode(&header(9), b"some protobuf bytes", &mut buf);
        for cut in 0..buf.len() {
            assert!(decode(&buf[..cut]).is_err(), "cut at {cut}");
        }
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut b = buf.clone();
                b[byte] ^= 1 << bit;
                assert!(decode(&b).is_err(), "flip {byte}.{bit}");
            }
        }
    }

    #[test]
    fn zero_filled_tail_is_not_a_record() {
        assert_eq!(decode(&[0u8; 64]), Err(Bad::Length));
    }
}
