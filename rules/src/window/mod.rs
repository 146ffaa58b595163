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
    /// The newest sample (ts, value): the end of rate/increase/delta and last_over_time.
    last: Option<(i64, f64)>,
}

#[derive(Debug, Clone)]
enum Ring {
    /// avg/sum/count_over_time.
    SumCount(Box<[SumCount]>),
    /// min_over_time (`NaN` = empty bucket: NaN never enters a window).
    Min(Box<[f64]>),
    /// max_over_time.
    Max(Box<[f64]>),
    /// last_over_time: only `last` is needed, and which bucket it is in.
    Last,
    /// rate/increase/delta: each bucket's first sample and counter resets.
    Counter(Box<[CounterBucket]>),
    /// changes.
    Changes(Box<[ChangesBucket]>),
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

impl Window {
    /// A window of `range_ms` (> 0) for `func`.
    pub fn new(func: Func, range_ms: i64) -> Window {
        let range_ms = range_ms.max(1);
        // Ceiling: the ring then spans at least the range (exactly, for whole seconds).
        let width = (range_ms + B - 1) / B;
        let ring = match func {
            Func::AvgOverTime | Func::SumOverTime | Func::CountOverTime => {
                Ring::SumCount(vec![SumCount::default(); BUCKETS].into())
            }
            Func::MinOverTime => Ring::Min(vec![f64::NAN; BUCKETS].into()),
            Func::MaxOverTime => Ring::Max(vec![f64::NAN; BUCKETS].into()),
            Func::LastOverTime => Ring::Last,
            Func::Rate | Func::Increase | Func::Delta => {
                Ring::Counter(vec![CounterBucket::default(); BUCKETS].into())
            }
            Func::Changes => Ring::Changes(vec![ChangesBucket::default(); BUCKETS].into()),
        };
        Window {
            func,
            range_ms,
            width,
            head: i64::MIN,
            ring,
            last: None,
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
            match &mut self.ring {
                Ring::SumCount(r) => r[s] = SumCount::default(),
                Ring::Min(r) | Ring::Max(r) => r[s] = f64::NAN,
                Ring::Last => {}
                Ring::Counter(r) => r[s] = CounterBucket::default(),
                Ring::Changes(r) => r[s] = ChangesBucket::default(),
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
        let prev = self.last.map(|(_, v)| v);
        match &mut self.ring {
            Ring::SumCount(r) => {
                r[s].sum += value;
                r[s].n += 1;
            }
            Ring::Min(r) => r[s] = r[s].min(value),
            Ring::Max(r) => r[s] = r[s].max(value),
            Ring::Last => {}
            Ring::Counter(r) => {
                // A counter that went down was reset: the increase continues from zero, so the
                // value before the reset is added back (Prometheus's counter correction).
                let corr = match prev {
                    Some(p) if value < p => p,
                    _ => 0.0,
                };
                let b = &mut r[s];
                if b.n == 0 {
                    *b = CounterBucket {
                        first_ts: ts,
                        first_v: value,
                        entry_corr: corr,
                        inner_corr: 0.0,
                        n: 1,
                    };
                } else {
                    b.inner_corr += corr;
                    b.n += 1;
                }
            }
            Ring::Changes(r) => {
                let changed = u32::from(prev.is_some_and(|p| p != value));
                let b = &mut r[s];
                if b.n == 0 {
                    *b = ChangesBucket {
                        entry: changed,
                        inner: 0,
                        n: 1,
                    };
                } else {
                    b.inner += changed;
                    b.n += 1;
                }
            }
        }
        if self.last.is_none_or(|(t, _)| ts >= t) {
            self.last = Some((ts, value));
        }
    }

    /// The function's value over the window ending at `t` (or at the newest sample, if that is
    /// later); `None` when the window holds too few samples (none, or one for
    /// rate/increase/delta).
    pub fn value(&mut self, t: i64) -> Option<f64> {
        let h = self.bucket(t);
        self.advance(h);
        let t = self.last.map_or(t, |(lt, _)| t.max(lt));
        match &self.ring {
            Ring::SumCount(r) => {
                // `advance` emptied every bucket outside the window, so the whole ring is the
                // window: summed in ring order, without mapping bucket numbers to slots.
                let (mut sum, mut n) = (0.0, 0u64);
                for b in r.iter() {
                    sum += b.sum;
                    n += u64::from(b.n);
                }
                if n == 0 {
                    return None;
                }
                Some(match self.func {
                    Func::SumOverTime => sum,
                    Func::CountOverTime => n as f64,
                    _ => sum / n as f64,
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
                let (ts, v) = self.last?;
                (self.bucket(ts) > self.head.saturating_sub(B)).then_some(v)
            }
            Ring::Counter(r) => {
                let mut first: Option<&CounterBucket> = None;
                let (mut corr, mut n) = (0.0, 0u64);
                for i in self.oldest_first() {
                    let b = &r[i];
                    if b.n == 0 {
                        continue;
                    }
                    if first.is_none() {
                        first = Some(b);
                    } else {
                        corr += b.entry_corr;
                    }
                    corr += b.inner_corr;
                    n += u64::from(b.n);
                }
                let first = first?;
                let (last_ts, last_v) = self.last?;
                let counter = matches!(self.func, Func::Rate | Func::Increase);
                extrapolated_rate(
                    extrapolate::Span {
                        first: (first.first_ts, first.first_v),
                        last: (last_ts, last_v),
                        samples: n,
                        correction: if counter { corr } else { 0.0 },
                        range_start: t.saturating_sub(self.range_ms),
                        range_end: t,
                    },
                    counter,
                    (self.func == Func::Rate).then_some(self.range_ms),
                )
            }
            Ring::Changes(r) => {
                let mut seen = false;
                let mut changes = 0u64;
                for i in self.oldest_first() {
                    let b = &r[i];
                    if b.n == 0 {
                        continue;
                    }
                    if seen {
                        changes += u64::from(b.entry);
                    }
                    seen = true;
                    changes += u64::from(b.inner);
                }
                seen.then_some(changes as f64)
            }
        }
    }

    /// Slots from the oldest live bucket to the newest.
    fn oldest_first(&self) -> impl Iterator<Item = usize> + use<> {
        let start = self.head.saturating_sub(B - 1);
        (0..B).map(move |i| Self::slot(start.saturating_add(i)))
    }
}
