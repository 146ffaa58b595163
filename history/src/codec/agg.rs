//! The 1-minute aggregate tier's chunks: per minute the min, max, sum, count and last value of
//! a series, each column in Gorilla form (timestamps delta-of-delta, values XOR), interleaved
//! in one bit stream. A minute whose samples arrived in two flushes appears twice; readers
//! merge entries of the same minute ([`Agg::merge`]).

use super::bits::{BitReader, BitWriter};
use super::xor::{XorState, read_dod, write_dod};

/// One minute of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    /// Start of the minute (ms since the epoch, a multiple of 60 000).
    pub minute_ms: i64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sum of the values.
    pub sum: f64,
    /// Samples.
    pub count: u64,
    /// The newest value, and when it was taken.
    pub last: f64,
    /// Timestamp of `last`.
    pub last_ts: i64,
}

impl Agg {
    /// The minute holding `ts`.
    pub fn minute_of(ts: i64) -> i64 {
        ts.div_euclid(60_000) * 60_000
    }

    /// A minute with one sample.
    pub fn first(ts: i64, v: f64) -> Self {
        Self {
            minute_ms: Self::minute_of(ts),
            min: v,
            max: v,
            sum: v,
            count: 1,
            last: v,
            last_ts: ts,
        }
    }

    /// Adds a sample of the same minute.
    pub fn add(&mut self, ts: i64, v: f64) {
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
        self.count += 1;
        if ts >= self.last_ts {
            self.last = v;
            self.last_ts = ts;
        }
    }

    /// Folds in another part of the same minute.
    pub fn merge(&mut self, o: &Agg) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.count += o.count;
        if o.last_ts >= self.last_ts {
            self.last = o.last;
            self.last_ts = o.last_ts;
        }
    }

    /// The mean of the minute's values.
    pub fn avg(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// The column states of an aggregate stream.
#[derive(Debug, Clone, Copy, Default)]
struct Columns {
    min: XorState,
    max: XorState,
    sum: XorState,
    last: XorState,
}

/// Appends minutes to an aggregate chunk.
#[derive(Debug, Clone)]
pub struct AggAppender {
    w: BitWriter,
    count: u32,
    prev: Agg,
    delta: i64,
    count_delta: i64,
    last_ts_delta: i64,
    cols: Columns,
}

fn write_raw(w: &mut BitWriter, a: &Agg) {
    w.write(a.minute_ms as u64, 64);
    w.write(a.count, 64);
    w.write(a.last_ts as u64, 64);
    for v in [a.min, a.max, a.sum, a.last] {
        w.write(v.to_bits(), 64);
    }
}

impl AggAppender {
    /// A chunk starting with `first`.
    pub fn new(first: Agg) -> Self {
        let mut w = BitWriter::new();
        write_raw(&mut w, &first);
        Self {
            w,
            count: 1,
            prev: first,
            delta: 0,
            count_delta: 0,
            last_ts_delta: 0,
            cols: Columns {
                min: XorState::new(first.min),
                max: XorState::new(first.max),
                sum: XorState::new(first.sum),
                last: XorState::new(first.last),
            },
        }
    }

    /// Appends a minute (at or after the previous one).
    pub fn append(&mut self, a: Agg) {
        let delta = a.minute_ms.wrapping_sub(self.prev.minute_ms);
        write_dod(&mut self.w, delta.wrapping_sub(self.delta));
        let cd = (a.count as i64).wrapping_sub(self.prev.count as i64);
        write_dod(&mut self.w, cd.wrapping_sub(self.count_delta));
        // The last sample's offset in its minute: usually the same each minute.
        let off = a.last_ts.wrapping_sub(a.minute_ms);
        let prev_off = self.prev.last_ts.wrapping_sub(self.prev.minute_ms);
        let od = off.wrapping_sub(prev_off);
        write_dod(&mut self.w, od.wrapping_sub(self.last_ts_delta));
        self.cols.min.write(&mut self.w, a.min);
        self.cols.max.write(&mut self.w, a.max);
        self.cols.sum.write(&mut self.w, a.sum);
        self.cols.last.write(&mut self.w, a.last);
        self.delta = delta;
        self.count_delta = cd;
        self.last_ts_delta = od;
        self.prev = a;
        self.count += 1;
    }

    /// Minutes in the chunk.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The newest minute.
    pub fn last(&self) -> Agg {
        self.prev
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

/// Decodes an aggregate chunk of `count` minutes; corrupt input ends it early.
pub fn decode(bytes: &[u8], count: u32) -> AggIter<'_> {
    AggIter {
        r: BitReader::new(bytes, bytes.len() * 8),
        left: count,
        prev: None,
        delta: 0,
        count_delta: 0,
        last_ts_delta: 0,
        cols: Columns::default(),
    }
}

/// Iterator over an aggregate chunk.
#[derive(Debug, Clone)]
pub struct AggIter<'a> {
    r: BitReader<'a>,
    left: u32,
    prev: Option<Agg>,
    delta: i64,
    count_delta: i64,
    last_ts_delta: i64,
    cols: Columns,
}

impl AggIter<'_> {
    fn first(&mut self) -> Option<Agg> {
        let minute_ms = self.r.read(64)? as i64;
        let count = self.r.read(64)?;
        let last_ts = self.r.read(64)? as i64;
        let mut vals = [0f64; 4];
        for v in &mut vals {
            *v = f64::from_bits(self.r.read(64)?);
        }
        let [min, max, sum, last] = vals;
        self.cols = Columns {
            min: XorState::new(min),
            max: XorState::new(max),
            sum: XorState::new(sum),
            last: XorState::new(last),
        };
        Some(Agg {
            minute_ms,
            min,
            max,
            sum,
            count,
            last,
            last_ts,
        })
    }

    fn step(&mut self, prev: Agg) -> Option<Agg> {
        self.delta = self.delta.wrapping_add(read_dod(&mut self.r)?);
        self.count_delta = self.count_delta.wrapping_add(read_dod(&mut self.r)?);
        self.last_ts_delta = self.last_ts_delta.wrapping_add(read_dod(&mut self.r)?);
        let minute_ms = prev.minute_ms.wrapping_add(self.delta);
        let prev_off = prev.last_ts.wrapping_sub(prev.minute_ms);
        Some(Agg {
            minute_ms,
            count: (prev.count as i64).wrapping_add(self.count_delta) as u64,
            last_ts: minute_ms.wrapping_add(prev_off.wrapping_add(self.last_ts_delta)),
            min: self.cols.min.read(&mut self.r)?,
            max: self.cols.max.read(&mut self.r)?,
            sum: self.cols.sum.read(&mut self.r)?,
            last: self.cols.last.read(&mut self.r)?,
        })
    }
}

impl Iterator for AggIter<'_> {
    type Item = Agg;

    fn next(&mut self) -> Option<Agg> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let a = match self.prev {
            None => self.first()?,
            Some(p) => self.step(p)?,
        };
        self.prev = Some(a);
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_minutes_round_trip(
            mins in proptest::collection::vec(
                (1i64..1000, 1u64..10_000, 0i64..60_000, any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
                1..200,
            ),
        ) {
            let mut minute = 1_795_000_020_000 / 60_000 * 60_000;
            let mut all = Vec::new();
            for (step, count, off, a, b, c, d) in mins {
                minute += step * 60_000;
                all.push(Agg {
                    minute_ms: minute,
                    count,
                    last_ts: minute + off,
                    min: f64::from_bits(a),
                    max: f64::from_bits(b),
                    sum: f64::from_bits(c),
                    last: f64::from_bits(d),
                });
            }
            let mut ap = AggAppender::new(all[0]);
            for a in &all[1..] {
                ap.append(*a);
            }
            let back: Vec<Agg> = decode(&ap.bytes(), ap.count()).collect();
            prop_assert_eq!(back.len(), all.len());
            for (x, y) in back.iter().zip(&all) {
                prop_assert_eq!((x.minute_ms, x.count, x.last_ts), (y.minute_ms, y.count, y.last_ts));
                for (p, q) in [(x.min, y.min), (x.max, y.max), (x.sum, y.sum), (x.last, y.last)] {
                    prop_assert_eq!(p.to_bits(), q.to_bits());
                }
            }
        }

        #[test]
        fn garbage_does_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), count in 0u32..100) {
            let _ = decode(&bytes, count).count();
        }
    }

    #[test]
    fn parts_of_a_minute_merge_into_its_whole() {
        let mut whole = Agg::first(60_000, 3.0);
        let mut a = Agg::first(60_000, 3.0);
        let mut b = Agg::first(60_030, 1.0);
        for (t, v) in [(60_010, 5.0), (60_020, 4.0)] {
            whole.add(t, v);
            a.add(t, v);
        }
        whole.add(60_030, 1.0);
        b.add(60_040, 2.0);
        whole.add(60_040, 2.0);
        a.merge(&b);
        assert_eq!(a, whole);
        assert_eq!((a.min, a.max, a.count, a.last), (1.0, 5.0, 5, 2.0));
        assert_eq!(a.avg(), 3.0);
    }
}
