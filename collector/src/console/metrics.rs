//! The console's own figures on `/metrics` (`patrol_console_*`), and the outcome of the last
//! rule and site reload, which the status page shows and `/metrics` exports the way
//! Prometheus exports its own (`patrol_rules_last_reload_successful`).

use std::fmt::{self, Write};
use std::sync::{Mutex, PoisonError};

use patrol_proto::model::now_ms;

use crate::telemetry::{Counter, Gauge};

/// `patrol_console_*`.
#[derive(Debug, Default)]
pub struct ConsoleMetrics {
    /// Browsers following the board's live updates now.
    pub sse_clients: Gauge,
    /// Live-update connections refused because the bound was reached.
    pub sse_refused: Counter,
    /// Live-update clients dropped because they did not keep up (they reconnect and get a
    /// fresh snapshot).
    pub sse_dropped: Counter,
    /// Writes (ack, assign, comment, resolve) done from the console.
    pub writes: Counter,
    /// Places taken by browsers (the bound's count; `sse_clients` is its export).
    pub sse_taken: std::sync::atomic::AtomicUsize,
}

impl ConsoleMetrics {
    pub fn encode(&self, out: &mut (impl Write + ?Sized)) -> fmt::Result {
        writeln!(
            out,
            "# HELP patrol_console_sse_clients Browsers following the console board's live updates.\n\
             # TYPE patrol_console_sse_clients gauge\n\
             patrol_console_sse_clients {}\n\
             # HELP patrol_console_sse_refused_total Console live-update connections refused because max_watchers browsers were connected.\n\
             # TYPE patrol_console_sse_refused_total counter\n\
             patrol_console_sse_refused_total {}\n\
             # HELP patrol_console_sse_dropped_total Console live-update clients dropped for not keeping up (they reconnect and get a fresh snapshot).\n\
             # TYPE patrol_console_sse_dropped_total counter\n\
             patrol_console_sse_dropped_total {}\n\
             # HELP patrol_console_writes_total Incident changes (ack, assign, comment, resolve) made from the console.\n\
             # TYPE patrol_console_writes_total counter\n\
             patrol_console_writes_total {}",
            self.sse_clients.get(),
            self.sse_refused.get(),
            self.sse_dropped.get(),
            self.writes.get(),
        )
    }
}

/// One reload's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Rules in force after it.
    pub rules: usize,
    /// Every problem of a refused reload; empty when it was applied.
    pub errors: Vec<String>,
}

/// The last rule and site reload, and when the collector loaded its rules at start.
#[derive(Debug)]
pub struct Reloads {
    /// When the collector started (the first load of rules and site).
    pub started_ms: i64,
    rules: Mutex<Option<Outcome>>,
    site: Mutex<Option<Outcome>>,
}

impl Default for Reloads {
    /// Made once at start, with the telemetry: the start time is now.
    fn default() -> Self {
        Self {
            started_ms: now_ms(),
            rules: Mutex::default(),
            site: Mutex::default(),
        }
    }
}

impl Reloads {
    /// Records a rule reload's outcome (`errors` empty: applied).
    pub fn rules_reloaded(&self, at_ms: i64, rules: usize, errors: &[String]) {
        *self.rules.lock().unwrap_or_else(PoisonError::into_inner) = Some(Outcome {
            at_ms,
            rules,
            errors: errors.to_vec(),
        });
    }

    /// Records a site reload's outcome (`errors` empty: applied).
    pub fn site_reloaded(&self, at_ms: i64, rules: usize, errors: &[String]) {
        *self.site.lock().unwrap_or_else(PoisonError::into_inner) = Some(Outcome {
            at_ms,
            rules,
            errors: errors.to_vec(),
        });
    }

    /// The last rule reload, if any since the start.
    pub fn rules(&self) -> Option<Outcome> {
        self.rules
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The last site reload, if any since the start.
    pub fn site(&self) -> Option<Outcome> {
        self.site
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `patrol_rules_last_reload_successful` and `patrol_rules_last_reload_timestamp_seconds`
    /// (the start counts as the first, successful, load).
    pub fn encode(&self, out: &mut (impl Write + ?Sized)) -> fmt::Result {
        let last = self.rules();
        let ok = last.as_ref().is_none_or(|o| o.errors.is_empty());
        let at = last.as_ref().map_or(self.started_ms, |o| o.at_ms);
        writeln!(
            out,
            "# HELP patrol_rules_last_reload_successful Whether the last rule load (at start or reload) was applied (1) or refused (0).\n\
             # TYPE patrol_rules_last_reload_successful gauge\n\
             patrol_rules_last_reload_successful {}\n\
             # HELP patrol_rules_last_reload_timestamp_seconds When rules were last loaded or a reload was refused.\n\
             # TYPE patrol_rules_last_reload_timestamp_seconds gauge\n\
             patrol_rules_last_reload_timestamp_seconds {}",
            u8::from(ok),
            at as f64 / 1000.0
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reload_shows_until_one_succeeds() {
        let r = Reloads::default();
        let mut text = String::new();
        r.encode(&mut text).unwrap();
        assert!(
            text.contains("patrol_rules_last_reload_successful 1\n"),
            "{text}"
        );
        r.rules_reloaded(5_000, 3, &["a.toml:1:1: bad".to_owned()]);
        let mut text = String::new();
        r.encode(&mut text).unwrap();
        assert!(
            text.contains("patrol_rules_last_reload_successful 0\n"),
            "{text}"
        );
        assert!(
            text.ends_with("patrol_rules_last_reload_timestamp_seconds 5\n"),
            "{text}"
        );
        r.rules_reloaded(6_000, 4, &[]);
        assert_eq!(r.rules().unwrap().errors.len(), 0);
    }
}
