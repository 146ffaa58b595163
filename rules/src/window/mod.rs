//! Windows over one series' samples, updated as samples arrive, in constant memory.
//!
//! A window of `range` is kept as a ring of [`BUCKETS`] time buckets, each `range / BUCKETS`
//! wide; bucket `k` holds the samples with a timestamp in `((k-1)·w, k·w]`. The window at time
//! `t` is the buckets `(h-BUCKETS, h]` with `h = ceil(t / w)`, i.e. the samples in
//! `((h-BUCKETS)·w, t]`:
//!
//! - when `t` is a multiple of `w` this is exactly `(t - range, t]`, the window Prometheus 3
//!   evaluates (Prometheus 2 also includes a sample exactly at `t - range`);
//! - otherwise the window starts up to one bucket (5 % of the range) later than `t - range`:
//!   it reaches back between 95 % and 100 % of the range. A 5-minute window is exact to 15 s.
//!
//! Each bucket keeps only what its function needs (a sum and count, a minimum, the first sample
//! and the counter resets inside it, ...), so the memory of a window does not depend on the
//! sample rate. Within that definition of the window every function is exact: the property
//! tests compare each with a recomputation from the raw samples.
//!
//! NaN samples never enter a window (a probe reports NaN when a reading failed); the caller
//! filters them.

mod extrapolate;
#[cfg(test)]
mod tests;

use crate::expr::Func;

pub use extrapolate::extrapolated_rate;

/// Buckets per window: the resolution of the window's start (range / 20).
pub const BUCKETS: usize = 20;
const B: i64 = BUCKETS as i64;

/// One window function over one series, updated incrementally.
#[derive(Debug, Clone)]
pub struct Window {
    func: Func,
    range_ms: i64,
    width: i64,
    /// Index of the newest bucket; `i64::MIN` before the first sample.
    head: i64,
    ring: Ring,
    /// The newest sample's time (`i64::MIN`: none yet) and value: the end of
    /// rate/increase/delta and last_over_time. Two fields rather than an `Option`: a window
    /// lives inside every alert instance, and 8 bytes less per instance is measurable.
    last_ts: i64,
    last_v: f64,
}

/// The buckets, in the layout each function reads fastest: `value` runs for every sample and
/// the rings of 100,000s of windows do not fit in cache, so what it touches is kept small —
/// running totals and bit masks of the buckets holding samples (bit `i` = slot `i`) instead
/// of a pass over every bucket where the function allows it exactly.
#[derive(Debug, Clone)]
enum Ring {
    /// avg/sum/count_over_time: the sums apart from the counts, so an average reads 20 f64.
    SumCount {
        buckets: Box<SumBuckets>,
        /// Samples in the window.
        n: u32,
    },
    /// min_over_time (`NaN` = empty bucket: NaN never enters a window).
    Min(Box<[f64; BUCKETS]>),
    /// max_over_time.
    Max(Box<[f64; BUCKETS]>),
    /// last_over_time: only `last` is needed, and which bucket it is in.
    Last,
    /// rate/increase/delta: each bucket's first sample and counter resets.
    Counter {
        buckets: Box<[CounterBucket; BUCKETS]>,
        /// Buckets holding samples.
        live: u32,
        /// Buckets holding a counter reset: only then are the corrections summed.
        reset: u32,
        /// Samples in the window.
        n: u32,
    },
    /// changes.
    Changes {
        buckets: Box<[ChangesBucket; BUCKETS]>,
        /// Buckets holding samples.
        live: u32,
        /// Sums of the buckets' `entry` and `inner` over the window.
        entry: u32,
        inner: u32,
    },
}

/// The rings are boxed arrays (a thin pointer) rather than slices, and the counts `u32`:
/// see [`Ring`].
#[derive(Debug, Clone)]
struct SumBuckets {
    sums: [f64; BUCKETS],
    counts: [u32; BUCKETS],
}

/// The slots of `live` from the oldest bucket of the window (`start`) on, as bits `0..B`.
fn oldest_first_bits(live: u32, start: usize) -> u32 {
    let all = (1u32 << BUCKETS) - 1;
    ((live >> start) | (live << (BUCKETS - start))) & all
}

#[derive(Debug, Clone, Copy, Default)]
struct CounterBucket {
    first_ts: i64,
    first_v: f64,
    /// Reset correction of the step from the previous sample into this bucket's first: it
    /// counts only when that previous sample is inside the window too.
    entry_corr: f64,
    /// Reset corrections of the steps between this bucket's own samples.
    inner_corr: f64,
    n: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct ChangesBucket {
    /// Whether the step into this bucket's first sample changed the value.
    entry: u32,
    inner: u32,
}

impl Window {
    /// A window of `range_ms` (> 0) for `func`.
    pub fn new(func: Func, range_ms: i64) -> Window {
        let range_ms = range_ms.max(1);
        // Ceiling: the ring then spans at least the range (exactly, for whole seconds).
        let width = (range_ms + B - 1) / B;
        let ring = match func {
            Func::AvgOverTime | Func::SumOverTime | Func::CountOverTime => Ring::SumCount {
                buckets: Box::new(SumBuckets {
                    sums: [0.0; BUCKETS],
                    counts: [0; BUCKETS],
                }),
                n: 0,
            },
            Func::MinOverTime => Ring::Min(Box::new([f64::NAN; BUCKETS])),
            Func::MaxOverTime => Ring::Max(Box::new([f64::NAN; BUCKETS])),
            Func::LastOverTime => Ring::Last,
            Func::Rate | Func::Increase | Func::Delta => Ring::Counter {
                buckets: Box::new([CounterBucket::default(); BUCKETS]),
                live: 0,
                reset: 0,
                n: 0,
            },
            Func::Changes => Ring::Changes {
                buckets: Box::new([ChangesBucket::default(); BUCKETS]),
                live: 0,
                entry: 0,
                inner: 0,
            },
        };
        Window {
            func,
            range_ms,
            width,
            head: i64::MIN,
            ring,
            last_ts: i64::MIN,
            last_v: f64::NAN,
        }
    }

    /// The newest sample, if any.
    fn last(&self) -> Option<(i64, f64)> {
        (self.last_ts != i64::MIN).then_some((self.last_ts, self.last_v))
    }

    /// The function this window computes.
    pub fn func(&self) -> Func {
        self.func
    }

    /// The window's length, ms.
    pub fn range_ms(&self) -> i64 {
        self.range_ms
    }

    /// The bucket of a timestamp: `ceil(ts / width)`.
    fn bucket(&self, ts: i64) -> i64 {
        ts.div_euclid(self.width) + i64::from(ts.rem_euclid(self.width) != 0)
    }

    fn slot(k: i64) -> usize {
        // rem_euclid of B is in 0..B.
        k.rem_euclid(B) as usize
    }

    /// Moves the newest bucket to `h`, emptying the buckets that fall out of the window.
    fn advance(&mut self, h: i64) {
        if h <= self.head {
            return;
        }
        let oldest = h.saturating_sub(B - 1);
        let first_new = if self.head == i64::MIN {
            oldest
        } else {
            (self.head + 1).max(oldest)
        };
        for k in first_new..=h {
            let s = Self::slot(k);
            let bit = 1u32 << s;
            match &mut self.ring {
                Ring::SumCount { buckets, n } => {
                    *n -= buckets.counts[s];
                    buckets.counts[s] = 0;
                    buckets.sums[s] = 0.0;
                }
                Ring::Min(r) | Ring::Max(r) => r[s] = f64::NAN,
                Ring::Last => {}
                Ring::Counter {
                    buckets,
                    live,
                    reset,
                    n,
                } => {
                    if *live & bit != 0 {
                        *n -= buckets[s].n;
                        *live &= !bit;
                        *reset &= !bit;
                    }
                }
                Ring::Changes {
                    buckets,
                    live,
                    entry,
                    inner,
                } => {
                    if *live & bit != 0 {
                        *entry -= buckets[s].entry;
                        *inner -= buckets[s].inner;
                        *live &= !bit;
                    }
                }
            }
        }
        self.head = h;
    }

    /// Adds a sample. Samples must come in timestamp order per series (the engine drops late
    /// ones); one older than the whole window is ignored. `value` must not be NaN.
    pub fn insert(&mut self, ts: i64, value: f64) {
        let k = self.bucket(ts);
        if k > self.head {
            self.advance(k);
        } else if k <= self.head.saturating_sub(B) {
            return;
        }
        let s = Self::slot(k);
        let prev = self.last().map(|(_, v)| v);
        let bit = 1u32 << s;
        match &mut self.ring {
            Ring::SumCount { buckets, n } => {
                buckets.sums[s] += value;
                buckets.counts[s] += 1;
                *n += 1;
            }
            Ring::Min(r) => r[s] = r[s].min(value),
            Ring::Max(r) => r[s] = r[s].max(value),
            Ring::Last => {}
            Ring::Counter {
                buckets,
                live,
                reset,
                n,
            } => {
                // A counter that went down was reset: the increase continues from zero, so the
                // value before the reset is added back (Prometheus's counter correction).
                let corr = match prev {
                    Some(p) if value < p => p,
                    _ => 0.0,
                };
                let b = &mut buckets[s];
                if *live & bit == 0 {
                    *b = CounterBucket {
                        first_ts: ts,
                        first_v: value,
                        entry_corr: corr,
                        inner_corr: 0.0,
                        n: 1,
                    };
                    *live |= bit;
                } else {
                    b.inner_corr += corr;
                    b.n += 1;
                }
                if corr != 0.0 {
                    *reset |= bit;
                }
                *n += 1;
            }
            Ring::Changes {
                buckets,
                live,
                entry,
                inner,
            } => {
                let changed = u32::from(prev.is_some_and(|p| p != value));
                let b = &mut buckets[s];
                if *live & bit == 0 {
                    *b = ChangesBucket {
                        entry: changed,
                        inner: 0,
                    };
                    *live |= bit;
                    *entry += changed;
                } else {
                    b.inner += changed;
                    *inner += changed;
                }
            }
        }
        if ts >= self.last_ts {
            self.last_ts = ts;
            self.last_v = value;
        }
    }

    /// The function's value over the window ending at `t` (or at the newest sample, if that is
    /// later); `None` when the window holds too few samples (none, or one for
    /// rate/increase/delta).
    pub fn value(&mut self, t: i64) -> Option<f64> {
        let h = self.bucket(t);
        self.advance(h);
        let t = self.last().map_or(t, |(lt, _)| t.max(lt));
        let start = Self::slot(self.head.saturating_sub(B - 1));
        match &self.ring {
            Ring::SumCount { buckets, n } => {
                if *n == 0 {
                    return None;
                }
                if self.func == Func::CountOverTime {
                    return Some(*n as f64);
                }
                // `advance` emptied every bucket outside the window, so the whole ring is the
                // window: summed in ring order, without mapping bucket numbers to slots.
                let sum: f64 = buckets.sums.iter().sum();
                Some(match self.func {
                    Func::SumOverTime => sum,
                    _ => sum / *n as f64,
                })
            }
            Ring::Min(r) => {
                let m = r.iter().copied().fold(f64::NAN, f64::min);
                (!m.is_nan()).then_some(m)
            }
            Ring::Max(r) => {
                let m = r.iter().copied().fold(f64::NAN, f64::max);
                (!m.is_nan()).then_some(m)
            }
            Ring::Last => {
                let (ts, v) = self.last()?;
                (self.bucket(ts) > self.head.saturating_sub(B)).then_some(v)
            }
            Ring::Counter {
                buckets,
                live,
                reset,
                n,
            } => {
                let ordered = oldest_first_bits(*live, start);
                if ordered == 0 {
                    return None;
                }
                let first_slot = (start + ordered.trailing_zeros() as usize) % BUCKETS;
                let first = &buckets[first_slot];
                // Without a reset in the window every correction is zero: no pass needed.
                // Otherwise summed oldest first; the oldest bucket's entry step comes from a
                // sample outside the window.
                let mut corr = 0.0;
                if *reset & *live != 0 {
                    for k in 0..BUCKETS {
                        let i = (start + k) % BUCKETS;
                        if *live & (1 << i) == 0 {
                            continue;
                        }
                        let b = &buckets[i];
                        if i != first_slot {
                            corr += b.entry_corr;
                        }
                        corr += b.inner_corr;
                    }
                }
                let (last_ts, last_v) = self.last()?;
                let counter = matches!(self.func, Func::Rate | Func::Increase);
                extrapolated_rate(
                    extrapolate::Span {
                        first: (first.first_ts, first.first_v),
                        last: (last_ts, last_v),
                        samples: u64::from(*n),
                        correction: if counter { corr } else { 0.0 },
                        range_start: t.saturating_sub(self.range_ms),
                        range_end: t,
                    },
                    counter,
                    (self.func == Func::Rate).then_some(self.range_ms),
                )
            }
            Ring::Changes {
                buckets,
                live,
                entry,
                inner,
            } => {
                let ordered = oldest_first_bits(*live, start);
                if ordered == 0 {
                    return None;
                }
                let first_slot = (start + ordered.trailing_zeros() as usize) % BUCKETS;
                // The oldest bucket's entry step comes from a sample outside the window.
                let changes = u64::from(entry - buckets[first_slot].entry) + u64::from(*inner);
                Some(changes as f64)
            }
        }
    }
}
