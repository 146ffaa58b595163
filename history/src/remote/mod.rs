//! Prometheus remote-write 1.0 to the TSDB a site already runs, read from the history's log
//! as Prometheus' own remote-write follows its WAL: ingest never waits for an endpoint, and
//! what an endpoint has not confirmed stays in the log (the endpoint's position is kept in the
//! chunk database), so a restart resumes where it stopped.
//!
//! Per the specification: 5xx and 429 are retried with capped exponential backoff (the same
//! request, so nothing is reordered), other 4xx are dropped and counted. A sent request's
//! position is recorded after the endpoint confirmed it; a crash between the two resends that
//! one request (receivers drop identical samples: at-least-once, like Prometheus).

pub mod prompb;
mod queue;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub use queue::start;

/// One endpoint's figures, for `/metrics` and `patrolctl`.
#[derive(Debug, Default)]
pub struct EndpointStats {
    /// Samples the endpoint confirmed.
    pub samples_sent: AtomicU64,
    /// Requests the endpoint confirmed.
    pub requests_sent: AtomicU64,
    /// Retries after a retryable failure.
    pub retries: AtomicU64,
    /// Samples dropped: refused by the endpoint (4xx) or removed from the log before sending.
    pub samples_dropped: AtomicU64,
    /// Timestamp (ms) of the newest sample confirmed.
    pub newest_sent_ms: AtomicI64,
    /// Samples in the log not yet confirmed (estimate from log bytes at the last look).
    pub pending_bytes: AtomicU64,
    /// The last error, cleared by a success.
    pub last_error: Mutex<Option<String>>,
}

impl EndpointStats {
    /// The last error.
    pub fn error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_error(&self, e: Option<String>) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = e;
    }

    fn add(n: &AtomicU64, v: u64) {
        n.fetch_add(v, Ordering::Relaxed);
    }
}

/// Every endpoint's figures, by name.
pub type RemoteStats = BTreeMap<String, Arc<EndpointStats>>;
