//! Files probe (`type = "files"`): freshness and size of the files or directories matching
//! glob patterns (dump files, backup sets, exports, archived logs), per `[[probe.check]]`.
//! Emits, per `check`: `files_ok`, `files_count`, `files_total_bytes`,
//! `files_newest_age_seconds`, `files_newest_bytes`, `files_oldest_age_seconds`, and with
//! `max_age` set, `files_stale`. See `README.md` beside this file.

mod scan;

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::{Failing, Out, duration_field, interval_duration};
use crate::{CollectContext, Probe, ProbeError};
pub use scan::Mode;

/// Configuration of one `[[probe]] type = "files"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// How often the patterns are evaluated. Default `"60s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The checks, each a `[[probe.check]]`.
    #[serde(rename = "check")]
    pub checks: Vec<CheckConfig>,
    /// Most directory entries one check may look at per round (pattern matches plus, in
    /// `dirs` mode, everything under them). Default 100000.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

/// One `[[probe.check]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// The `check` label, e.g. `"expdp_dumps"`.
    pub name: String,
    /// Absolute glob patterns (`*`, `?`, `[...]`, `**` for any depth), e.g.
    /// `"/backup/dump/expdp_*.dmp"`.
    pub paths: Vec<String>,
    /// `"files"` (default): regular files are the items. `"dirs"`: directories are, each
    /// sized by the files under it and dated by the newest change inside (backup sets).
    #[serde(default = "default_mode")]
    pub mode: Mode,
    /// Items smaller than this are ignored (a dump that failed half-way). Default 0.
    #[serde(default)]
    pub min_bytes: u64,
    /// With this set, `files_stale` is 1 when no item matches or the newest is older.
    #[serde(default, deserialize_with = "max_age_duration")]
    pub max_age: Option<Duration>,
}

fn max_age_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration_field!(one, "max_age");
    one(d).map(Some)
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_max_entries() -> usize {
    100_000
}
fn default_mode() -> Mode {
    Mode::Files
}

/// A checked `[[probe.check]]`.
#[derive(Debug, Clone)]
struct Check {
    name: String,
    patterns: Vec<glob::Pattern>,
    mode: Mode,
    min_bytes: u64,
    max_age: Option<Duration>,
}

/// The running files probe.
#[derive(Debug)]
pub struct FilesProbe {
    checks: Vec<Check>,
    max_entries: usize,
    failing: Failing,
}

impl FilesProbe {
    pub fn new(config: &FilesConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.checks.is_empty() {
            errors.push("check: list at least one [[probe.check]]".to_owned());
        }
        if config.max_entries == 0 {
            errors.push("max_entries: must be above 0".to_owned());
        }
        let mut checks = Vec::new();
        for (i, c) in config.checks.iter().enumerate() {
            if c.name.trim().is_empty() {
                errors.push(format!("check[{i}].name: must not be empty"));
            }
            if config.checks[..i].iter().any(|o| o.name == c.name) {
                errors.push(format!("check[{i}].name: '{}' is listed twice", c.name));
            }
            if c.paths.is_empty() {
                errors.push(format!("check[{i}].paths: give at least one pattern"));
            }
            let mut patterns = Vec::new();
            for (j, p) in c.paths.iter().enumerate() {
                if !p.starts_with('/') {
                    errors.push(format!(
                        "check[{i}].paths[{j}]: '{p}' must be absolute (the agent's working directory is not yours)"
                    ));
                }
                match glob::Pattern::new(p) {
                    Ok(pattern) => patterns.push(pattern),
                    Err(e) => errors.push(format!("check[{i}].paths[{j}]: '{p}': {e}")),
                }
            }
            if c.max_age.is_some_and(|a| a.is_zero()) {
                errors.push(format!("check[{i}].max_age: must be above 0"));
            }
            checks.push(Check {
                name: c.name.clone(),
                patterns,
                mode: c.mode,
                min_bytes: c.min_bytes,
                max_age: c.max_age,
            });
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("files: {}", errors.join("; "))));
        }
        Ok(Self {
            checks,
            max_entries: config.max_entries,
            failing: Failing::new("files"),
        })
    }
}

#[async_trait]
impl Probe for FilesProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let checks = self.checks.clone();
        let max = self.max_entries;
        let results = tokio::task::spawn_blocking(move || {
            checks
                .iter()
                .map(|c| scan::scan(&c.patterns, c.mode, c.min_bytes, max))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| ProbeError::Unavailable {
            source_name: "files",
            message: format!("scan task failed: {e}"),
        })?;
        let now_s = ctx.now_ms as f64 / 1000.0;
        let mut emit = Out::new(out, ctx.now_ms);
        for (check, result) in self.checks.iter().zip(results) {
            let label = [("check", check.name.as_str())];
            let source = format!("check {}", check.name);
            let items = match result {
                Ok(items) => {
                    self.failing.recovered(&source);
                    items
                }
                Err(e) => {
                    self.failing.failed(&source, &format!("files_ok 0: {e}"));
                    emit.flag("files_ok", label, false);
                    continue;
                }
            };
            emit.flag("files_ok", label, true);
            emit.push("files_count", label, items.len() as f64);
            emit.push(
                "files_total_bytes",
                label,
                // Summed as integers: an empty f64 sum is -0, which reads oddly.
                items.iter().map(|i| i.bytes).sum::<u64>() as f64,
            );
            let age = |i: &scan::Item| {
                let mtime = i
                    .mtime
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                // A file dated in the future (clock skew, touch -d) is age 0, not negative.
                (now_s - mtime).max(0.0)
            };
            let newest = items.iter().max_by_key(|i| i.mtime);
            let oldest = items.iter().min_by_key(|i| i.mtime);
            if let (Some(newest), Some(oldest)) = (newest, oldest) {
                emit.push("files_newest_age_seconds", label, age(newest));
                emit.push("files_newest_bytes", label, newest.bytes as f64);
                emit.push("files_oldest_age_seconds", label, age(oldest));
            }
            if let Some(max_age) = check.max_age {
                let stale = newest.is_none_or(|n| age(n) > max_age.as_secs_f64());
                emit.flag("files_stale", label, stale);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
