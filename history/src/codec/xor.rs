//! Gorilla encoding (Pelkonen et al., VLDB 2015, as Prometheus' TSDB uses it): timestamps as
//! delta-of-delta in variable-width buckets, values as the XOR with the previous value with
//! its leading and trailing zero bits elided. Regular probe intervals cost one bit per
//! timestamp; a value that did not change costs one bit.

use super::bits::{BitReader, BitWriter};

/// Delta-of-delta buckets: (prefix, prefix length, value bits). The last one takes any i64.
const DOD_BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];

/// Writes delta-of-delta `dod`.
pub fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.bit(false);
        return;
    }
    for (prefix, plen, bits) in DOD_BUCKETS {
        let half = 1i64 << (bits - 1);
        if (-half + 1..=half).contains(&dod) {
            w.write(prefix, plen);
            w.write((dod as u64) & ((1u64 << bits) - 1), bits);
            return;
        }
    }
    w.write(0b1111, 4);
    w.write(dod as u64, 64);
}

/// Reads a delta-of-delta written by [`write_dod`].
pub fn read_dod(r: &mut BitReader<'_>) -> Option<i64> {
    let mut ones = 0u8;
    while ones < 4 && r.bit()? {
        ones += 1;
    }
    let bits = match ones {
        0 => return Some(0),
        1 => 14,
        2 => 17,
        3 => 20,
        _ => 64,
    };
    let raw = r.read(bits)?;
    if bits == 64 {
        return Some(raw as i64);
    }
    // The field holds -(2^(bits-1) - 1) ..= 2^(bits-1): above the half it is negative.
    let half = 1u64 << (bits - 1);
    Some(if raw > half {
        raw as i64 - (1i64 << bits)
    } else {
        raw as i64
    })
}

/// The XOR state of one value column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XorState {
    prev: u64,
    leading: u8,
    trailing: u8,
}

impl XorState {
    /// A column whose first value is `first` (written raw by the caller).
    pub fn new(first: f64) -> Self {
        Self {
            prev: first.to_bits(),
            // No window yet: the first change writes its own.
            leading: u8::MAX,
            trailing: 0,
        }
    }

    /// Writes `v` as the XOR with the previous value.
    pub fn write(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        let xor = bits ^ self.prev;
        self.prev = bits;
        if xor == 0 {
            w.bit(false);
            return;
        }
        w.bit(true);
        // Leading zeros are stored in 5 bits, so at most 31.
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != u8::MAX && leading >= self.leading && trailing >= self.trailing {
            // Fits the previous window: its meaningful bits only.
            w.bit(false);
            let sig = 64 - self.leading - self.trailing;
            w.write(xor >> self.trailing, sig);
        } else {
            w.bit(true);
            let sig = 64 - leading - trailing;
            w.write(u64::from(leading), 5);
            // 64 significant bits are written as 0 (6 bits hold 0-63).
            w.write(u64::from(sig % 64), 6);
            w.write(xor >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    /// Reads the next value.
    pub fn read(&mut self, r: &mut BitReader<'_>) -> Option<f64> {
        if r.bit()? {
            if r.bit()? {
                let leading = r.read(5)? as u8;
                let mut sig = r.read(6)? as u8;
                if sig == 0 {
                    sig = 64;
                }
                if leading.checked_add(sig)? > 64 {
                    return None;
                }
                self.leading = leading;
                self.trailing = 64 - leading - sig;
            } else if self.leading == u8::MAX {
                // A reused window before any was set: corrupt input.
                return None;
            }
            let sig = 64 - self.leading - self.trailing;
            let xor = r.read(sig)? << self.trailing;
            self.prev ^= xor;
        }
        Some(f64::from_bits(self.prev))
    }
}

/// Appends (timestamp, value) samples to a chunk.
#[derive(Debug, Clone)]
pub struct XorAppender {
    w: BitWriter,
    count: u32,
    last_ts: i64,
    delta: i64,
    value: XorState,
}

impl XorAppender {
    /// A chunk starting with `(ts, v)`.
    pub fn new(ts: i64, v: f64) -> Self {
        let mut w = BitWriter::new();
        w.write(ts as u64, 64);
        w.write(v.to_bits(), 64);
        Self {
            w,
            count: 1,
            last_ts: ts,
            delta: 0,
            value: XorState::new(v),
        }
    }

    /// Appends a sample; `ts` must be after the last one (the caller drops older samples).
    pub fn append(&mut self, ts: i64, v: f64) {
        let delta = ts.wrapping_sub(self.last_ts);
        write_dod(&mut self.w, delta.wrapping_sub(self.delta));
        self.value.write(&mut self.w, v);
        self.delta = delta;
        self.last_ts = ts;
        self.count += 1;
    }

    /// Samples in the chunk.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The newest sample's timestamp.
    pub fn last_ts(&self) -> i64 {
        self.last_ts
    }

    /// The encoded bytes so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.w.to_bytes()
    }

    /// Bytes held (for memory accounting).
    pub fn size(&self) -> usize {
        self.w.len_bytes()
    }
}

/// Decodes a chunk of `count` samples. Corrupt or short input ends the iteration early; the
/// caller compares what it got with `count`.
pub fn decode(bytes: &[u8], count: u32) -> XorIter<'_> {
    XorIter {
        r: BitReader::new(bytes, bytes.len() * 8),
        left: count,
        first: true,
        ts: 0,
        delta: 0,
        value: XorState::default(),
    }
}

/// Iterator over a chunk's samples.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    left: u32,
    first: bool,
    ts: i64,
    delta: i64,
    value: XorState,
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let out = if self.first {
            self.first = false;
            self.ts = self.r.read(64)? as i64;
            let v = f64::from_bits(self.r.read(64)?);
            self.value = XorState::new(v);
            (self.ts, v)
        } else {
            let dod = read_dod(&mut self.r)?;
            self.delta = self.delta.wrapping_add(dod);
            self.ts = self.ts.wrapping_add(self.delta);
            (self.ts, self.value.read(&mut self.r)?)
        };
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn roundtrip(samples: &[(i64, f64)]) -> Vec<(i64, f64)> {
        let Some(&(t0, v0)) = samples.first() else {
            return Vec::new();
        };
        let mut a = XorAppender::new(t0, v0);
        for &(t, v) in &samples[1..] {
            a.append(t, v);
        }
        decode(&a.bytes(), a.count()).collect()
    }

    fn same(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
    }

    proptest! {
        /// Any increasing timestamps and any bit patterns (NaN payloads, infinities, -0.0)
        /// come back exactly.
        #[test]
        fn random_series_round_trip(
            start in any::<i64>().prop_map(|t| t / 4),
            steps in proptest::collection::vec((1i64..100_000_000, any::<u64>()), 0..300),
        ) {
            let mut t = start;
            let mut samples = vec![(t, 1.5)];
            for (d, bits) in steps {
                t = t.saturating_add(d);
                samples.push((t, f64::from_bits(bits)));
            }
            prop_assert!(same(&roundtrip(&samples), &samples));
        }

        /// Regular intervals with jitter and slowly moving values, as probes produce.
        #[test]
        fn probe_like_series_round_trip(
            jitter in proptest::collection::vec(-50i64..50, 1..500),
            walk in proptest::collection::vec(-3i32..=3, 1..500),
        ) {
            let mut samples = Vec::new();
            let mut v = 50.0;
            for (i, (j, w)) in jitter.iter().zip(&walk).enumerate() {
                v += f64::from(*w) * 0.25;
                samples.push((1_795_000_000_000 + i as i64 * 10_000 + j, v));
            }
            prop_assert!(same(&roundtrip(&samples), &samples));
        }

        /// Garbage never panics the decoder.
        #[test]
        fn garbage_does_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), count in 0u32..1000) {
            let _ = decode(&bytes, count).count();
        }
    }

    #[test]
    fn a_steady_gauge_costs_about_two_bits_a_sample() {
        let mut a = XorAppender::new(0, 42.0);
        for i in 1..1000 {
            a.append(i * 10_000, 42.0);
        }
        // Two bits per sample after the first 16 bytes (and the first interval's bucket).
        assert!(a.size() <= 16 + 1000 * 2 / 8 + 4, "{}", a.size());
    }

    #[test]
    fn every_dod_bucket_round_trips() {
        for dod in [
            0,
            1,
            -1,
            8191,
            -8191,
            8192,
            -8192,
            65536,
            -65535,
            524_288,
            -524_287,
            524_289,
            i64::MAX,
            i64::MIN,
        ] {
            let mut w = BitWriter::new();
            write_dod(&mut w, dod);
            let bytes = w.to_bytes();
            let mut r = BitReader::new(&bytes, w.len_bits());
            assert_eq!(read_dod(&mut r), Some(dod), "{dod}");
        }
    }
}
