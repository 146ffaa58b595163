//! The collector's TOML configuration and command-line overrides, checked into [`Settings`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use patrol_agent::AgentConfig;
use serde::Deserialize;

pub use crate::auth::{Auth, AuthSection};
pub use crate::tls::TlsSection;

/// `patrol-collector --config FILE`. Every key is optional; command-line flags win.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// gRPC listen address (agents, `patrolctl`). Default `127.0.0.1:7070`.
    pub listen: Option<SocketAddr>,
    /// HTTP listen address (`/metrics`, `/healthz`). Default `127.0.0.1:7071`.
    pub http: Option<SocketAddr>,
    /// Directory of rule files (`*.toml`). Default `/etc/patrol/rules`.
    pub rules: Option<PathBuf>,
    /// Directory for the incident database. Default `/var/lib/patrol`.
    pub data: Option<PathBuf>,
    /// Site file: levels, calendars, escalation, maintenance (docs/noc.md). Unset: the built-in
    /// P1–P4 on the 7×24 calendar. Keep it outside the rules directory.
    pub site: Option<PathBuf>,
    /// File holding a token every agent may present (first line; not readable by others): a
    /// credential shared by all agents. `[[auth.agent]]` gives each agent its own instead.
    /// Unset, with no `[auth]`: agents are not asked for a credential.
    pub token_file: Option<PathBuf>,
    /// Largest batch accepted from an agent, in points.
    pub max_batch_points: Option<u32>,
    /// How long an agent may send nothing before it counts as silent (`patrol_agent_up` 0,
    /// shipped rule `agent_silent`). Must exceed the longest probe interval. Default 2m.
    #[serde(default, with = "humantime_serde")]
    pub agent_silence: Option<std::time::Duration>,
    /// Run an agent for this host inside the collector.
    #[serde(default)]
    pub local_agent: bool,
    /// Configuration of the local agent (same keys as the agent's file). Default: the host
    /// probe every 10 s.
    pub agent: Option<AgentConfig>,
    /// `[tls]`: serve gRPC over TLS (mutual TLS with `client_ca_file`). Unset: plaintext.
    pub tls: Option<TlsSection>,
    /// `[auth]`: agents' and operators' identities and roles (docs/security.md). Unset: only
    /// loopback callers may use the API, as one shared identity.
    pub auth: Option<AuthSection>,
    /// A series that has sent nothing for this long is no longer presented as current
    /// (`/metrics`, `patrolctl query`, instant queries). Default 5m, Prometheus' lookback.
    #[serde(default, with = "humantime_serde")]
    pub stale_after: Option<std::time::Duration>,
    /// `[history]`: sample history, its retention, disk cap and remote-write (docs/history.md).
    pub history: Option<patrol_history::HistoryConfig>,
    /// `[limits]`: series per agent and in all, new series per minute, labels (docs/operations.md).
    pub limits: Option<crate::limits::LimitsSection>,
    /// `[connections]`: the connection budget, hello deadline and watchers (docs/operations.md).
    pub connections: Option<crate::conn::ConnectionsSection>,
}

/// Checked settings the collector runs on.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub http: SocketAddr,
    pub rules: PathBuf,
    pub data: PathBuf,
    /// The site file, if any.
    pub site: Option<PathBuf>,
    pub token: Option<String>,
    pub max_batch_points: u32,
    pub local_agent: Option<AgentConfig>,
    /// TLS on the gRPC listener; its files are read and checked by `server::start`.
    pub tls: Option<TlsSection>,
    /// Identities and roles; the default is no `[auth]`.
    pub auth: Auth,
    /// How long an agent may send nothing before `patrol_agent_up` turns 0.
    pub agent_silence: std::time::Duration,
    /// How long a series may send nothing before it is no longer shown as current.
    pub stale_after: std::time::Duration,
    /// Sample history (kept in `data/history`).
    pub history: patrol_history::HistoryConfig,
    pub limits: crate::limits::Limits,
    pub connections: crate::conn::Connections,
}

impl Default for Settings {
    /// The documented defaults: loopback ports 7070/7071, `/etc/patrol/rules`,
    /// `/var/lib/patrol`, no token, no local agent, no TLS.
    fn default() -> Self {
        Self {
            listen: ([127, 0, 0, 1], 7070).into(),
            http: ([127, 0, 0, 1], 7071).into(),
            rules: "/etc/patrol/rules".into(),
            data: "/var/lib/patrol".into(),
            site: None,
            token: None,
            max_batch_points: DEFAULT_MAX_BATCH_POINTS,
            local_agent: None,
            tls: None,
            auth: Auth::default(),
            agent_silence: crate::core::DEFAULT_AGENT_SILENCE,
            stale_after: DEFAULT_STALE_AFTER,
            history: patrol_history::HistoryConfig::default(),
            limits: Default::default(),
            connections: Default::default(),
        }
    }
}

/// Default for `stale_after`: Prometheus' lookback delta.
pub const DEFAULT_STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(300);

pub const DEFAULT_MAX_BATCH_POINTS: u32 = 50_000;

pub use patrol_agent::config::ConfigError;

impl CollectorConfig {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        patrol_agent::config::load_toml(path)
    }

    /// Checks the configuration and reads its secret files; `origin` (the file, or "command
    /// line") starts every error.
    pub fn settle(self, origin: &str) -> Result<Settings, ConfigError> {
        let check = |message: String| ConfigError::Check {
            path: origin.to_owned(),
            message,
        };
        let token = match &self.token_file {
            Some(p) => Some(patrol_proto::secret::read_first_line("token_file", p).map_err(check)?),
            None => None,
        };
        let auth = match self.auth {
            Some(section) => section
                .settle(token.clone())
                .map_err(|errors| check(errors.join(&format!("\n{origin}: "))))?,
            None => Auth {
                shared_agent_token: token.clone(),
                ..Auth::default()
            },
        };
        let limits = self.limits.unwrap_or_default().settle().map_err(check)?;
        let connections = self
            .connections
            .unwrap_or_default()
            .settle()
            .map_err(check)?;
        let agent_silence = self
            .agent_silence
            .unwrap_or(crate::core::DEFAULT_AGENT_SILENCE);
        if agent_silence < std::time::Duration::from_secs(1) {
            return Err(check(format!(
                "agent_silence {} would call every agent silent between two batches: give it \
                 more than the longest probe interval (default 2m)",
                humantime_serde::re::humantime::format_duration(agent_silence)
            )));
        }
        if self.max_batch_points == Some(0) {
            return Err(check(
                "max_batch_points 0 would refuse every batch: leave it out (default 50000)".into(),
            ));
        }
        let history = self.history.unwrap_or_default();
        let problems = history.check();
        if !problems.is_empty() {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(check(text.join("; ")));
        }
        let stale_after = self.stale_after.unwrap_or(DEFAULT_STALE_AFTER);
        if stale_after < std::time::Duration::from_secs(1) {
            return Err(check("stale_after must be at least 1s".into()));
        }
        let local_agent = if self.local_agent {
            Some(self.agent.unwrap_or_else(default_local_agent))
        } else {
            None
        };
        Ok(Settings {
            listen: self.listen.unwrap_or(([127, 0, 0, 1], 7070).into()),
            http: self.http.unwrap_or(([127, 0, 0, 1], 7071).into()),
            rules: self.rules.unwrap_or_else(|| "/etc/patrol/rules".into()),
            data: self.data.unwrap_or_else(|| "/var/lib/patrol".into()),
            site: self.site,
            token,
            max_batch_points: self.max_batch_points.unwrap_or(DEFAULT_MAX_BATCH_POINTS),
            local_agent,
            tls: self.tls,
            auth,
            agent_silence,
            stale_after,
            history,
            limits,
            connections,
        })
    }
}

/// The host probe at its default interval.
pub fn default_local_agent() -> AgentConfig {
    // Parsing the literal keeps the defaults in one place: the probe's own config struct.
    toml::from_str("[[probe]]\ntype = \"host\"\n").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "listen = \"127.0.0.1:1\"\nrule = \"x\"\n").unwrap();
        let err = CollectorConfig::load(&p).unwrap_err().to_string();
        assert!(err.ends_with("c.toml:2:1: unknown field `rule`, expected one of `listen`, `http`, `rules`, `data`, `site`, `token_file`, `max_batch_points`, `agent_silence`, `local_agent`, `agent`, `tls`, `auth`, `stale_after`, `history`, `limits`, `connections`"), "{err}");
    }

    #[test]
    fn the_packaged_config_loads_and_settles() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/config/collector.toml");
        let s = CollectorConfig::load(&p)
            .unwrap()
            .settle("collector.toml")
            .unwrap();
        assert_eq!(s.limits, crate::limits::Limits::default());
        assert_eq!(s.connections, crate::conn::Connections::default());
        assert!(s.auth.configured);
        assert_eq!(
            s.auth.operator_socket.as_deref(),
            Some(Path::new("/run/patrol/ctl.sock"))
        );
    }

    #[test]
    fn default_local_agent_has_the_host_probe() {
        assert_eq!(default_local_agent().probes.len(), 1);
    }
}
