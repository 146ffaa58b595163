//! `rate`, `increase` and `delta` as Prometheus computes them (`extrapolatedRate` in
//! promql/functions.go, v2.42): the change between the first and last sample of the window,
//! plus counter resets, extrapolated towards the window's edges when the samples stop short of
//! them by less than 1.1 average intervals (else by half an interval), and for counters never
//! below the point where the counter would have been zero. The order of the floating-point
//! operations follows Prometheus, so equal inputs give equal results.

/// What the window holds, for the extrapolation.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    /// Oldest sample in the window, (ms, value).
    pub first: (i64, f64),
    /// Newest sample.
    pub last: (i64, f64),
    /// How many samples the window holds.
    pub samples: u64,
    /// Sum of the values before each counter reset in the window (0 for gauges).
    pub correction: f64,
    /// The window's edges, ms.
    pub range_start: i64,
    /// The window's end (the evaluation time), ms.
    pub range_end: i64,
}

/// The extrapolated change over the window; per second of the range when `rate_range_ms` is
/// given (`rate`), else absolute (`increase`, `delta`). `None` with fewer than two samples.
pub fn extrapolated_rate(s: Span, is_counter: bool, rate_range_ms: Option<i64>) -> Option<f64> {
    if s.samples < 2 || s.last.0 <= s.first.0 {
        return None;
    }
    let mut result = s.last.1 - s.first.1;
    if is_counter {
        result += s.correction;
    }
    let mut duration_to_start = (s.first.0 - s.range_start) as f64 / 1000.0;
    let duration_to_end = (s.range_end - s.last.0) as f64 / 1000.0;
    let sampled = (s.last.0 - s.first.0) as f64 / 1000.0;
    let average = sampled / (s.samples - 1) as f64;
    if is_counter && result > 0.0 && s.first.1 >= 0.0 {
        // Counters cannot be negative: do not extrapolate below the zero point.
        let to_zero = sampled * (s.first.1 / result);
        if to_zero < duration_to_start {
            duration_to_start = to_zero;
        }
    }
    let threshold = average * 1.1;
    let mut interval = sampled;
    interval += if duration_to_start < threshold {
        duration_to_start
    } else {
        average / 2.0
    };
    interval += if duration_to_end < threshold {
        duration_to_end
    } else {
        average / 2.0
    };
    let mut factor = interval / sampled;
    if let Some(range_ms) = rate_range_ms {
        factor /= range_ms as f64 / 1000.0;
    }
    Some(result * factor)
}
