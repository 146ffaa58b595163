//! WebLogic probe (`type = "weblogic"`): for each configured server, the space its log
//! directory takes and what its server log says. Metrics are listed in `README.md` beside
//! this file; `sample.toml` shows every option. Operator guide: `docs/weblogic.md`.
//!
//! Emits, per server (`server` label): `weblogic_log_used_percent{basis}`,
//! `weblogic_log_used_bytes`, `weblogic_log_ok`, `weblogic_messages_total{severity}`,
//! `weblogic_stuck_threads`, `weblogic_stuck_threads_total`, `weblogic_out_of_memory`,
//! `weblogic_out_of_memory_total`, `weblogic_message_id_count{msgid}` (top N of the
//! interval), `weblogic_log_unparsed_total` and the tailer's `weblogic_log_rotations_total`,
//! `weblogic_log_truncations_total`, `weblogic_log_oversized_records_total`,
//! `weblogic_log_lost_files_total`, `weblogic_log_state_errors_total`.
//!
//! The log is read with [`crate::tail`]; reading and the directory walk run on blocking
//! threads, and the counts live behind a mutex so a round cut short by the agent's timeout
//! loses nothing: the blocking work finishes and the next round reports it.

mod counts;
pub mod parse;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use serde::Deserialize;

use crate::sample_out::interval_duration;
use crate::tail::counted::{CountedLog, SharedLog, lock, poll_blocking, stats_samples};
use crate::tail::{StartAt, TailSpec, state};
use crate::{BuildContext, CollectContext, DEFAULT_INTERVAL, Probe, ProbeError, dir};
pub use counts::WeblogicCounts;

/// Configuration of one `[[probe]] type = "weblogic"` section: shared options and one
/// `[[probe.server]]` table per managed or admin server.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeblogicConfig {
    /// How often logs are read and directories measured. Default `"10s"`. The STUCK-thread
    /// and out-of-memory gauges count what was logged during this interval.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The domain directory; a server's `log_dir` defaults to
    /// `<domain_home>/servers/<name>/logs`.
    #[serde(default)]
    pub domain_home: Option<PathBuf>,
    /// The servers whose logs are watched.
    #[serde(rename = "server")]
    pub servers: Vec<ServerConfig>,
    /// How many message ids `weblogic_message_id_count` reports per server: the most
    /// frequent of the interval. Default 10, at most 100.
    #[serde(default = "default_top")]
    pub top_message_ids: usize,
    /// Longest record (message with its stack trace) kept, in bytes; the rest is skipped and
    /// counted in `weblogic_log_oversized_records_total`. Default 262144 (256 KiB).
    #[serde(default = "default_max_record")]
    pub max_record_bytes: usize,
    /// Most bytes of log read per server and round; a backlog beyond it is read over the
    /// next rounds. Default 67108864 (64 MiB).
    #[serde(default = "default_max_read")]
    pub max_read_bytes: u64,
    /// Where to start in a log met for the first time (no saved position): `"end"` (default,
    /// only what is written from now on) or `"beginning"`.
    #[serde(default)]
    pub start_at: StartAt,
    /// Most entries walked when measuring a log directory. Default 100000.
    #[serde(default = "default_max_entries")]
    pub max_dir_entries: u64,
}

/// One `[[probe.server]]` table.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The server's name (`AdminServer`, `ms1`): the `server` label.
    pub name: String,
    /// Its log directory. Default `<domain_home>/servers/<name>/logs`.
    #[serde(default)]
    pub log_dir: Option<PathBuf>,
    /// The server log being written, in `log_dir`. Default `<name>.log`. The server's stdout
    /// file (`<name>.out`, no `####` prefix) is read as well; watch one of the two, not both
    /// (messages on stdout are in the server log too).
    #[serde(default)]
    pub file: Option<String>,
    /// Names of its rotated files in `log_dir` (`*`, `?`, `[...]` wildcards). Default
    /// `<file>?*`, which matches WebLogic's `<name>.log00001` ...
    #[serde(default)]
    pub rotated: Option<String>,
    /// Space allowed for `log_dir`, in bytes. Set: `weblogic_log_used_percent` is the
    /// directory's size ÷ this (`basis="quota"`). Unset: it is the Use% of the filesystem
    /// holding the directory (`basis="filesystem"`).
    #[serde(default)]
    pub quota_bytes: Option<u64>,
}

fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_top() -> usize {
    10
}
fn default_max_record() -> usize {
    256 * 1024
}
fn default_max_read() -> u64 {
    64 * 1024 * 1024
}
fn default_max_entries() -> u64 {
    100_000
}

/// One watched server, with its log behind a mutex shared with the blocking reader.
#[derive(Debug)]
struct Server {
    labels: Labels,
    log_dir: PathBuf,
    quota: Option<u64>,
    log: SharedLog<WeblogicCounts>,
    /// Whether the last round failed, so each failure is logged once.
    failing: bool,
}

/// The running WebLogic probe.
#[derive(Debug)]
pub struct WeblogicProbe {
    servers: Vec<Server>,
    top_message_ids: usize,
    max_read_bytes: u64,
    max_dir_entries: u64,
}

impl WeblogicConfig {
    /// Checks every field and reports all problems at once, each naming its field.
    fn specs(&self) -> Result<Vec<(ServerConfig, TailSpec)>, ProbeError> {
        let mut errors = Vec::new();
        if self.servers.is_empty() {
            errors.push("server: list at least one [[probe.server]]".to_owned());
        }
        if self.top_message_ids > 100 {
            errors.push("top_message_ids: at most 100".to_owned());
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.max_record_bytes) {
            errors.push("max_record_bytes: between 1024 and 16777216".to_owned());
        }
        if self.max_read_bytes < 65536 {
            errors.push("max_read_bytes: at least 65536".to_owned());
        }
        if self.max_dir_entries == 0 {
            errors.push("max_dir_entries: must be greater than 0".to_owned());
        }
        let mut specs = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            let at = format!("server[{i}]");
            if s.name.trim().is_empty() {
                errors.push(format!("{at}.name: must not be empty"));
                continue;
            }
            if self.servers[..i].iter().any(|o| o.name == s.name) {
                errors.push(format!("{at}.name: server '{}' is listed twice", s.name));
            }
            if let Err(e) = dir::check_quota(&format!("{at}.quota_bytes"), s.quota_bytes) {
                errors.push(e);
            }
            let log_dir = match (&s.log_dir, &self.domain_home) {
                (Some(d), _) => d.clone(),
                (None, Some(home)) => home.join("servers").join(&s.name).join("logs"),
                (None, None) => {
                    errors.push(format!("{at}.log_dir: set it, or set domain_home"));
                    continue;
                }
            };
            let file = s.file.clone().unwrap_or_else(|| format!("{}.log", s.name));
            if file.is_empty() || file.contains('/') {
                errors.push(format!("{at}.file: a file name in log_dir, without '/'"));
                continue;
            }
            let rotated_text = s
                .rotated
                .clone()
                .unwrap_or_else(|| format!("{}?*", glob::Pattern::escape(&file)));
            let rotated = match glob::Pattern::new(&rotated_text) {
                Ok(p) => p,
                Err(e) => {
                    errors.push(format!("{at}.rotated: {e}"));
                    continue;
                }
            };
            let spec = TailSpec {
                dir: log_dir.clone(),
                active: file,
                rotated: Some(rotated),
                record_start: parse::record_start(),
                max_record_bytes: self.max_record_bytes,
                start_at: self.start_at,
            };
            let mut server = s.clone();
            server.log_dir = Some(log_dir);
            specs.push((server, spec));
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!(
                "weblogic: {}",
                errors.join("; ")
            )));
        }
        Ok(specs)
    }
}

impl WeblogicProbe {
    pub fn new(config: &WeblogicConfig, ctx: &BuildContext) -> Result<Self, ProbeError> {
        let servers = config
            .specs()?
            .into_iter()
            .map(|(server, spec)| {
                let log_dir = spec.dir.clone();
                let name = state::file_name(
                    "weblogic",
                    &[&server.name, &log_dir.to_string_lossy(), &spec.active],
                );
                let path = ctx.state_dir.join(name);
                Server {
                    labels: Labels::from_pairs([("server", server.name.as_str())]),
                    log_dir,
                    quota: server.quota_bytes,
                    log: Arc::new(Mutex::new(CountedLog::open(spec, path, ctx.persist_state))),
                    failing: false,
                }
            })
            .collect();
        Ok(Self {
            servers,
            top_message_ids: config.top_message_ids,
            max_read_bytes: config.max_read_bytes,
            max_dir_entries: config.max_dir_entries,
        })
    }
}

#[async_trait]
impl Probe for WeblogicProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let now = ctx.now_ms;
        for server in &mut self.servers {
            let polled = poll_blocking(&server.log, self.max_read_bytes).await;
            let measured =
                dir::measure(server.log_dir.clone(), server.quota, self.max_dir_entries).await;
            let labels = &server.labels;
            let push = |out: &mut Vec<Sample>, name: &str, labels: Labels, value: f64| {
                out.push(Sample::new(name, labels, value, now));
            };
            if let Ok(m) = &measured {
                let mut with_basis = labels.clone();
                with_basis.insert("basis", m.basis.label());
                push(out, "weblogic_log_used_percent", with_basis, m.percent);
                push(
                    out,
                    "weblogic_log_used_bytes",
                    labels.clone(),
                    m.usage.used_bytes as f64,
                );
            }
            let problem = match (&polled, &measured) {
                (Err(e), _) | (_, Err(e)) => Some(e.clone()),
                _ => None,
            };
            push(
                out,
                "weblogic_log_ok",
                labels.clone(),
                if problem.is_none() { 1.0 } else { 0.0 },
            );
            match problem {
                Some(e) if !server.failing => {
                    server.failing = true;
                    tracing::warn!(probe = "weblogic", server = labels.get("server"), error = %e,
                        "cannot read the server's log directory; weblogic_log_ok is 0 until it recovers");
                }
                None if server.failing => {
                    server.failing = false;
                    tracing::info!(
                        probe = "weblogic",
                        server = labels.get("server"),
                        "log readable again"
                    );
                }
                _ => {}
            }
            let mut log = lock(&server.log);
            let (stats, save_failures) = (log.stats(), log.save_failures);
            let counts = log.counts_mut();
            let interval = counts.take_interval();
            for (severity, n) in counts.by_severity() {
                let mut l = labels.clone();
                l.insert("severity", severity.label());
                push(out, "weblogic_messages_total", l, n as f64);
            }
            push(
                out,
                "weblogic_stuck_threads",
                labels.clone(),
                interval.stuck_threads as f64,
            );
            push(
                out,
                "weblogic_stuck_threads_total",
                labels.clone(),
                counts.stuck_threads as f64,
            );
            push(
                out,
                "weblogic_out_of_memory",
                labels.clone(),
                interval.out_of_memory as f64,
            );
            push(
                out,
                "weblogic_out_of_memory_total",
                labels.clone(),
                counts.out_of_memory as f64,
            );
            push(
                out,
                "weblogic_log_unparsed_total",
                labels.clone(),
                counts.unparsed as f64,
            );
            for (msgid, n) in interval.top_ids(self.top_message_ids) {
                let mut l = labels.clone();
                l.insert("msgid", msgid);
                push(out, "weblogic_message_id_count", l, n as f64);
            }
            stats_samples("weblogic_log", labels, stats, save_failures, now, out);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
