//! What agents may define: series in all, series per agent, new series per minute per agent,
//! labels per series and label value length. Checked before a batch changes anything: over a
//! limit the whole batch is refused with a status that names the limit and the fix, and the
//! refusal is counted per agent and reason (`patrol_ingest_refused_total`); other agents go on.
//!
//! The [`Book`] remembers which series each agent defined and how many agents share each one,
//! so the series of an agent gone longer than `forget_agent_after` can be freed.

use std::collections::{HashMap, HashSet};
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use serde::Deserialize;
use tonic::Status;

use crate::engine::SeriesId;

/// `[limits]` in the collector's file. Every key is optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// Series the collector keeps, all agents together. Default 1,000,000 (about 0.5 GB).
    pub max_series: Option<NonZeroUsize>,
    /// Series one agent may define, all its streams together. Default 100,000.
    pub max_series_per_agent: Option<NonZeroUsize>,
    /// New series one agent may define per minute: a burst of this many, refilled evenly over
    /// the minute. Default 20,000.
    pub max_new_series_per_minute: Option<NonZeroU32>,
    /// Labels on one series, the agent's host and static labels included. Default 32.
    pub max_labels: Option<NonZeroUsize>,
    /// Longest label value, in bytes. Default 1024.
    pub max_label_value_bytes: Option<NonZeroUsize>,
    /// The series of an agent disconnected this long are freed (its incidents stay open and
    /// continue when it returns). Default 1h; at least 1m.
    #[serde(default, with = "humantime_serde")]
    pub forget_agent_after: Option<Duration>,
}

/// Checked limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_series: usize,
    pub max_series_per_agent: usize,
    pub max_new_series_per_minute: u32,
    pub max_labels: usize,
    pub max_label_value_bytes: usize,
    pub forget_agent_after: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_series: 1_000_000,
            max_series_per_agent: 100_000,
            max_new_series_per_minute: 20_000,
            max_labels: 32,
            max_label_value_bytes: 1024,
            forget_agent_after: Duration::from_secs(3600),
        }
    }
}

/// Shortest `forget_agent_after`: an agent restarting or riding out a network blip must find
/// its series (and their rule states) where it left them.
pub const MIN_FORGET_AFTER: Duration = Duration::from_secs(60);

impl LimitsSection {
    /// The limits, or the sentence that says what is wrong.
    pub fn settle(self) -> Result<Limits, String> {
        let d = Limits::default();
        let forget = self.forget_agent_after.unwrap_or(d.forget_agent_after);
        if forget < MIN_FORGET_AFTER {
            return Err(format!(
                "[limits] forget_agent_after {} is too short: an agent that reconnects would \
                 lose its series; give it at least 1m",
                humantime_serde::re::humantime::format_duration(forget)
            ));
        }
        Ok(Limits {
            max_series: self.max_series.map_or(d.max_series, NonZeroUsize::get),
            max_series_per_agent: self
                .max_series_per_agent
                .map_or(d.max_series_per_agent, NonZeroUsize::get),
            max_new_series_per_minute: self
                .max_new_series_per_minute
                .map_or(d.max_new_series_per_minute, NonZeroU32::get),
            max_labels: self.max_labels.map_or(d.max_labels, NonZeroUsize::get),
            max_label_value_bytes: self
                .max_label_value_bytes
                .map_or(d.max_label_value_bytes, NonZeroUsize::get),
            forget_agent_after: forget,
        })
    }
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The agent would own more series than `max_series_per_agent`.
    SeriesPerAgent {
        have: usize,
        adding: usize,
        limit: usize,
    },
    /// The table would hold more series than `max_series`.
    Series {
        have: usize,
        adding: usize,
        limit: usize,
    },
    /// More new series than the agent's per-minute budget has left.
    NewSeriesRate {
        adding: usize,
        left: u32,
        limit: u32,
    },
}

impl Refusal {
    /// The reason label of `patrol_ingest_refused_total` and `patrol_ingest_rejected_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::SeriesPerAgent { .. } => "max_series_per_agent",
            Refusal::Series { .. } => "max_series",
            Refusal::NewSeriesRate { .. } => "max_new_series_per_minute",
        }
    }

    pub fn status(&self) -> Status {
        Status::resource_exhausted(self.to_string())
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::SeriesPerAgent {
                have,
                adding,
                limit,
            } => write!(
                f,
                "max_series_per_agent: this agent has {have} series and the batch adds {adding}, \
                 over the limit of {limit}; drop labels whose values change all the time, or \
                 raise [limits] max_series_per_agent on the collector"
            ),
            Refusal::Series {
                have,
                adding,
                limit,
            } => write!(
                f,
                "max_series: the collector holds {have} series and the batch adds {adding}, over \
                 the limit of {limit}; raise [limits] max_series on the collector (memory \
                 permitting) or find the agent whose series keep growing"
            ),
            Refusal::NewSeriesRate {
                adding,
                left,
                limit,
            } => {
                if *adding > *limit as usize {
                    write!(
                        f,
                        "max_new_series_per_minute: the batch defines {adding} new series, more \
                         than the limit of {limit} per minute allows at once; raise [limits] \
                         max_new_series_per_minute on the collector"
                    )
                } else {
                    write!(
                        f,
                        "max_new_series_per_minute: the batch defines {adding} new series and \
                         this agent may define {left} more now (limit {limit} per minute); the \
                         agent retries, or raise [limits] max_new_series_per_minute"
                    )
                }
            }
        }
    }
}

/// Per-agent ownership of series and new-series budgets.
#[derive(Debug, Default)]
pub struct Book {
    agents: HashMap<String, Owned>,
    /// How many agents defined each series (two agents may report the same series).
    refs: HashMap<SeriesId, u32>,
}

#[derive(Debug)]
struct Owned {
    ids: HashSet<SeriesId>,
    /// New series the agent may still define; refilled at `limit / 60 s`.
    tokens: f64,
    refilled_ms: i64,
}

impl Book {
    /// Whether `agent` already defined series `id`.
    pub fn owns(&self, agent: &str, id: SeriesId) -> bool {
        self.agents.get(agent).is_some_and(|o| o.ids.contains(&id))
    }

    pub fn series_of(&self, agent: &str) -> usize {
        self.agents.get(agent).map_or(0, |o| o.ids.len())
    }

    /// Admits a batch that makes `new_for_agent` series new to `agent`, of which
    /// `new_in_table` are new to the table holding `in_table` series; takes them from the
    /// agent's budget. Changes nothing when refused.
    pub fn admit(
        &mut self,
        agent: &str,
        new_for_agent: usize,
        new_in_table: usize,
        in_table: usize,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<(), Refusal> {
        if new_for_agent == 0 {
            return Ok(());
        }
        let have = self.series_of(agent);
        if have + new_for_agent > limits.max_series_per_agent {
            return Err(Refusal::SeriesPerAgent {
                have,
                adding: new_for_agent,
                limit: limits.max_series_per_agent,
            });
        }
        if in_table + new_in_table > limits.max_series {
            return Err(Refusal::Series {
                have: in_table,
                adding: new_in_table,
                limit: limits.max_series,
            });
        }
        let per_minute = limits.max_new_series_per_minute;
        let owned = self
            .agents
            .entry(agent.to_owned())
            .or_insert_with(|| Owned {
                ids: HashSet::new(),
                tokens: f64::from(per_minute),
                refilled_ms: now_ms,
            });
        let elapsed = (now_ms - owned.refilled_ms).max(0) as f64;
        owned.tokens =
            (owned.tokens + elapsed * f64::from(per_minute) / 60_000.0).min(f64::from(per_minute));
        owned.refilled_ms = now_ms;
        if new_for_agent as f64 > owned.tokens {
            return Err(Refusal::NewSeriesRate {
                adding: new_for_agent,
                left: owned.tokens as u32,
                limit: per_minute,
            });
        }
        owned.tokens -= new_for_agent as f64;
        Ok(())
    }

    /// Records that `agent` defined `id` (after [`Book::admit`]).
    pub fn record(&mut self, agent: &str, id: SeriesId) {
        let owned = self
            .agents
            .entry(agent.to_owned())
            .or_insert_with(|| Owned {
                ids: HashSet::new(),
                tokens: 0.0,
                refilled_ms: 0,
            });
        if owned.ids.insert(id) {
            *self.refs.entry(id).or_default() += 1;
        }
    }

    /// Agents that own series.
    pub fn agents(&self) -> impl Iterator<Item = &str> {
        self.agents.keys().map(String::as_str)
    }

    /// Drops `agent`'s ownership; returns the series no agent owns any more (to be freed).
    pub fn release(&mut self, agent: &str) -> Vec<SeriesId> {
        let Some(owned) = self.agents.remove(agent) else {
            return Vec::new();
        };
        let mut orphans = Vec::new();
        for id in owned.ids {
            if let Some(n) = self.refs.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    self.refs.remove(&id);
                    orphans.push(id);
                }
            }
        }
        orphans
    }
}

/// A label set checked against the limits: count and value length.
pub fn check_labels(count: usize, longest_value: usize, limits: &Limits) -> Result<(), Status> {
    if count > limits.max_labels {
        return Err(Status::invalid_argument(format!(
            "max_labels: a series has {count} labels (the agent's own included), over the limit \
             of {}; drop labels or raise [limits] max_labels on the collector",
            limits.max_labels
        )));
    }
    if longest_value > limits.max_label_value_bytes {
        return Err(Status::invalid_argument(format!(
            "max_label_value_bytes: a label value is {longest_value} bytes long, over the limit \
             of {}; shorten it or raise [limits] max_label_value_bytes on the collector",
            limits.max_label_value_bytes
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_series: 10,
            max_series_per_agent: 5,
            max_new_series_per_minute: 4,
            ..Limits::default()
        }
    }

    #[test]
    fn per_agent_global_and_rate_limits_refuse_without_changing_anything() {
        let l = limits();
        let mut b = Book::default();
        b.admit("a", 4, 4, 0, &l, 0).unwrap();
        for id in 0..4 {
            b.record("a", id);
        }
        // The minute's budget is spent: one more is refused until it refills.
        let r = b.admit("a", 1, 1, 4, &l, 1_000).unwrap_err();
        assert_eq!(r.reason(), "max_new_series_per_minute");
        b.admit("a", 1, 1, 4, &l, 15_000).unwrap();
        b.record("a", 4);
        let r = b.admit("a", 1, 1, 5, &l, 60_000).unwrap_err();
        assert_eq!(
            r,
            Refusal::SeriesPerAgent {
                have: 5,
                adding: 1,
                limit: 5
            }
        );
        assert!(r.to_string().starts_with("max_series_per_agent: "), "{r}");
        // Another agent is not held back by a's limits, only by the table's.
        b.admit("b", 4, 4, 5, &l, 60_000).unwrap();
        let r = b.admit("b", 4, 4, 9, &l, 120_000).unwrap_err();
        assert_eq!(r.reason(), "max_series");
        // A batch larger than the whole per-minute budget says so.
        let r = b.admit("c", 5, 0, 9, &l, 0).unwrap_err();
        assert!(r.to_string().contains("more than the limit"), "{r}");
    }

    #[test]
    fn shared_series_are_freed_when_their_last_owner_goes() {
        let mut b = Book::default();
        b.record("a", 1);
        b.record("a", 2);
        b.record("b", 2);
        let mut gone = b.release("a");
        gone.sort();
        assert_eq!(gone, [1]);
        assert_eq!(b.release("b"), [2]);
        assert!(b.release("b").is_empty());
    }

    #[test]
    fn forget_after_too_short_is_refused() {
        let s = LimitsSection {
            forget_agent_after: Some(Duration::from_secs(5)),
            ..LimitsSection::default()
        };
        let e = s.settle().unwrap_err();
        assert!(e.contains("at least 1m"), "{e}");
    }
}
