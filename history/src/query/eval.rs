//! Evaluating a query against the history: at one instant, or at every step of a range.
//!
//! A vector selector takes each series' newest sample within `lookback` before the instant
//! (Prometheus' lookback delta, 5 minutes unless the request says otherwise). Window functions
//! see the samples in `(t - range, t]`; `rate`, `increase` and `delta` extrapolate to the
//! window's edges as Prometheus does. Data older than the raw retention, and windows of an hour
//! or more for the `*_over_time` functions, are read from the 1-minute tier: there a window
//! holds the minutes that start inside it.

use std::collections::BTreeMap;

use crate::codec::agg::Agg;
use crate::read::{Budget, ReadError, TooMany};
use crate::series::Entry;
use crate::{History, HistoryError};

use super::parse::{Func, Query, Selector};

/// A label set as answered (`__name__` included where kept).
pub type LabelMap = BTreeMap<String, String>;

/// One series of an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesPoints {
    /// Its labels.
    pub labels: LabelMap,
    /// (ms, value), oldest first.
    pub points: Vec<(i64, f64)>,
}

/// An answer to an instant query.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// One value per series.
    Vector(Vec<(LabelMap, i64, f64)>),
    /// Samples per series (a range selector at an instant).
    Matrix(Vec<SeriesPoints>),
}

/// Why a query could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// It does not parse.
    #[error(transparent)]
    Parse(#[from] super::parse::ParseError),
    /// It would exceed a limit; the message names it.
    #[error("{0}")]
    Limit(String),
    /// The request is wrong (a range query of a range selector, end before start...).
    #[error("{0}")]
    Invalid(String),
    /// Reading failed.
    #[error(transparent)]
    History(#[from] HistoryError),
}

impl From<ReadError> for QueryError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Budget(b) => QueryError::Limit(b.to_string()),
            ReadError::History(h) => QueryError::History(h),
        }
    }
}

impl From<TooMany> for QueryError {
    fn from(e: TooMany) -> Self {
        QueryError::Limit(e.to_string())
    }
}

/// Where the evaluation reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Raw,
    Minutes,
}

/// Samples of one series in the form a function needs.
enum Data {
    Raw(Vec<(i64, f64)>),
    Minutes(Vec<Agg>),
}

impl History {
    /// The series a selector matches (at most `limits.max_series`).
    pub fn matching(&self, sel: &Selector) -> Result<Vec<std::sync::Arc<Entry>>, QueryError> {
        self.selected(sel)
    }

    fn selected(&self, sel: &Selector) -> Result<Vec<std::sync::Arc<Entry>>, QueryError> {
        let keep = |e: &Entry| {
            sel.matchers.iter().all(|m| {
                let v = if m.name == "__name__" {
                    e.name.as_str()
                } else {
                    e.labels.get(&m.name).unwrap_or("")
                };
                m.matches(v)
            })
        };
        Ok(self.select(sel.metric.as_deref(), keep, self.config().limits.max_series)?)
    }

    fn source(&self, func: Option<Func>, window: i64, oldest: i64, now: i64) -> Source {
        let raw_from = now.saturating_sub(ms(self.config().raw_retention));
        let summarised = matches!(
            func,
            Some(Func::Avg | Func::Min | Func::Max | Func::Sum | Func::Count | Func::Last)
        ) && window >= 3_600_000;
        if oldest < raw_from || summarised {
            Source::Minutes
        } else {
            Source::Raw
        }
    }

    fn data(
        &self,
        e: &Entry,
        src: Source,
        from: i64,
        to: i64,
        budget: &mut Budget,
    ) -> Result<Data, QueryError> {
        Ok(match src {
            Source::Raw => Data::Raw(self.raw(e, from, to, budget)?),
            Source::Minutes => Data::Minutes(self.minutes(e, from, to, budget)?),
        })
    }

    /// Evaluates `q` at instant `t` (ms).
    pub fn instant(
        &self,
        q: &Query,
        t: i64,
        lookback: i64,
        now: i64,
    ) -> Result<Answer, QueryError> {
        let limits = self.config().limits;
        let mut budget = Budget::new(limits.max_samples);
        match q {
            Query::Vector(sel) => {
                let src = self.source(None, lookback, t - lookback, now);
                let mut out = Vec::new();
                for e in self.selected(sel)? {
                    let data = self.data(&e, src, t - lookback - 60_000, t, &mut budget)?;
                    if let Some((ts, v)) = latest(&data, t, lookback) {
                        out.push((labels(&e, true), ts, v));
                    }
                }
                Ok(Answer::Vector(out))
            }
            Query::Matrix(sel, range) => {
                let mut out = Vec::new();
                for e in self.selected(sel)? {
                    let pts: Vec<(i64, f64)> = self
                        .raw(&e, t - range + 1, t, &mut budget)?
                        .into_iter()
                        .collect();
                    if !pts.is_empty() {
                        out.push(SeriesPoints {
                            labels: labels(&e, true),
                            points: pts,
                        });
                    }
                }
                Ok(Answer::Matrix(out))
            }
            Query::Call(func, sel, range) => {
                let src = self.source(Some(*func), *range, t - range, now);
                let mut out = Vec::new();
                for e in self.selected(sel)? {
                    let data = self.data(&e, src, t - range, t, &mut budget)?;
                    if let Some(v) = apply(*func, &data, t - range, t) {
                        out.push((labels(&e, false), t, v));
                    }
                }
                Ok(Answer::Vector(out))
            }
        }
    }

    /// Evaluates `q` at every `step` from `start` to `end` (ms).
    pub fn range(
        &self,
        q: &Query,
        start: i64,
        end: i64,
        step: i64,
        lookback: i64,
        now: i64,
    ) -> Result<Vec<SeriesPoints>, QueryError> {
        let limits = self.config().limits;
        if end < start {
            return Err(QueryError::Invalid(
                "end timestamp must not be before start time".into(),
            ));
        }
        if step <= 0 {
            return Err(QueryError::Invalid(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end - start > ms(limits.max_range) {
            return Err(QueryError::Limit(format!(
                "the range is longer than {} (history.limits.max_range)",
                humantime::format_duration(limits.max_range)
            )));
        }
        let steps = (end - start) / step + 1;
        if steps as u64 > limits.max_points_per_series {
            return Err(QueryError::Limit(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX) (history.limits.max_points_per_series)",
                limits.max_points_per_series
            )));
        }
        let (sel, func, window) = match q {
            Query::Vector(sel) => (sel, None, lookback),
            Query::Call(f, sel, r) => (sel, Some(*f), *r),
            Query::Matrix(..) => {
                return Err(QueryError::Invalid(
                    "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                ));
            }
        };
        let src = self.source(func, window, start - window, now);
        let mut budget = Budget::new(limits.max_samples);
        let mut out = Vec::new();
        for e in self.selected(sel)? {
            let data = self.data(&e, src, start - window - 60_000, end, &mut budget)?;
            let mut points = Vec::new();
            let mut t = start;
            while t <= end {
                let v = match func {
                    None => latest(&data, t, lookback).map(|(_, v)| v),
                    Some(f) => apply(f, &data, t - window, t),
                };
                if let Some(v) = v {
                    points.push((t, v));
                }
                t += step;
            }
            if !points.is_empty() {
                out.push(SeriesPoints {
                    labels: labels(&e, func.is_none()),
                    points,
                });
            }
        }
        Ok(out)
    }
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn labels(e: &Entry, name: bool) -> LabelMap {
    let mut m: LabelMap = e
        .labels
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if name {
        m.insert("__name__".into(), e.name.clone());
    }
    m
}

/// The newest sample in `(t - lookback, t]`.
fn latest(data: &Data, t: i64, lookback: i64) -> Option<(i64, f64)> {
    let found = match data {
        Data::Raw(s) => {
            let i = s.partition_point(|(ts, _)| *ts <= t);
            i.checked_sub(1).and_then(|i| s.get(i)).copied()
        }
        Data::Minutes(m) => m
            .iter()
            .filter(|a| a.last_ts <= t)
            .max_by_key(|a| a.last_ts)
            .map(|a| (a.last_ts, a.last)),
    };
    found.filter(|(ts, _)| *ts > t - lookback)
}

/// `f` over the window `(from, to]`.
fn apply(f: Func, data: &Data, from: i64, to: i64) -> Option<f64> {
    match data {
        Data::Raw(s) => {
            let lo = s.partition_point(|(ts, _)| *ts <= from);
            let hi = s.partition_point(|(ts, _)| *ts <= to);
            over_samples(f, s.get(lo..hi)?, from, to)
        }
        Data::Minutes(m) => {
            let w: Vec<&Agg> = m
                .iter()
                .filter(|a| a.minute_ms >= from && a.minute_ms < to)
                .collect();
            if w.is_empty() {
                return None;
            }
            let count: u64 = w.iter().map(|a| a.count).sum();
            let sum: f64 = w.iter().map(|a| a.sum).sum();
            match f {
                Func::Min => w.iter().map(|a| a.min).reduce(f64::min),
                Func::Max => w.iter().map(|a| a.max).reduce(f64::max),
                Func::Sum => Some(sum),
                Func::Count => Some(count as f64),
                Func::Avg => Some(sum / count as f64),
                Func::Last => w.iter().max_by_key(|a| a.last_ts).map(|a| a.last),
                Func::Rate | Func::Increase | Func::Delta | Func::Changes => {
                    let lasts: Vec<(i64, f64)> = w.iter().map(|a| (a.last_ts, a.last)).collect();
                    over_samples(f, &lasts, from, to)
                }
            }
        }
    }
}

fn over_samples(f: Func, s: &[(i64, f64)], from: i64, to: i64) -> Option<f64> {
    let (first, last) = (s.first()?, s.last()?);
    let vals = || s.iter().map(|(_, v)| *v);
    Some(match f {
        Func::Avg => {
            // Running mean: no overflow to infinity for large values.
            let mut mean = 0.0;
            for (i, v) in vals().enumerate() {
                mean += (v - mean) / (i + 1) as f64;
            }
            mean
        }
        Func::Min => vals().reduce(f64::min)?,
        Func::Max => vals().reduce(f64::max)?,
        Func::Sum => vals().sum(),
        Func::Count => s.len() as f64,
        Func::Last => last.1,
        Func::Changes => s.windows(2).filter(|w| w[0].1 != w[1].1).count() as f64,
        Func::Rate => extrapolated(s, from, to, true, true)?,
        Func::Increase => extrapolated(s, from, to, true, false)?,
        Func::Delta => {
            let _ = first;
            extrapolated(s, from, to, false, false)?
        }
    })
}

/// Prometheus' `extrapolatedRate`: the change over the samples, counter resets added back,
/// extrapolated towards the window's edges (not past a counter's zero).
fn extrapolated(
    s: &[(i64, f64)],
    from: i64,
    to: i64,
    counter: bool,
    per_second: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (first, last) = (s[0], s[s.len() - 1]);
    let mut result = last.1 - first.1;
    if counter {
        for w in s.windows(2) {
            if w[1].1 < w[0].1 {
                result += w[0].1;
            }
        }
    }
    let secs = |ms: i64| ms as f64 / 1000.0;
    let sampled = secs(last.0 - first.0);
    if sampled <= 0.0 {
        return None;
    }
    let mut to_start = secs(first.0 - from);
    let to_end = secs(to - last.0);
    let avg_gap = sampled / (s.len() - 1) as f64;
    if counter && result > 0.0 && first.1 >= 0.0 {
        let to_zero = sampled * (first.1 / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    let threshold = avg_gap * 1.1;
    let mut interval = sampled;
    interval += if to_start < threshold {
        to_start
    } else {
        avg_gap / 2.0
    };
    interval += if to_end < threshold {
        to_end
    } else {
        avg_gap / 2.0
    };
    result *= interval / sampled;
    if per_second {
        result /= secs(to - from);
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_of_a_steady_counter_is_its_slope() {
        // 1 per second, sampled every 10 s, window exactly covering the samples' span and edges.
        let s: Vec<(i64, f64)> = (0..=30).map(|i| (i * 10_000, (i * 10) as f64)).collect();
        let r = extrapolated(&s[1..], 5_000, 300_000, true, true).unwrap();
        assert!((r - 1.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn a_counter_reset_is_added_back() {
        let s = [
            (10_000, 100.0),
            (20_000, 110.0),
            (30_000, 5.0),
            (40_000, 15.0),
        ];
        // Raw change 15 - 100 + 110 (reset) = 25 over 30 s, extrapolated by 5 s at each end.
        let inc = extrapolated(&s, 5_000, 45_000, true, false).unwrap();
        assert!((inc - 25.0 * 40.0 / 30.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn window_functions_over_samples() {
        let s = [(1, 3.0), (2, 1.0), (3, 4.0), (4, 4.0), (5, 2.0)];
        assert_eq!(over_samples(Func::Min, &s, 0, 5), Some(1.0));
        assert_eq!(over_samples(Func::Max, &s, 0, 5), Some(4.0));
        assert_eq!(over_samples(Func::Sum, &s, 0, 5), Some(14.0));
        assert_eq!(over_samples(Func::Count, &s, 0, 5), Some(5.0));
        assert_eq!(over_samples(Func::Last, &s, 0, 5), Some(2.0));
        assert_eq!(over_samples(Func::Changes, &s, 0, 5), Some(3.0));
        assert!((over_samples(Func::Avg, &s, 0, 5).unwrap() - 2.8).abs() < 1e-12);
    }

    #[test]
    fn the_latest_sample_is_only_taken_within_the_lookback() {
        let d = Data::Raw(vec![(1_000, 1.0), (2_000, 2.0)]);
        assert_eq!(latest(&d, 2_500, 1_000), Some((2_000, 2.0)));
        assert_eq!(latest(&d, 1_500, 1_000), Some((1_000, 1.0)));
        assert_eq!(latest(&d, 3_000, 1_000), None);
        assert_eq!(latest(&d, 500, 1_000), None);
    }
}
