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
//! tests compare each with a recomputation from the raw samples. The window keeps running
//! totals over its buckets, so a value reads them rather than every bucket; the buckets of all
//! windows live in a shared [`Rings`] (why: see there).
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

/// One window function over one series, updated incrementally; its buckets are in a
/// [`Rings`] passed to every call, and go back to it with [`Window::release`].
#[derive(Debug)]
pub struct Window {
    func: Func,
    range_ms: i64,
    width: i64,
    /// Index of the newest bucket; `i64::MIN` before the first sample.
    head: i64,
    /// The newest sample's time (`i64::MIN`: none yet) and value: the end of
    /// rate/increase/delta and last_over_time.
    last_ts: i64,
    last_v: f64,
    ring: Ring,
}

/// The buckets of many windows, one array per kind of bucket: a window refers to its ring by
/// index. The rings of 100,000s of windows do not fit in cache, and a sample reads one or two
/// buckets of each ring it feeds; rings created one after the other (the instances of one
/// series, then the next series') lie one after the other at a regular stride, which the
/// processor's prefetcher follows, where separately boxed rings scattered over the heap made
/// every bucket read a wait for memory (measured: docs/benchmarks.md).
#[derive(Debug, Default)]
pub struct Rings {
    sums: Arena<[SumCount; BUCKETS]>,
    extremes: Arena<[f64; BUCKETS]>,
    counters: Arena<[CounterBucket; BUCKETS]>,
    changes: Arena<[ChangesBucket; BUCKETS]>,
}

impl Rings {
    /// Rings in use.
    pub fn len(&self) -> usize {
        self.sums.live() + self.extremes.live() + self.counters.live() + self.changes.live()
    }

    /// Whether no ring is in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Slots of one kind of ring; freed slots are reused first.
#[derive(Debug)]
struct Arena<T> {
    items: Vec<T>,
    free: Vec<u32>,
}

impl<T> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Arena<T> {
    fn alloc(&mut self, init: T) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = init;
                i
            }
            None => {
                self.items.push(init);
                // More than 4 billion rings do not fit in memory anyway.
                u32::try_from(self.items.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    fn release(&mut self, i: u32) {
        self.free.push(i);
    }

    fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }
}

impl<T> std::ops::Index<u32> for Arena<T> {
    type Output = T;

    fn index(&self, i: u32) -> &T {
        &self.items[i as usize]
    }
}

impl<T> std::ops::IndexMut<u32> for Arena<T> {
    fn index_mut(&mut self, i: u32) -> &mut T {
        &mut self.items[i as usize]
    }
}

/// A window's ring (an index into [`Rings`]), and running totals over its live buckets:
/// `value` runs for every sample, so it reads the totals and at most one bucket instead of a
/// pass over every bucket. A pass happens only where a total cannot be taken back: a minimum
/// or maximum whose bucket left the window.
#[derive(Debug)]
enum Ring {
    /// avg/sum/count_over_time. `sum` is the running sum of the live buckets: re-added from
    /// the buckets at every turn of the ring, so rounding from taking sums back out cannot
    /// accumulate, and exactly zero when the window is empty.
    SumCount { buckets: u32, sum: f64, n: u32 },
    /// min_over_time (`NaN` = empty bucket: NaN never enters a window). `best` is the
    /// minimum of the live buckets unless `stale` (its bucket left the window).
    Min(u32, Extreme),
    /// max_over_time.
    Max(u32, Extreme),
    /// last_over_time: only the newest sample is needed, and which bucket it is in.
    Last,
    /// rate/increase/delta: each bucket's first sample and counter resets. `live` has bit
    /// `s` set when slot `s` holds samples; `corr` sums every live bucket's corrections
    /// (entry and inner; re-added at every turn like `SumCount::sum`).
    Counter {
        buckets: u32,
        corr: f64,
        live: u32,
        n: u32,
    },
    /// changes: `entry` and `inner` summed over the live buckets.
    Changes {
        buckets: u32,
        live: u32,
        entry: u32,
        inner: u32,
    },
}

/// The running minimum or maximum of a ring.
#[derive(Debug, Clone, Copy)]
struct Extreme {
    best: f64,
    stale: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct SumCount {
    sum: f64,
    n: u32,
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
    n: u32,
}

/// The slots of `live` from slot `start` (the window's oldest bucket) on, as bits `0..B`.
fn oldest_first_bits(live: u32, start: usize) -> u32 {
    let all = (1u32 << BUCKETS) - 1;
    ((live >> start) | (live << (BUCKETS - start))) & all
}

/// The oldest live slot, if any.
fn oldest_live(live: u32, start: usize) -> Option<usize> {
    let ordered = oldest_first_bits(live, start);
    (ordered != 0).then(|| (start + ordered.trailing_zeros() as usize) % BUCKETS)
}

/// Empties a bucket the live mask (`bit`) says holds samples, clearing its bit; `None` for one
/// that holds none (its contents are stale and must not be taken out of the totals).
fn take_live<T: Default>(live: &mut u32, bit: u32, bucket: &mut T) -> Option<T> {
    (*live & bit != 0).then(|| {
        *live &= !bit;
        std::mem::take(bucket)
    })
}

impl Window {
    /// A window of `range_ms` (> 0) for `func`, its buckets taken from `rings`.
    pub fn new(func: Func, range_ms: i64, rings: &mut Rings) -> Window {
        let range_ms = range_ms.max(1);
        // Ceiling: the ring then spans at least the range (exactly, for whole seconds).
        let width = (range_ms + B - 1) / B;
        let none = Extreme {
            best: f64::NAN,
            stale: false,
        };
        let ring = match func {
            Func::AvgOverTime | Func::SumOverTime | Func::CountOverTime => Ring::SumCount {
                buckets: rings.sums.alloc([SumCount::default(); BUCKETS]),
                sum: 0.0,
                n: 0,
            },
            Func::MinOverTime => Ring::Min(rings.extremes.alloc([f64::NAN; BUCKETS]), none),
            Func::MaxOverTime => Ring::Max(rings.extremes.alloc([f64::NAN; BUCKETS]), none),
            Func::LastOverTime => Ring::Last,
            Func::Rate | Func::Increase | Func::Delta => Ring::Counter {
                buckets: rings.counters.alloc([CounterBucket::default(); BUCKETS]),
                corr: 0.0,
                live: 0,
                n: 0,
            },
            Func::Changes => Ring::Changes {
                buckets: rings.changes.alloc([ChangesBucket::default(); BUCKETS]),
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
            last_ts: i64::MIN,
            last_v: f64::NAN,
            ring,
        }
    }

    /// Gives the window's buckets back to `rings`.
    pub fn release(self, rings: &mut Rings) {
        match self.ring {
            Ring::SumCount { buckets, .. } => rings.sums.release(buckets),
            Ring::Min(i, _) | Ring::Max(i, _) => rings.extremes.release(i),
            Ring::Last => {}
            Ring::Counter { buckets, .. } => rings.counters.release(buckets),
            Ring::Changes { buckets, .. } => rings.changes.release(buckets),
        }
    }

    /// The function this window computes.
    pub fn func(&self) -> Func {
        self.func
    }

    /// The window's length, ms.
    pub fn range_ms(&self) -> i64 {
        self.range_ms
    }

    /// The newest sample, if any.
    fn last(&self) -> Option<(i64, f64)> {
        (self.last_ts != i64::MIN).then_some((self.last_ts, self.last_v))
    }

    /// The bucket of a timestamp: `ceil(ts / width)`.
    fn bucket(&self, ts: i64) -> i64 {
        ts.div_euclid(self.width) + i64::from(ts.rem_euclid(self.width) != 0)
    }

    fn slot(k: i64) -> usize {
        // rem_euclid of B is in 0..B.
        k.rem_euclid(B) as usize
    }

    /// Moves the newest bucket to `h`, emptying the buckets that fall out of the window and
    /// taking them out of the running totals.
    fn advance(&mut self, rings: &mut Rings, h: i64) {
        if h <= self.head {
            return;
        }
        let oldest = h.saturating_sub(B - 1);
        let first_new = if self.head == i64::MIN {
            oldest
        } else {
            (self.head + 1).max(oldest)
        };
        // A new turn of the ring: the float totals are re-added from the buckets.
        let turn = self.head == i64::MIN || h.div_euclid(B) != self.head.div_euclid(B);
        for k in first_new..=h {
            let s = Self::slot(k);
            let bit = 1u32 << s;
            match &mut self.ring {
                Ring::SumCount { buckets, sum, n } => {
                    let b = std::mem::take(&mut rings.sums[*buckets][s]);
                    *sum -= b.sum;
                    *n -= b.n;
                }
                Ring::Min(r, x) | Ring::Max(r, x) => {
                    let gone = std::mem::replace(&mut rings.extremes[*r][s], f64::NAN);
                    x.stale |= gone == x.best;
                }
                Ring::Last => {}
                Ring::Counter {
                    buckets,
                    corr,
                    live,
                    n,
                } => {
                    if let Some(b) = take_live(live, bit, &mut rings.counters[*buckets][s]) {
                        *corr -= b.entry_corr + b.inner_corr;
                        *n -= b.n;
                    }
                }
                Ring::Changes {
                    buckets,
                    live,
                    entry,
                    inner,
                } => {
                    if let Some(b) = take_live(live, bit, &mut rings.changes[*buckets][s]) {
                        *entry -= b.entry;
                        *inner -= b.inner;
                    }
                }
            }
        }
        match &mut self.ring {
            Ring::SumCount { buckets, sum, n } if turn || *n == 0 => {
                *sum = rings.sums[*buckets].iter().map(|b| b.sum).sum();
            }
            Ring::Counter {
                buckets, corr, n, ..
            } if turn || *n == 0 => {
                *corr = rings.counters[*buckets]
                    .iter()
                    .map(|b| b.entry_corr + b.inner_corr)
                    .sum();
            }
            _ => {}
        }
        self.head = h;
    }

    /// Adds a sample. Samples must come in timestamp order per series (the engine drops late
    /// ones); one older than the whole window is ignored. `value` must not be NaN.
    pub fn insert(&mut self, rings: &mut Rings, ts: i64, value: f64) {
        let k = self.bucket(ts);
        if k > self.head {
            self.advance(rings, k);
        } else if k <= self.head.saturating_sub(B) {
            return;
        }
        let s = Self::slot(k);
        let bit = 1u32 << s;
        let prev = self.last().map(|(_, v)| v);
        match &mut self.ring {
            Ring::SumCount { buckets, sum, n } => {
                let b = &mut rings.sums[*buckets][s];
                b.sum += value;
                b.n += 1;
                *sum += value;
                *n += 1;
            }
            Ring::Min(r, x) => {
                let b = &mut rings.extremes[*r][s];
                *b = b.min(value);
                x.best = x.best.min(value);
            }
            Ring::Max(r, x) => {
                let b = &mut rings.extremes[*r][s];
                *b = b.max(value);
                x.best = x.best.max(value);
            }
            Ring::Last => {}
            Ring::Counter {
                buckets,
                corr,
                live,
                n,
            } => {
                // A counter that went down was reset: the increase continues from zero, so the
                // value before the reset is added back (Prometheus's counter correction).
                let c = match prev {
                    Some(p) if value < p => p,
                    _ => 0.0,
                };
                let b = &mut rings.counters[*buckets][s];
                if *live & bit == 0 {
                    *live |= bit;
                    *b = CounterBucket {
                        first_ts: ts,
                        first_v: value,
                        entry_corr: c,
                        inner_corr: 0.0,
                        n: 1,
                    };
                } else {
                    b.inner_corr += c;
                    b.n += 1;
                }
                *corr += c;
                *n += 1;
            }
            Ring::Changes {
                buckets,
                live,
                entry,
                inner,
            } => {
                let changed = u32::from(prev.is_some_and(|p| p != value));
                let b = &mut rings.changes[*buckets][s];
                if *live & bit == 0 {
                    *live |= bit;
                    *b = ChangesBucket {
                        entry: changed,
                        inner: 0,
                        n: 1,
                    };
                    *entry += changed;
                } else {
                    b.inner += changed;
                    b.n += 1;
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
    pub fn value(&mut self, rings: &mut Rings, t: i64) -> Option<f64> {
        let h = self.bucket(t);
        self.advance(rings, h);
        let last = self.last();
        let t = last.map_or(t, |(lt, _)| t.max(lt));
        let start = Self::slot(self.head.saturating_sub(B - 1));
        let oldest = self.head.saturating_sub(B);
        let bucket_of_last = last.map(|(ts, _)| self.bucket(ts));
        match &mut self.ring {
            Ring::SumCount { sum, n, .. } => {
                if *n == 0 {
                    return None;
                }
                Some(match self.func {
                    Func::SumOverTime => *sum,
                    Func::CountOverTime => f64::from(*n),
                    _ => *sum / f64::from(*n),
                })
            }
            Ring::Min(r, x) => {
                if x.stale {
                    *x = Extreme {
                        best: rings.extremes[*r].iter().copied().fold(f64::NAN, f64::min),
                        stale: false,
                    };
                }
                (!x.best.is_nan()).then_some(x.best)
            }
            Ring::Max(r, x) => {
                if x.stale {
                    *x = Extreme {
                        best: rings.extremes[*r].iter().copied().fold(f64::NAN, f64::max),
                        stale: false,
                    };
                }
                (!x.best.is_nan()).then_some(x.best)
            }
            Ring::Last => {
                let (_, v) = last?;
                (bucket_of_last? > oldest).then_some(v)
            }
            Ring::Counter {
                buckets,
                corr,
                live,
                n,
            } => {
                let first = &rings.counters[*buckets][oldest_live(*live, start)?];
                let (last_ts, last_v) = last?;
                let counter = matches!(self.func, Func::Rate | Func::Increase);
                // The oldest bucket's entry step comes from a sample outside the window.
                let correction = if counter && *corr != 0.0 {
                    *corr - first.entry_corr
                } else {
                    0.0
                };
                extrapolated_rate(
                    extrapolate::Span {
                        first: (first.first_ts, first.first_v),
                        last: (last_ts, last_v),
                        samples: u64::from(*n),
                        correction,
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
                let first = &rings.changes[*buckets][oldest_live(*live, start)?];
                // The oldest bucket's entry step comes from a sample outside the window.
                Some(f64::from(*entry - first.entry + *inner))
            }
        }
    }
}
