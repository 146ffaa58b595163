//! Bit-level writing and reading for the chunk encodings: most significant bit first, so a
//! chunk's bytes read in the order they were written.

/// Appends bits to a byte vector.
#[derive(Debug, Clone, Default)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits used in the last byte (0 = the last byte is full, or there is none).
    used: u8,
}

impl BitWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer continuing `bytes`, whose last byte has `used` bits in use (0 = full).
    pub fn resume(bytes: Vec<u8>, used: u8) -> Self {
        Self { bytes, used }
    }

    /// Writes the low `n` bits of `value` (n ≤ 64), most significant first.
    pub fn write(&mut self, value: u64, n: u8) {
        debug_assert!(n <= 64);
        if n == 0 {
            return;
        }
        let value = if n == 64 {
            value
        } else {
            value & ((1u64 << n) - 1)
        };
        let mut left = u32::from(n);
        // First the free bits of the last byte, then whole bytes, then the rest at the top of
        // a new byte: a handful of operations per call instead of one loop turn per byte part.
        if self.used != 0 {
            let room = 8 - u32::from(self.used);
            let take = room.min(left);
            let chunk = (value >> (left - take)) & ((1u64 << take) - 1);
            if let Some(last) = self.bytes.last_mut() {
                *last |= (chunk as u8) << (room - take);
            }
            self.used = ((u32::from(self.used) + take) % 8) as u8;
            left -= take;
        }
        while left >= 8 {
            left -= 8;
            self.bytes.push((value >> left) as u8);
        }
        if left > 0 {
            // The low `left` bits at the top of the byte; the higher ones shift out.
            self.bytes.push((value << (8 - left)) as u8);
            self.used = left as u8;
        }
    }

    /// Writes one bit.
    pub fn bit(&mut self, on: bool) {
        if self.used == 0 {
            self.bytes.push(0);
        }
        if on && let Some(last) = self.bytes.last_mut() {
            *last |= 0x80 >> self.used;
        }
        self.used = (self.used + 1) % 8;
    }

    /// Bits written so far.
    pub fn len_bits(&self) -> usize {
        match self.used {
            0 => self.bytes.len() * 8,
            u => (self.bytes.len() - 1) * 8 + usize::from(u),
        }
    }

    /// The bytes, with the last one padded with zeros, and how many bits of it are used.
    pub fn as_parts(&self) -> (&[u8], u8) {
        (&self.bytes, self.used)
    }

    /// The bytes and the used bits of the last one.
    pub fn into_parts(self) -> (Vec<u8>, u8) {
        (self.bytes, self.used)
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
        let mut out = 0u64;
        let mut left = n;
        while left > 0 {
            let byte = *self.bytes.get(self.pos / 8)?;
            let offset = self.pos % 8;
            let room = 8 - offset;
            let take = room.min(left);
            let chunk = (byte >> (room - take)) & ((1u16 << take) - 1) as u8;
            out = (out << take) | u64::from(chunk);
            self.pos += take;
            left -= take;
        }
        Some(out)
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
            let (bytes, _) = w.as_parts();
            let mut r = BitReader::new(bytes, total);
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
        let (bytes, _) = w.as_parts();
        assert_eq!(BitReader::new(bytes, 5).read(5), Some(0b10111));
    }
}
