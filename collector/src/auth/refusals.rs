//! Refused credentials and requests: counted by reason in `patrol_auth_refused_total`, and
//! logged once per cause — the first time, then at most once a minute with how many more
//! there were — so a scanner or a misconfigured agent retrying in a loop cannot flood the log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often one cause is logged at most, after its first line.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// Why a request was refused: the `reason` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// No credential, and anonymous callers may not do this.
    NoCredential,
    /// A bearer token no identity has.
    UnknownToken,
    /// An `authorization` header that is not `Bearer TOKEN`.
    BadHeader,
    /// An identity whose role is below what the method needs.
    Role,
    /// An agent with a wrong or missing token.
    AgentToken,
    /// A credential of one agent used for another agent id.
    OtherAgent,
    /// An agent id `[auth]` does not list.
    UnknownAgent,
    /// A method the role table does not list (refused to every identity).
    UnknownMethod,
}

impl Reason {
    pub const ALL: [Reason; 8] = [
        Reason::NoCredential,
        Reason::UnknownToken,
        Reason::BadHeader,
        Reason::Role,
        Reason::AgentToken,
        Reason::OtherAgent,
        Reason::UnknownAgent,
        Reason::UnknownMethod,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            Reason::NoCredential => "no_credential",
            Reason::UnknownToken => "unknown_token",
            Reason::BadHeader => "bad_header",
            Reason::Role => "role",
            Reason::AgentToken => "agent_token",
            Reason::OtherAgent => "other_agent",
            Reason::UnknownAgent => "unknown_agent",
            Reason::UnknownMethod => "unknown_method",
        }
    }
}

/// The refusal counters and the log limiter.
#[derive(Debug, Default)]
pub struct Refusals {
    counts: Mutex<HashMap<Reason, u64>>,
    /// Per cause: when it was last logged and how many were not logged since.
    logged: Mutex<HashMap<Reason, (Instant, u64)>>,
}

impl Refusals {
    /// Counts a refusal and logs it unless its cause was logged less than [`LOG_EVERY`] ago.
    /// Returns whether it was logged.
    pub fn refuse(
        &self,
        reason: Reason,
        now: Instant,
        peer: &str,
        what: &str,
        message: &str,
    ) -> bool {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(reason).or_default() += 1;
        }
        let Ok(mut logged) = self.logged.lock() else {
            return false;
        };
        let since = match logged.get_mut(&reason) {
            Some((at, skipped)) if now.duration_since(*at) < LOG_EVERY => {
                *skipped += 1;
                return false;
            }
            Some((at, skipped)) => {
                let n = *skipped;
                *at = now;
                *skipped = 0;
                n
            }
            None => {
                logged.insert(reason, (now, 0));
                0
            }
        };
        tracing::warn!(reason = reason.label(), %peer, request = what, more_since_last_line = since,
            "refused: {message}");
        true
    }

    /// The count for `reason`.
    pub fn count(&self, reason: Reason) -> u64 {
        self.counts
            .lock()
            .ok()
            .and_then(|c| c.get(&reason).copied())
            .unwrap_or(0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_counts_but_each_cause_logs_once_a_minute() {
        let r = Refusals::default();
        let t0 = Instant::now();
        assert!(r.refuse(Reason::UnknownToken, t0, "p", "tail", "m"));
        assert!(!r.refuse(
            Reason::UnknownToken,
            t0 + Duration::from_secs(1),
            "p",
            "tail",
            "m"
        ));
        // Another cause has its own line.
        assert!(r.refuse(Reason::Role, t0 + Duration::from_secs(2), "p", "ack", "m"));
        assert!(!r.refuse(
            Reason::UnknownToken,
            t0 + Duration::from_secs(59),
            "p",
            "tail",
            "m"
        ));
        assert!(r.refuse(Reason::UnknownToken, t0 + LOG_EVERY, "p", "tail", "m"));
        assert_eq!(r.count(Reason::UnknownToken), 4);
        assert_eq!(r.count(Reason::Role), 1);
        assert_eq!(r.count(Reason::BadHeader), 0);
        let labels: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len());
    }
}
