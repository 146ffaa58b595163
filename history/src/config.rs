//! `[history]` in the collector's file: what is kept, for how long, on how much disk, and where
//! it is forwarded. Every key has a default; `docs/history.md` lists them.

use std::time::Duration;

use serde::Deserialize;

/// The history settings.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep samples at all. Off: nothing is written, queries answer from nothing.
    pub enabled: bool,
    /// How long raw samples are kept.
    #[serde(with = "humantime_serde")]
    pub raw_retention: Duration,
    /// How long the 1-minute aggregates (min, max, sum, count, last) are kept.
    #[serde(with = "humantime_serde")]
    pub aggregate_retention: Duration,
    /// Disk the history may use (write-ahead log and chunks); past it the oldest raw chunks go
    /// first, then the oldest aggregates.
    pub max_disk: bytesize::ByteSize,
    /// Make each group of writes durable (fdatasync) before acknowledging it. Only tests and
    /// benchmarks turn this off.
    pub fsync: bool,
    /// Size at which the write-ahead log starts a new segment.
    pub segment_size: bytesize::ByteSize,
    /// Samples per raw chunk (Prometheus uses 120).
    pub chunk_samples: u32,
    /// Minutes per aggregate chunk.
    pub chunk_minutes: u32,
    /// How often sealed chunks are written to the chunk database.
    #[serde(with = "humantime_serde")]
    pub flush_interval: Duration,
    /// How often the log is checkpointed (open chunks sealed, old segments removed) and
    /// retention and the disk cap are applied.
    #[serde(with = "humantime_serde")]
    pub checkpoint_interval: Duration,
    /// Limits a query must stay within.
    pub limits: QueryLimits,
    /// Prometheus remote-write endpoints fed from the log.
    pub remote_write: Vec<RemoteWriteConfig>,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            raw_retention: Duration::from_secs(15 * 86_400),
            aggregate_retention: Duration::from_secs(400 * 86_400),
            max_disk: bytesize::ByteSize::gib(20),
            fsync: true,
            segment_size: bytesize::ByteSize::mib(64),
            chunk_samples: 120,
            chunk_minutes: 240,
            flush_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_secs(15 * 60),
            limits: QueryLimits::default(),
            remote_write: Vec::new(),
        }
    }
}

/// What one query may cost.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueryLimits {
    /// Series one query may touch.
    pub max_series: usize,
    /// Samples one query may read from storage.
    pub max_samples: u64,
    /// Points per series in a range query (Prometheus: 11 000).
    pub max_points_per_series: u64,
    /// Longest range a query may cover.
    #[serde(with = "humantime_serde")]
    pub max_range: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_series: 100_000,
            max_samples: 50_000_000,
            max_points_per_series: 11_000,
            max_range: Duration::from_secs(800 * 86_400),
        }
    }
}

/// One `[[history.remote_write]]` endpoint.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RemoteWriteConfig {
    /// Unique name, in metrics, logs and status.
    pub name: String,
    /// Where to POST (`.../api/v1/write`).
    pub url: String,
    /// How long one request may take.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Samples per request (Prometheus: 2000).
    #[serde(default = "default_batch")]
    pub max_samples_per_send: usize,
    /// First wait after a retryable failure; doubles up to `max_backoff`.
    #[serde(default = "default_min_backoff", with = "humantime_serde")]
    pub min_backoff: Duration,
    /// Longest wait between retries.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Basic authentication user.
    pub username: Option<String>,
    /// File holding the basic authentication password (must not be readable by others).
    pub password_file: Option<std::path::PathBuf>,
    /// File holding a bearer token (must not be readable by others).
    pub bearer_token_file: Option<std::path::PathBuf>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_batch() -> usize {
    2000
}
fn default_min_backoff() -> Duration {
    Duration::from_millis(30)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(5)
}

/// A setting that cannot work, found by [`HistoryConfig::check`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("history.{key}: {message}")]
pub struct ConfigProblem {
    /// The key, e.g. `raw_retention` or `remote_write[0].url`.
    pub key: String,
    /// A plain sentence.
    pub message: String,
}

impl HistoryConfig {
    /// Every problem a config has that serde cannot see.
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        let mut bad = |key: &str, message: String| {
            out.push(ConfigProblem {
                key: key.to_owned(),
                message,
            })
        };
        if self.raw_retention < Duration::from_secs(3600) {
            bad("raw_retention", "must be at least 1h".into());
        }
        if self.aggregate_retention < self.raw_retention {
            bad(
                "aggregate_retention",
                "must be at least as long as raw_retention".into(),
            );
        }
        if self.max_disk.as_u64() < 1024 * 1024 {
            bad("max_disk", "must be at least 1 MiB".into());
        }
        if self.segment_size.as_u64() < 64 * 1024 || self.segment_size.as_u64() > 1 << 30 {
            bad("segment_size", "must be between 64 KiB and 1 GiB".into());
        }
        if !(8..=4096).contains(&self.chunk_samples) {
            bad("chunk_samples", "must be between 8 and 4096".into());
        }
        if !(8..=10_080).contains(&self.chunk_minutes) {
            bad("chunk_minutes", "must be between 8 and 10080".into());
        }
        if self.flush_interval < Duration::from_millis(10) {
            bad("flush_interval", "must be at least 10ms".into());
        }
        if self.checkpoint_interval < Duration::from_secs(1) {
            bad("checkpoint_interval", "must be at least 1s".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, r) in self.remote_write.iter().enumerate() {
            let key = |k: &str| format!("remote_write[{i}].{k}");
            if r.name.is_empty() || !names.insert(r.name.clone()) {
                bad(&key("name"), format!("'{}' is empty or used twice", r.name));
            }
            match url::Url::parse(&r.url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                Ok(u) => bad(
                    &key("url"),
                    format!("must be http:// or https://, not {}://", u.scheme()),
                ),
                Err(e) => bad(&key("url"), format!("'{}' is not a URL: {e}", r.url)),
            }
            if r.max_samples_per_send == 0 || r.max_samples_per_send > 100_000 {
                bad(&key("max_samples_per_send"), "must be 1 to 100000".into());
            }
            if r.min_backoff.is_zero() || r.max_backoff < r.min_backoff {
                bad(
                    &key("min_backoff"),
                    "must be above zero and at most max_backoff".into(),
                );
            }
            if r.timeout.is_zero() {
                bad(&key("timeout"), "must be above zero".into());
            }
            if r.password_file.is_some() && r.username.is_none() {
                bad(&key("password_file"), "needs username".into());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_check_and_units_read() {
        assert!(HistoryConfig::default().check().is_empty());
        let c: HistoryConfig =
            toml::from_str("raw_retention = \"2d\"\nmax_disk = \"500 MiB\"\n").unwrap();
        assert_eq!(c.raw_retention, Duration::from_secs(2 * 86_400));
        assert_eq!(c.max_disk.as_u64(), 500 * 1024 * 1024);
    }

    #[test]
    fn impossible_settings_are_named() {
        let c: HistoryConfig = toml::from_str(
            "raw_retention = \"1m\"\n[[remote_write]]\nname = \"vm\"\nurl = \"ftp://x\"\n",
        )
        .unwrap();
        let problems: Vec<String> = c.check().iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "history.raw_retention: must be at least 1h",
                "history.remote_write[0].url: must be http:// or https://, not ftp://"
            ]
        );
    }
}
