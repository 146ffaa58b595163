//! Reading a series back: its raw samples or its minutes over a range, from the chunk
//! database and from memory (sealed chunks not yet written, and the open ones). The head is
//! read first, so a chunk written to the database meanwhile is seen twice rather than not at
//! all; the copy is recognised and dropped.

use std::sync::PoisonError;

use crate::chunks::{self, Stored};
use crate::codec::agg::{self, Agg};
use crate::codec::xor;
use crate::series::{Entry, Tier};
use crate::{History, HistoryError};

/// A read that would exceed its sample budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the query would read more than {limit} samples (history.limits.max_samples)")]
pub struct TooManySamples {
    /// The limit.
    pub limit: u64,
}

/// How many samples a query may still read.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    /// A budget of `limit` samples.
    pub fn new(limit: u64) -> Self {
        Self { left: limit, limit }
    }

    fn spend(&mut self, n: u64) -> Result<(), TooManySamples> {
        self.left = self
            .left
            .checked_sub(n)
            .ok_or(TooManySamples { limit: self.limit })?;
        Ok(())
    }
}

/// Errors of a read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The history failed.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// Over the budget.
    #[error(transparent)]
    Budget(#[from] TooManySamples),
}

impl From<rusqlite::Error> for ReadError {
    fn from(e: rusqlite::Error) -> Self {
        ReadError::History(HistoryError::Db(e))
    }
}

type Key = (i64, i64, u32, i64);

fn key(c: &Stored) -> Key {
    (c.min_ts, c.max_ts, c.count, c.last_ts)
}

impl History {
    /// The chunks of `entry` in `tier` overlapping `[from, to]`: memory first, then the
    /// database without the copies.
    fn chunks_of(
        &self,
        entry: &Entry,
        tier: Tier,
        from: i64,
        to: i64,
    ) -> Result<Vec<Stored>, ReadError> {
        let mut out: Vec<Stored> = {
            let head = entry.head();
            head.sealed
                .iter()
                .cloned()
                .chain(head.open_chunks())
                .filter(|c| c.tier == tier && c.max_ts >= from && c.min_ts <= to)
                .map(Stored::from)
                .collect()
        };
        let stored = {
            let conn = self
                .shared()
                .reader
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            chunks::read(&conn, entry.id, tier, from, to)?
        };
        let seen: std::collections::HashSet<Key> = out.iter().map(key).collect();
        out.extend(stored.into_iter().filter(|c| !seen.contains(&key(c))));
        Ok(out)
    }

    fn corrupt(&self, entry: &Entry, c: &Stored, got: u32) {
        self.stats().chunks_corrupt.add(1);
        tracing::error!(file = %self.shared().db_path.display(), series = entry.id,
            tier = ?c.tier, min_ts = c.min_ts, count = c.count, decoded = got,
            "history: a damaged chunk was skipped");
    }

    /// Raw samples of `entry` in `[from, to]`, oldest first.
    pub fn raw(
        &self,
        entry: &Entry,
        from: i64,
        to: i64,
        budget: &mut Budget,
    ) -> Result<Vec<(i64, f64)>, ReadError> {
        let chunks = self.chunks_of(entry, Tier::Raw, from, to)?;
        let mut out = Vec::new();
        for c in &chunks {
            budget.spend(u64::from(c.count))?;
            let before = out.len();
            out.extend(xor::decode(&c.data, c.count));
            let got = (out.len() - before) as u32;
            if got != c.count {
                // What decoded before the damage is still good data.
                self.corrupt(entry, c, got);
            }
        }
        out.retain(|(t, _)| *t >= from && *t <= to);
        out.sort_by_key(|(t, _)| *t);
        out.dedup_by_key(|(t, _)| *t);
        Ok(out)
    }

    /// Minutes of `entry` whose start lies in `[from, to]`, oldest first, parts of a minute
    /// merged.
    pub fn minutes(
        &self,
        entry: &Entry,
        from: i64,
        to: i64,
        budget: &mut Budget,
    ) -> Result<Vec<Agg>, ReadError> {
        let chunks = self.chunks_of(entry, Tier::Minute, from, to)?;
        let mut all = Vec::new();
        for c in &chunks {
            budget.spend(u64::from(c.count))?;
            let before = all.len();
            all.extend(agg::decode(&c.data, c.count));
            let got = (all.len() - before) as u32;
            if got != c.count {
                self.corrupt(entry, c, got);
            }
        }
        all.retain(|a| a.minute_ms >= from && a.minute_ms <= to);
        all.sort_by_key(|a| (a.minute_ms, a.last_ts));
        let mut out: Vec<Agg> = Vec::with_capacity(all.len());
        for a in all {
            match out.last_mut() {
                Some(prev) if prev.minute_ms == a.minute_ms => prev.merge(&a),
                _ => out.push(a),
            }
        }
        Ok(out)
    }

    /// The series matching a predicate on (name, labels), at most `max`.
    pub fn select(
        &self,
        metric: Option<&str>,
        keep: impl Fn(&Entry) -> bool,
        max: usize,
    ) -> Result<Vec<std::sync::Arc<Entry>>, TooMany> {
        let table = self.shared().table();
        let mut out = Vec::new();
        let mut add = |e: &std::sync::Arc<Entry>| -> Result<(), TooMany> {
            if e.name != crate::open::LOST_SERIES && keep(e) {
                if out.len() >= max {
                    return Err(TooMany { limit: max });
                }
                out.push(std::sync::Arc::clone(e));
            }
            Ok(())
        };
        match metric {
            Some(m) => table.of_metric(m).try_for_each(&mut add)?,
            None => table.all().try_for_each(&mut add)?,
        }
        Ok(out)
    }

    /// Every metric name.
    pub fn metric_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .shared()
            .table()
            .metrics()
            .filter(|m| *m != crate::open::LOST_SERIES)
            .map(str::to_owned)
            .collect();
        out.sort();
        out
    }
}

/// A selection with more series than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the query selects more than {limit} series (history.limits.max_series)")]
pub struct TooMany {
    /// The limit.
    pub limit: usize,
}
