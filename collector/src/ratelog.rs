//! Log lines rate-limited per cause: the first of a cause is logged at once, then at most one
//! every [`EVERY`] with how many were left out meanwhile, so a flood of refusals is visible in
//! the log without filling the disk.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Shortest time between two lines of the same cause.
pub const EVERY: Duration = Duration::from_secs(10);

/// Causes remembered at most; past this, the oldest window is forgotten (a cause named by a
/// hostile peer cannot grow the map without bound).
const MAX_CAUSES: usize = 1024;

#[derive(Debug, Default)]
pub struct RateLog {
    last: Mutex<HashMap<String, (Instant, u64)>>,
}

impl RateLog {
    /// Whether a line of `cause` may be written now, and how many were left out before it.
    pub fn allow(&self, cause: &str) -> Option<u64> {
        let mut m = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if let Some((at, skipped)) = m.get_mut(cause) {
            if now.duration_since(*at) < EVERY {
                *skipped += 1;
                return None;
            }
            let left_out = *skipped;
            *at = now;
            *skipped = 0;
            return Some(left_out);
        }
        if m.len() >= MAX_CAUSES {
            m.retain(|_, (at, _)| now.duration_since(*at) < EVERY);
            if m.len() >= MAX_CAUSES {
                return None;
            }
        }
        m.insert(cause.to_owned(), (now, 0));
        Some(0)
    }

    pub fn warn(&self, cause: &str, message: impl FnOnce() -> String) {
        if let Some(left_out) = self.allow(cause) {
            tracing::warn!(left_out, "{}", message());
        }
    }

    pub fn info(&self, cause: &str, message: impl FnOnce() -> String) {
        if let Some(left_out) = self.allow(cause) {
            tracing::info!(left_out, "{}", message());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_cause_per_window() {
        let r = RateLog::default();
        assert_eq!(r.allow("a"), Some(0));
        assert_eq!(r.allow("a"), None);
        assert_eq!(r.allow("a"), None);
        assert_eq!(r.allow("b"), Some(0), "causes are apart");
    }
}
