//! Bit-level writing and reading for the chunk encodings: most significant bit first, so a
//! chunk's bytes read in the order they were written.

/// Appends bits to a byte vector.
///
/// The newest bits wait in a 64-bit accumulator inside the writer and reach the vector eight
/// bytes at a time: with thousands of series each appending to its own chunk the vector's
/// tail is rarely in cache, so it is touched once per 64 bits instead of on every sample.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    /// Whole 64-bit words written, most significant byte first.
    bytes: Vec<u8>,
    /// The last `pending` bits written, right-aligned.
    acc: u64,
    /// Bits in `acc` (0..64).
    pending: u8,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer continuing `bytes`, whose last byte has `used` bits in use (0 = full).
    pub fn resume(mut bytes: Vec<u8>, used: u8) -> Self {
        let mut w = Self::default();
        let tail = match (used % 8, bytes.pop()) {
            (0, Some(last)) => {
                bytes.push(last);
                None
            }
            (u, Some(last)) => Some((last, u)),
            (_, None) => None,
        };
        for b in bytes {
            w.write(u64::from(b), 8);
        }
        if let Some((last, u)) = tail {
            w.write(u64::from(last >> (8 - u)), u);
        }
        w
    }

    /// Writes the low `n` bits of `value` (n ≤ 64), most significant first.
    pub fn write(&mut self, value: u64, n: u8) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let n = n.min(64);
        let value = if n == 64 {
            value
        } else {
            value & ((1u64 << n) - 1)
        };
        let free = 64 - self.pending;
        if n < free {
            self.acc = (self.acc << n) | value;
            self.pending += n;
            return;
        }
        // The accumulator fills up: its word goes out, the rest starts the next one.
        let rest = n - free;
        let top = if rest == 0 { value } else { value >> rest };
        let word = if self.pending == 0 {
            top
        } else {
            (self.acc << free) | top
        };
        self.bytes.extend_from_slice(&word.to_be_bytes());
        self.acc = if rest == 0 {
            0
        } else {
            value & ((1u64 << rest) - 1)
        };
        self.pending = rest;
    }

    /// Writes one bit.
    pub fn bit(&mut self, on: bool) {
        self.write(u64::from(on), 1);
    }

    /// Bits written so far.
    pub fn len_bits(&self) -> usize {
        self.bytes.len() * 8 + usize::from(self.pending)
    }

    /// Bytes the written bits take (the last one padded).
    pub fn len_bytes(&self) -> usize {
        self.len_bits().div_ceil(8)
    }

    /// The bytes, the last one padded with zeros.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len_bytes());
        out.extend_from_slice(&self.bytes);
        self.push_pending(&mut out);
        out
    }

    fn push_pending(&self, out: &mut Vec<u8>) {
        if self.pending > 0 {
            let aligned = self.acc << (64 - self.pending);
            let n = usize::from(self.pending).div_ceil(8);
            out.extend_from_slice(&aligned.to_be_bytes()[..n]);
        }
    }

    /// The bytes and the used bits of the last one (0 = full).
    pub fn into_parts(mut self) -> (Vec<u8>, u8) {
        let used = self.pending % 8;
        let mut bytes = std::mem::take(&mut self.bytes);
        self.push_pending(&mut bytes);
        (bytes, used)
    }
}

/// Reads bits written by [`BitWriter`]; every read past the end is `None`, never a panic.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next bit to read, counted from the start.
    pos: usize,
    /// Bits available.
    end: usize,
}

impl<'a> BitReader<'a> {
    /// Reads the first `bits` bits of `bytes` (at most all of them).
    pub fn new(bytes: &'a [u8], bits: usize) -> Self {
        Self {
            bytes,
            pos: 0,
            end: bits.min(bytes.len() * 8),
        }
    }

    /// Reads `n` bits (n ≤ 64) as an unsigned number.
    pub fn read(&mut self, n: u8) -> Option<u64> {
        let n = usize::from(n);
        if n > 64 || self.pos + n > self.end {
            return None;
        }
        if n == 0 {
            return Some(0);
        }
        // One 128-bit window from the byte holding the first bit: an offset of up to 7 bits
        // plus up to 64 bits always fit, so a read is a copy and two shifts, not a loop.
        let first = self.pos / 8;
        let offset = (self.pos % 8) as u32;
        let tail = self.bytes.get(first..)?;
        let mut window = [0u8; 16];
        let take = tail.len().min(16);
        window[..take].copy_from_slice(&tail[..take]);
        let bits = u128::from_be_bytes(window) << offset;
        self.pos += n;
        Some((bits >> (128 - n)) as u64)
    }

    /// Reads one bit.
    pub fn bit(&mut self) -> Option<bool> {
        self.read(1).map(|b| b == 1)
    }

    /// Bits not yet read.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fields_read_back_as_written(fields in proptest::collection::vec((any::<u64>(), 0u8..=64), 0..200)) {
            let mut w = BitWriter::new();
            for (v, n) in &fields {
                w.write(*v, *n);
            }
            let total: usize = fields.iter().map(|(_, n)| usize::from(*n)).sum();
            prop_assert_eq!(w.len_bits(), total);
            let bytes = w.to_bytes();
            prop_assert_eq!(bytes.len(), total.div_ceil(8));
            let mut r = BitReader::new(&bytes, total);
            for (v, n) in &fields {
                let mask = if *n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read(*n), Some(v & mask));
            }
            prop_assert_eq!(r.remaining(), 0);
            prop_assert_eq!(r.read(1), None);
        }
    }

    #[test]
    fn a_writer_resumed_from_its_parts_continues_the_stream() {
        let mut w = BitWriter::new();
        w.write(0b101, 3);
        let (bytes, used) = w.into_parts();
        let mut w = BitWriter::resume(bytes, used);
        w.write(0b11, 2);
        let bytes = w.to_bytes();
        assert_eq!(BitReader::new(&bytes, 5).read(5), Some(0b10111));
        // Across a word: 70 bits, resumed at bit 67.
        let mut w = BitWriter::new();
        w.write(u64::MAX, 64);
        w.write(0b010, 3);
        let (bytes, used) = w.into_parts();
        assert_eq!((bytes.len(), used), (9, 3));
        let mut w = BitWriter::resume(bytes, used);
        w.write(0b101, 3);
        let bytes = w.to_bytes();
        let mut r = BitReader::new(&bytes, 70);
        assert_eq!(r.read(64), Some(u64::MAX));
        assert_eq!(r.read(6), Some(0b010101));
    }
}
