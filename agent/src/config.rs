//! The agent's TOML configuration, checked into [`AgentConfig`] before anything runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use patrol_probes::ProbeConfig;
use patrol_proto::Labels;
use serde::Deserialize;

/// `patrol-agent --config FILE`.
#[derive(Debug, Clone, Deserialize, Default)]
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
    /// made up to them). Default `/var/lib/patrol-agent`.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
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

#[derive(Debug, Clone, Deserialize)]
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
    /// First wait after a failed connection; doubles up to `backoff_max`, with jitter.
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSection {
    /// Most points in one batch; a larger probe round is split.
    #[serde(default = "default_max_points")]
    pub max_points: usize,
    /// Most points kept unacknowledged while the collector is away. Past it the oldest batches
    /// are dropped and counted (`patrol_agent_dropped_samples_total`).
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
}

impl AgentConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        load_toml(path)
    }

    pub fn parse(path: &str, src: &str) -> Result<Self, ConfigError> {
        parse_toml(path, src)
    }

    /// Fills defaults from the machine and checks what serde cannot.
    pub fn settle(self, path: &str) -> Result<Settings, ConfigError> {
        let check = |message: String| ConfigError::Check {
            path: path.to_owned(),
            message,
        };
        let hostname = hostname::get()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".into());
        let host = self.host.unwrap_or_else(|| hostname.clone());
        let agent_id = self.agent_id.unwrap_or_else(|| host.clone());
        if agent_id.is_empty() || host.is_empty() {
            return Err(check("'agent_id' and 'host' must not be empty".into()));
        }
        let mut labels = Labels::new();
        for (name, value) in &self.labels {
            if !valid_label_name(name) {
                return Err(check(format!(
                    "label name '{name}' is not valid: use letters, digits and '_', not starting with a digit"
                )));
            }
            if name == "host" {
                return Err(check(
                    "label 'host' is set by the agent: use the top-level 'host' key instead".into(),
                ));
            }
            labels.insert(name.as_str(), value.as_str());
        }
        labels.insert("host", host.as_str());
        if self.batch.max_points == 0 || self.batch.max_pending_points < self.batch.max_points {
            return Err(check(
                "[batch] needs max_points > 0 and max_pending_points >= max_points".into(),
            ));
        }
        for ProbeSection(p) in &self.probes {
            if p.interval().is_zero() {
                return Err(check(format!(
                    "probe '{}' has interval 0: give it a positive interval",
                    p.kind()
                )));
            }
        }
        let token = match &self.collector.token_file {
            Some(f) => Some(read_token(f).map_err(check)?),
            None => None,
        };
        let tls = client_tls(&self.collector).map_err(check)?;
        Ok(Settings {
            agent_id,
            host,
            labels,
            collector: self.collector,
            token,
            tls,
            batch: self.batch,
            probes: self.probes.into_iter().map(|p| p.0).collect(),
            state_dir: self
                .state_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
        })
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

fn read_token(path: &Path) -> Result<String, String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            std::fs::metadata(path).map_err(|e| format!("token_file {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "token_file {} is readable by everyone: chmod o-r it",
                path.display()
            ));
        }
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("token_file {}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.is_empty() {
        return Err(format!("token_file {} is empty", path.display()));
    }
    Ok(token)
}

/// Checks the address's scheme against `[collector.tls]` and loads its files.
fn client_tls(
    collector: &CollectorSection,
) -> Result<Option<tonic::transport::ClientTlsConfig>, String> {
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let address = collector.address.trim();
    let https = address
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    let Some(tls) = &collector.tls else {
        if https {
            return Err(format!(
                "collector.address {address} is https: set ca_file in [collector.tls] to verify the collector"
            ));
        }
        return Ok(None);
    };
    if !https {
        return Err(format!(
            "[collector.tls] is set but collector.address {address} is not https://: use https://"
        ));
    }
    let ca = read_pem("collector.tls.ca_file", &tls.ca_file, Pem::Certificate)?;
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let cert = read_pem("collector.tls.cert_file", cert_file, Pem::Certificate)?;
            let key = read_pem("collector.tls.key_file", key_file, Pem::PrivateKey)?;
            config = config.identity(Identity::from_pem(cert, key));
        }
        (None, None) => {}
        _ => {
            return Err(
                "[collector.tls] needs both cert_file and key_file for a client certificate, or neither"
                    .into(),
            );
        }
    }
    if let Some(domain) = &tls.domain {
        config = config.domain_name(domain.clone());
    }
    Ok(Some(config))
}

/// What a PEM file must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pem {
    /// One or more `CERTIFICATE` blocks.
    Certificate,
    /// A PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key; the file must not be readable by
    /// others.
    PrivateKey,
}

/// Reads a PEM file for config key `key` and checks it holds what `kind` asks for. Errors name
/// the key and the file: `tls.cert_file /x: no PEM certificate found`.
pub fn read_pem(key: &str, path: &Path, kind: Pem) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if kind == Pem::PrivateKey && meta.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "{key} {shown} is readable by everyone: chmod o-r it"
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let pem = std::fs::read(path).map_err(|e| format!("{key} {shown}: cannot read: {e}"))?;
    let (wanted, what): (fn(&str) -> bool, &str) = match kind {
        Pem::Certificate => (|l| l == "CERTIFICATE", "certificate"),
        Pem::PrivateKey => (
            |l| matches!(l, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY"),
            "private key (PKCS#8, RSA or EC, unencrypted)",
        ),
    };
    let found = String::from_utf8_lossy(&pem).lines().any(|l| {
        l.trim()
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .is_some_and(wanted)
    });
    if !found {
        return Err(format!("{key} {shown}: no PEM {what} found"));
    }
    Ok(pem)
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
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncdé f", 8), (2, 5));
    }
}
