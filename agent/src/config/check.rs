//! Turns the config as written into [`Settings`]: fills defaults from the machine and checks
//! what serde cannot (empty names, ranges, keys that must agree), collecting every problem
//! before reporting, each at its `file:line:column`.

use std::path::PathBuf;
use std::time::Duration;

use patrol_proto::Labels;

use super::locate::{Step, locate};
use super::{
    AgentConfig, ConfigError, DEFAULT_STATE_DIR, ProbeSection, Problem, Settings, tls,
    valid_label_name,
};
use crate::spool::{Limits, SpoolSettings};

/// Shortest probe interval: below it a probe would mostly measure itself.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);
/// Longest probe interval: a probe that runs less than daily is no monitoring.
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// Shortest reconnect backoff: a zero backoff retries in a tight loop against a dead collector.
pub const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(300);
const MIN_SPOOL_BYTES: u64 = 1 << 20;
const MIN_SPOOL_AGE: Duration = Duration::from_secs(60);
const MAX_SPOOL_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Problems found so far, located in the file's text when there is one.
struct Found<'a> {
    src: Option<&'a str>,
    problems: Vec<Problem>,
}

impl Found<'_> {
    fn at(&mut self, path: &[Step<'_>], message: String) {
        let at = self.src.and_then(|s| locate(s, path));
        self.problems.push(Problem { at, message });
    }
}

fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

pub(super) fn settle(cfg: AgentConfig, path: &str) -> Result<Settings, ConfigError> {
    let source = cfg.source_text.clone();
    let mut found = Found {
        src: source.as_deref(),
        problems: Vec::new(),
    };
    let hostname = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into());
    let host = cfg.host.clone().unwrap_or_else(|| hostname.clone());
    let agent_id = cfg.agent_id.clone().unwrap_or_else(|| host.clone());
    if host.is_empty() {
        found.at(&[Step::Key("host")], "'host' must not be empty".into());
    }
    if agent_id.is_empty() {
        found.at(
            &[Step::Key("agent_id")],
            "'agent_id' must not be empty".into(),
        );
    }
    let mut labels = Labels::new();
    for (name, value) in &cfg.labels {
        let at = [Step::Key("labels"), Step::Key(name)];
        if !valid_label_name(name) {
            found.at(&at, format!(
                "label name '{name}' is not valid: use letters, digits and '_', not starting with a digit"
            ));
        } else if name == "host" {
            found.at(
                &at,
                "label 'host' is set by the agent: use the top-level 'host' key instead".into(),
            );
        } else {
            labels.insert(name.as_str(), value.as_str());
        }
    }
    labels.insert("host", host.as_str());
    check_collector(&cfg, &mut found);
    if cfg.batch.max_points == 0 {
        found.at(
            &[Step::Key("batch"), Step::Key("max_points")],
            "[batch] max_points must be at least 1".into(),
        );
    } else if cfg.batch.max_pending_points < cfg.batch.max_points {
        found.at(
            &[Step::Key("batch"), Step::Key("max_pending_points")],
            format!(
                "[batch] max_pending_points ({}) must be at least max_points ({})",
                cfg.batch.max_pending_points, cfg.batch.max_points
            ),
        );
    }
    for (i, ProbeSection(p)) in cfg.probes.iter().enumerate() {
        let at = [Step::Key("probe"), Step::Index(i), Step::Key("interval")];
        let interval = p.interval();
        if interval < MIN_INTERVAL {
            found.at(
                &at,
                format!(
                    "probe '{}' interval {} is too short: give it at least {}",
                    p.kind(),
                    human(interval),
                    human(MIN_INTERVAL)
                ),
            );
        } else if interval > MAX_INTERVAL {
            found.at(
                &at,
                format!(
                    "probe '{}' interval {} is too long: give it at most {}",
                    p.kind(),
                    human(interval),
                    human(MAX_INTERVAL)
                ),
            );
        }
    }
    for problem in cfg.inventory.problems() {
        let mut at = vec![Step::Key("inventory"), Step::Key(problem.field)];
        at.extend(problem.index.map(Step::Index));
        found.at(&at, problem.message);
    }
    let state_dir = cfg
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
    let spool = check_spool(&cfg, &state_dir, &mut found);
    let token = match &cfg.collector.token_file {
        Some(f) => match tls::read_token(f) {
            Ok(t) => Some(t),
            Err(message) => {
                found.at(&[Step::Key("collector"), Step::Key("token_file")], message);
                None
            }
        },
        None => None,
    };
    let (tls, tls_files) = match tls::client_tls(&cfg.collector) {
        Ok(t) => t,
        Err(message) => {
            let key = if cfg.collector.tls.is_some() {
                "tls"
            } else {
                "address"
            };
            found.at(&[Step::Key("collector"), Step::Key(key)], message);
            (None, Vec::new())
        }
    };
    if !found.problems.is_empty() {
        return Err(ConfigError::Problems {
            path: path.to_owned(),
            problems: found.problems,
        });
    }
    Ok(Settings {
        agent_id,
        host,
        labels,
        collector: cfg.collector,
        token,
        tls,
        batch: cfg.batch,
        probes: cfg.probes.into_iter().map(|p| p.0).collect(),
        state_dir,
        spool,
        tls_files,
        self_metrics: cfg.self_metrics,
        inventory: cfg.inventory,
    })
}

fn check_collector(cfg: &AgentConfig, found: &mut Found<'_>) {
    let c = &cfg.collector;
    let at = |key| [Step::Key("collector"), Step::Key(key)];
    if c.connect_timeout.is_zero() || c.connect_timeout > MAX_CONNECT_TIMEOUT {
        found.at(
            &at("connect_timeout"),
            format!(
                "[collector] connect_timeout {} is out of range: give it between 1ms and {}",
                human(c.connect_timeout),
                human(MAX_CONNECT_TIMEOUT)
            ),
        );
    }
    if c.backoff_min < MIN_BACKOFF {
        found.at(&at("backoff_min"), format!(
            "[collector] backoff_min {} would retry a lost collector in a tight loop: give it at least {}",
            human(c.backoff_min), human(MIN_BACKOFF)
        ));
    }
    // A backoff_max below backoff_min caps every wait at backoff_max (as it always has).
    if c.backoff_max < MIN_BACKOFF || c.backoff_max > MAX_BACKOFF {
        found.at(
            &at("backoff_max"),
            format!(
                "[collector] backoff_max {} is out of range: give it between {} and {}",
                human(c.backoff_max),
                human(MIN_BACKOFF),
                human(MAX_BACKOFF)
            ),
        );
    }
}

fn check_spool(
    cfg: &AgentConfig,
    state_dir: &std::path::Path,
    found: &mut Found<'_>,
) -> Option<SpoolSettings> {
    let s = &cfg.spool;
    let at = |key| [Step::Key("spool"), Step::Key(key)];
    let before = found.problems.len();
    if s.max_bytes < MIN_SPOOL_BYTES {
        found.at(
            &at("max_bytes"),
            format!(
                "[spool] max_bytes {} is too small: give it at least {MIN_SPOOL_BYTES} (1 MiB)",
                s.max_bytes
            ),
        );
    }
    if s.max_age < MIN_SPOOL_AGE || s.max_age > MAX_SPOOL_AGE {
        found.at(
            &at("max_age"),
            format!(
                "[spool] max_age {} is out of range: give it between {} and {}",
                human(s.max_age),
                human(MIN_SPOOL_AGE),
                human(MAX_SPOOL_AGE)
            ),
        );
    }
    if !(s.catch_up_rate.is_finite() && s.catch_up_rate >= 1.0) {
        found.at(
            &at("catch_up_rate"),
            format!(
                "[spool] catch_up_rate {} must be a number of samples per second, at least 1",
                s.catch_up_rate
            ),
        );
    }
    if !s.enabled || found.problems.len() > before {
        return None;
    }
    Some(SpoolSettings {
        dir: state_dir.join(&s.dir),
        limits: Limits::new(s.max_bytes, s.max_age),
        catch_up_rate: s.catch_up_rate,
    })
}
