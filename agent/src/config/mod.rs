//! The agent's TOML configuration as written ([`AgentConfig`]), checked into [`Settings`] by
//! [`AgentConfig::settle`] (see `check.rs`) before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod check;
mod locate;
mod tls;

pub use patrol_proto::tls::{Pem, read_pem};

use patrol_probes::ProbeConfig;
use patrol_proto::Labels;
use serde::Deserialize;

/// `patrol-agent --config FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Stable identity of this agent at the collector. Default: the host name.
    pub agent_id: Option<String>,
    /// Value of the `host` label on every sample. Default: the host name.
    pub host: Option<String>,
    /// Static labels added to every sample, e.g. `site = "dc1"`, `role = "db"`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Where and how to reach the collector.
    #[serde(default)]
    pub collector: CollectorSection,
    /// Batching and the in-memory backlog kept while the collector is away.
    #[serde(default)]
    pub batch: BatchSection,
    /// The probes to run, each a `[[probe]]` table selected by `type`.
    #[serde(default, rename = "probe")]
    pub probes: Vec<ProbeSection>,
    /// Directory where probes keep state across restarts (log read positions and the counts
    /// made up to them) and where the spool lives. Default `/var/lib/patrol-agent`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// The disk spool that keeps batches until the collector acknowledges them.
    #[serde(default)]
    pub spool: SpoolSection,
    /// Report the agent's own counters (`patrol_agent_*`: drops, reload failures, spool) as
    /// samples every 10 s. Default `true`.
    #[serde(default = "default_true")]
    pub self_metrics: bool,
    /// `[inventory]`: facts about the host and the devices it polls, sent to the collector
    /// when they change (docs/inventory.md). On by default.
    #[serde(default)]
    pub inventory: patrol_probes::inventory::InventoryConfig,
    /// The text this config was parsed from (set by [`AgentConfig::parse`] and
    /// [`AgentConfig::load`]), so checks can point at `file:line:column`.
    #[serde(skip)]
    pub source_text: Option<Arc<str>>,
}

impl Default for AgentConfig {
    /// The same defaults as an empty file.
    fn default() -> Self {
        Self {
            agent_id: None,
            host: None,
            labels: BTreeMap::new(),
            collector: CollectorSection::default(),
            batch: BatchSection::default(),
            probes: Vec::new(),
            state_dir: None,
            spool: SpoolSection::default(),
            self_metrics: true,
            inventory: Default::default(),
            source_text: None,
        }
    }
}

/// Where probe state lives when `state_dir` is not set.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/patrol-agent";

/// One `[[probe]]` table.
///
/// Probe configs are an internally tagged enum, which serde deserializes from a buffered copy
/// that has lost the file positions. Going through a `toml::Value` first and re-raising the
/// error from here lets toml attach the position of the probe's table again.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSection(pub ProbeConfig);

impl<'de> Deserialize<'de> for ProbeSection {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("?")
            .to_owned();
        ProbeConfig::deserialize(value)
            .map(ProbeSection)
            .map_err(|e| serde::de::Error::custom(format!("probe '{kind}': {}", e.message())))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectorSection {
    /// gRPC address of the collector.
    #[serde(default = "default_address")]
    pub address: String,
    /// File holding the shared token the collector requires (first line used). The file must
    /// not be readable by others.
    pub token_file: Option<PathBuf>,
    /// Give up a connection attempt after this long.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First wait after a failed connection; doubles up to `backoff_max`, with jitter. At
    /// least 10ms.
    #[serde(default = "default_backoff_min", with = "humantime_serde")]
    pub backoff_min: Duration,
    /// Longest wait between two connection attempts.
    #[serde(default = "default_backoff_max", with = "humantime_serde")]
    pub backoff_max: Duration,
    /// `[collector.tls]`: how to verify the collector (and prove who we are) over TLS. Needs
    /// an `https://` address.
    pub tls: Option<ClientTlsSection>,
}

/// `[collector.tls]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientTlsSection {
    /// PEM CA certificate(s) the collector's certificate must be signed by.
    pub ca_file: PathBuf,
    /// PEM certificate chain presented to the collector (mutual TLS). Needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file`. Must not be readable by others.
    pub key_file: Option<PathBuf>,
    /// Name checked against the collector's certificate instead of the address's host.
    pub domain: Option<String>,
}

impl Default for CollectorSection {
    fn default() -> Self {
        Self {
            address: default_address(),
            token_file: None,
            connect_timeout: default_connect_timeout(),
            backoff_min: default_backoff_min(),
            backoff_max: default_backoff_max(),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BatchSection {
    /// Most points in one batch; a larger probe round is split.
    #[serde(default = "default_max_points")]
    pub max_points: usize,
    /// Most points kept unacknowledged in memory. Past it the oldest batches leave memory: with
    /// the spool they are read back from disk later; without it they are dropped and counted
    /// (`patrol_agent_dropped_samples_total{reason="backlog_full"}`).
    #[serde(default = "default_max_pending")]
    pub max_pending_points: usize,
}

impl Default for BatchSection {
    fn default() -> Self {
        Self {
            max_points: default_max_points(),
            max_pending_points: default_max_pending(),
        }
    }
}

/// `[spool]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpoolSection {
    /// Keep every batch on disk until it is acknowledged. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Spool directory; relative paths are under `state_dir`. Default `spool`.
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    /// Most bytes on disk; past it the oldest batches are dropped and counted
    /// (`reason="spool_full"`). At least 1 MiB. Default 256 MiB.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
    /// Batches older than this are dropped and counted (`reason="spool_expired"`). From 1m to
    /// 365d. Default 72h.
    #[serde(default = "default_spool_age", with = "humantime_serde")]
    pub max_age: Duration,
    /// Most samples per second sent while catching up on a backlog (after an outage or a
    /// restart), so a returning agent does not flood the collector. Live rounds are far below
    /// it. Default 20000.
    #[serde(default = "default_catch_up_rate")]
    pub catch_up_rate: f64,
}

impl Default for SpoolSection {
    fn default() -> Self {
        Self {
            enabled: true,
            dir: default_spool_dir(),
            max_bytes: default_spool_bytes(),
            max_age: default_spool_age(),
            catch_up_rate: default_catch_up_rate(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_spool_dir() -> PathBuf {
    PathBuf::from("spool")
}
fn default_spool_bytes() -> u64 {
    256 << 20
}
fn default_spool_age() -> Duration {
    Duration::from_secs(72 * 3600)
}
fn default_catch_up_rate() -> f64 {
    20_000.0
}

fn default_address() -> String {
    "http://127.0.0.1:7070".into()
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_backoff_min() -> Duration {
    Duration::from_millis(500)
}
fn default_backoff_max() -> Duration {
    Duration::from_secs(30)
}
fn default_max_points() -> usize {
    5_000
}
fn default_max_pending() -> usize {
    1_000_000
}

/// A configuration problem, located in its file where possible.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Check { path: String, message: String },
    /// Everything wrong with a file, each problem at its position when known.
    #[error("{}", problems.iter().map(|p| p.display(path)).collect::<Vec<_>>().join("\n"))]
    Problems {
        path: String,
        problems: Vec<Problem>,
    },
}

/// One problem found by the checks, at `line:column` of the file when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl Problem {
    /// `path:line:column: message`, or `path: message` without a position.
    pub fn display(&self, path: &str) -> String {
        match self.at {
            Some((line, column)) => format!("{path}:{line}:{column}: {}", self.message),
            None => format!("{path}: {}", self.message),
        }
    }
}

impl ConfigError {
    /// Each problem as its own line (`file:line:column: message`), for logs.
    pub fn lines(&self) -> Vec<String> {
        match self {
            ConfigError::Problems { path, problems } => {
                problems.iter().map(|p| p.display(path)).collect()
            }
            other => vec![other.to_string()],
        }
    }
}

/// The checked configuration the agent runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub agent_id: String,
    pub host: String,
    /// Static labels plus `host`.
    pub labels: Labels,
    pub collector: CollectorSection,
    pub token: Option<String>,
    /// Set when the address is `https://`: the loaded `[collector.tls]`.
    pub tls: Option<tonic::transport::ClientTlsConfig>,
    pub batch: BatchSection,
    pub probes: Vec<ProbeConfig>,
    /// Where probes keep state across restarts.
    pub state_dir: PathBuf,
    /// The disk spool; `None` when `[spool] enabled = false`.
    pub spool: Option<crate::spool::SpoolSettings>,
    /// The TLS files' bytes as read, so a reload sees a renewed certificate at the same path.
    pub tls_files: Vec<u8>,
    /// Report the agent's own counters as samples.
    pub self_metrics: bool,
    /// What the inventory gathers and how often.
    pub inventory: patrol_probes::inventory::InventoryConfig,
}

impl Settings {
    /// Whether `other` reaches the collector differently (address, credentials, timeouts,
    /// backoff) or introduces the agent differently (host, labels): then the stream must
    /// reconnect to take it.
    pub fn connection_differs(&self, other: &Settings) -> bool {
        self.collector != other.collector
            || self.token != other.token
            || self.tls_files != other.tls_files
            || self.host != other.host
            || self.labels != other.labels
    }
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let display = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: display.clone(),
            source,
        })?;
        Self::parse(&display, &src)
    }

    pub fn parse(path: &str, src: &str) -> Result<Self, ConfigError> {
        let mut cfg: AgentConfig =
            parse_toml(path, src).map_err(|e| locate_probe_error(path, src, e))?;
        cfg.source_text = Some(Arc::from(src));
        Ok(cfg)
    }

    /// Fills defaults from the machine and checks what serde cannot, reporting every problem
    /// at once (at `file:line:column` when the config came from [`Self::parse`] or
    /// [`Self::load`]).
    pub fn settle(self, path: &str) -> Result<Settings, ConfigError> {
        check::settle(self, path)
    }
}

/// toml reports an error inside a `[[probe]]` at the first section of the array (the enum is
/// deserialized from a buffered copy), so find the section that fails and, when serde names
/// the key (`unknown field`), the key itself.
fn locate_probe_error(path: &str, src: &str, err: ConfigError) -> ConfigError {
    let ConfigError::Invalid { message, .. } = &err else {
        return err;
    };
    if !message.starts_with("probe '") {
        return err;
    }
    let Ok(doc) = toml::from_str::<toml::Table>(src) else {
        return err;
    };
    let Some(sections) = doc.get("probe").and_then(toml::Value::as_array) else {
        return err;
    };
    let Some(index) = sections
        .iter()
        .position(|s| ProbeSection::deserialize(s.clone()).is_err())
    else {
        return err;
    };
    let field = if message.contains("unknown variant") || message.contains("missing field `type`") {
        // The probe type itself is wrong (or absent: then the section's own line).
        message.contains("unknown variant").then_some("type")
    } else {
        message
            .split_once("unknown field `")
            .and_then(|(_, rest)| rest.split_once('`'))
            .map(|(name, _)| name)
    };
    let mut at = vec![locate::Step::Key("probe"), locate::Step::Index(index)];
    if let Some(name) = field {
        at.push(locate::Step::Key(name));
    }
    match locate::locate(src, &at) {
        Some((line, column)) => ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: message.clone(),
        },
        None => err,
    }
}

/// Reads and deserializes a TOML config file; errors carry `file:line:column`.
pub fn load_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let display = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: display.clone(),
        source,
    })?;
    parse_toml(&display, &src)
}

/// Deserializes TOML text read from `path`; errors carry `path:line:column`.
pub fn parse_toml<T: serde::de::DeserializeOwned>(path: &str, src: &str) -> Result<T, ConfigError> {
    toml::from_str(src).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(src, s.start)).unwrap_or((1, 1));
        ConfigError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })
}

pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = src.get(..offset).unwrap_or(src);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before
        .get(line_start..)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_in_a_later_probe_section_is_reported_where_it_is() {
        let src = "[[probe]]\ntype = \"host\"\n\n[[probe]]\ntype = \"dir\"\npath = \"/x\"\nmax_sise = 1\n\n[[probe]]\ntype = \"host\"\n";
        let Err(ConfigError::Invalid { line, message, .. }) = AgentConfig::parse("agent.toml", src)
        else {
            panic!("a misspelt key is refused");
        };
        assert_eq!(line, 7, "{message}");
        assert!(message.contains("unknown field `max_sise`"), "{message}");
        // An unknown probe type: at its `type`.
        let src = "[[probe]]\ntype = \"host\"\n\n[[probe]]\ntype = \"nope\"\n";
        let Err(ConfigError::Invalid { line, .. }) = AgentConfig::parse("agent.toml", src) else {
            panic!("an unknown type is refused");
        };
        assert_eq!(line, 5);
        // A section that fails without naming a key: its own header.
        let src = "[[probe]]\ntype = \"host\"\n\n[[probe]]\ninterval = \"10s\"\n";
        let Err(ConfigError::Invalid { line, .. }) = AgentConfig::parse("agent.toml", src) else {
            panic!("a section without a type is refused");
        };
        assert_eq!(line, 4);
    }

    #[test]
    fn full_config_parses() {
        let cfg = AgentConfig::parse(
            "agent.toml",
            r#"
agent_id = "db01"
[labels]
site = "dc1"
[collector]
address = "http://10.0.0.1:7070"
backoff_max = "1m"
[[probe]]
type = "host"
interval = "1s"
"#,
        )
        .unwrap();
        let s = cfg.settle("agent.toml").unwrap();
        assert_eq!(s.agent_id, "db01");
        assert_eq!(s.labels.get("site"), Some("dc1"));
        assert_eq!(s.labels.get("host"), Some(s.host.as_str()));
        assert_eq!(s.collector.backoff_max, Duration::from_secs(60));
        assert_eq!(s.probes.len(), 1);
    }

    #[test]
    fn inventory_problems_are_located() {
        let src = "[inventory]\ninterval = \"10s\"\noracle_homes = [\"/u01/db\", \"db2\"]\n";
        let cfg = AgentConfig::parse("agent.toml", src).unwrap();
        let err = cfg.settle("agent.toml").unwrap_err().to_string();
        assert!(
            err.contains("agent.toml:2:12: [inventory] interval 10s is too short"),
            "{err}"
        );
        assert!(
            err.contains(
                "agent.toml:3:28: [inventory] oracle_homes[1] \"db2\" must be an absolute path"
            ),
            "{err}"
        );
        let s = AgentConfig::parse("agent.toml", "")
            .unwrap()
            .settle("agent.toml")
            .unwrap();
        assert!(s.inventory.enabled, "on by default");
        assert_eq!(s.inventory.interval, Duration::from_secs(3600));
    }

    #[test]
    fn unknown_key_is_located() {
        let err = AgentConfig::parse("agent.toml", "[collector]\naddres = \"x\"\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("agent.toml:2:1: unknown field `addres`"),
            "{text}"
        );
    }

    #[test]
    fn bad_duration_is_located() {
        let err = AgentConfig::parse(
            "agent.toml",
            "agent_id = \"a\"\n\n[[probe]]\ntype = \"host\"\ninterval = \"10 parsecs\"\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("agent.toml:3:1: probe 'host': interval: invalid value"),
            "{text}"
        );
    }

    #[test]
    fn host_label_is_reserved() {
        let cfg = AgentConfig::parse("a.toml", "[labels]\nhost = \"x\"\n").unwrap();
        let err = cfg.settle("a.toml").unwrap_err().to_string();
        assert!(err.contains("label 'host' is set by the agent"), "{err}");
    }

    #[test]
    fn every_absurd_value_is_refused_at_its_position() {
        let src = "agent_id = \"a\"\n[collector]\nbackoff_min = \"0s\"\n\n[spool]\nmax_bytes = 10\n\n\
                   [[probe]]\ntype = \"host\"\ninterval = \"1ns\"\n\n[[probe]]\ntype = \"host\"\ninterval = \"2days\"\n";
        let err = AgentConfig::parse("agent.toml", src)
            .unwrap()
            .settle("agent.toml")
            .unwrap_err();
        let lines = err.lines();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(
            lines[0].starts_with("agent.toml:3:15: [collector] backoff_min 0s would retry"),
            "{lines:#?}"
        );
        assert!(
            lines[1].starts_with(
                "agent.toml:10:12: probe 'host' interval 1ns is too short: give it at least 100ms"
            ),
            "{lines:#?}"
        );
        assert!(
            lines[2].starts_with("agent.toml:14:12: probe 'host' interval 2days is too long"),
            "{lines:#?}"
        );
        assert!(
            lines[3].starts_with("agent.toml:6:13: [spool] max_bytes 10 is too small"),
            "{lines:#?}"
        );
        assert_eq!(err.to_string(), lines.join("\n"));
    }

    #[test]
    fn spool_is_on_by_default_under_state_dir() {
        let s = AgentConfig::parse("a.toml", "state_dir = \"/x/state\"\n")
            .unwrap()
            .settle("a.toml")
            .unwrap();
        let spool = s.spool.unwrap();
        assert_eq!(spool.dir, PathBuf::from("/x/state/spool"));
        assert_eq!(spool.limits.max_bytes, 256 << 20);
        let off = AgentConfig::parse("a.toml", "[spool]\nenabled = false\n")
            .unwrap()
            .settle("a.toml")
            .unwrap();
        assert!(off.spool.is_none());
    }

    #[test]
    fn a_config_built_in_code_reports_without_a_position() {
        let mut cfg = AgentConfig::default();
        cfg.collector.backoff_min = Duration::ZERO;
        let err = cfg.settle("local agent").unwrap_err().to_string();
        assert!(
            err.starts_with("local agent: [collector] backoff_min 0s"),
            "{err}"
        );
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncdé f", 8), (2, 5));
    }
}
