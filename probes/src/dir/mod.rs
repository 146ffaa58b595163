//! Directory-usage probe (`type = "dir"`): space taken by a directory tree (e.g. an Oracle
//! archive-log destination), as a share of a quota or of its filesystem.
//!
//! Emits `dir_used_bytes{path}`, `dir_files{path}`, `dir_used_percent{path,basis}` and
//! `dir_ok{path}`; see `README.md` beside this file. The walk runs on a blocking thread.

pub mod usage;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use serde::Deserialize;

use crate::sample_out::interval_duration;
use crate::{CollectContext, DEFAULT_INTERVAL, Probe, ProbeError};
pub use usage::{Basis, DirUsage, UsageError};

/// Default cap on the entries walked in one round.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;

/// Configuration of one `[[probe]] type = "dir"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirConfig {
    /// How often the directory is measured. Default `"10s"`; a large tree deserves `"1m"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The directory (or file) to measure; also the `path` label.
    pub path: PathBuf,
    /// Space allowed for the directory, in bytes. Set: `dir_used_percent` is used ÷ quota
    /// (`basis="quota"`). Unset: it is the Use% of the filesystem holding the directory
    /// (`basis="filesystem"`).
    #[serde(default)]
    pub quota_bytes: Option<u64>,
    /// Most entries walked per round; a bigger tree is reported as failing (`dir_ok 0`)
    /// rather than stalling the probe. Default 1,000,000.
    #[serde(default = "default_max_entries")]
    pub max_entries: u64,
}

fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}

fn default_max_entries() -> u64 {
    DEFAULT_MAX_ENTRIES
}

/// The figures of one measurement, shared with the WebLogic probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub usage: DirUsage,
    pub percent: f64,
    pub basis: Basis,
}

/// Measures `path` on a blocking thread (a big tree takes a while to walk).
pub async fn measure(
    path: PathBuf,
    quota: Option<u64>,
    max_entries: u64,
) -> Result<Measured, String> {
    tokio::task::spawn_blocking(move || {
        let usage = usage::measure(&path, max_entries)?;
        let (percent, basis) = usage::used_percent(&path, usage.used_bytes, quota)?;
        Ok::<_, UsageError>(Measured {
            usage,
            percent,
            basis,
        })
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())
}

/// Checks a quota: 0 would make every percentage infinite.
pub(crate) fn check_quota(field: &str, quota: Option<u64>) -> Result<(), String> {
    match quota {
        Some(0) => Err(format!(
            "{field}: must be greater than 0 (leave it out to use the filesystem's size)"
        )),
        _ => Ok(()),
    }
}

/// The running directory probe.
#[derive(Debug)]
pub struct DirProbe {
    config: DirConfig,
    labels: Labels,
    /// Whether the last round failed, so a failure is logged once, not every round.
    failing: bool,
}

impl DirProbe {
    pub fn new(config: &DirConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if let Err(e) = check_quota("quota_bytes", config.quota_bytes) {
            errors.push(e);
        }
        if config.max_entries == 0 {
            errors.push("max_entries: must be greater than 0".to_owned());
        }
        let Some(path) = config.path.to_str() else {
            return Err(ProbeError::Config("dir: path must be valid UTF-8".into()));
        };
        if path.is_empty() {
            errors.push("path: must not be empty".to_owned());
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("dir: {}", errors.join("; "))));
        }
        Ok(Self {
            labels: Labels::from_pairs([("path", path)]),
            config: config.clone(),
            failing: false,
        })
    }
}

#[async_trait]
impl Probe for DirProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let result = measure(
            self.config.path.clone(),
            self.config.quota_bytes,
            self.config.max_entries,
        )
        .await;
        let now = ctx.now_ms;
        let ok = match result {
            Ok(m) => {
                if std::mem::replace(&mut self.failing, false) {
                    tracing::info!(probe = "dir", path = %self.config.path.display(), "recovered");
                }
                if m.usage.unreadable > 0 {
                    tracing::debug!(probe = "dir", path = %self.config.path.display(),
                        unreadable = m.usage.unreadable, "some subdirectories could not be read");
                }
                out.push(Sample::new(
                    "dir_used_bytes",
                    self.labels.clone(),
                    m.usage.used_bytes as f64,
                    now,
                ));
                out.push(Sample::new(
                    "dir_files",
                    self.labels.clone(),
                    m.usage.files as f64,
                    now,
                ));
                let mut labels = self.labels.clone();
                labels.insert("basis", m.basis.label());
                out.push(Sample::new("dir_used_percent", labels, m.percent, now));
                1.0
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!(probe = "dir", error = %e, "cannot measure the directory; dir_ok is 0 until it recovers");
                }
                0.0
            }
        };
        out.push(Sample::new("dir_ok", self.labels.clone(), ok, now));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::sample_out::parse_section as parse;

    #[tokio::test]
    async fn reports_quota_share_of_a_real_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("arch_1.arc"), vec![0u8; 40_960]).expect("write");
        let text = format!(
            "type = \"dir\"\npath = {:?}\nquota_bytes = 81920\n",
            dir.path().display().to_string()
        );
        let config = parse(&text).expect("parses");
        let mut probe = config
            .build(&crate::BuildContext::new(dir.path()))
            .expect("builds");
        let out = crate::sample_out::round(&mut probe).await;
        let get = |name: &str| {
            out.iter()
                .find(|s| s.name == name)
                .map(|s| (s.value, s.labels.clone()))
        };
        let (percent, labels) = get("dir_used_percent").expect("percent");
        let used = get("dir_used_bytes").expect("bytes").0;
        assert!(used >= 40_960.0, "{used}");
        assert_eq!(percent, used / 81_920.0 * 100.0);
        assert_eq!(labels.get("basis"), Some("quota"));
        assert_eq!(get("dir_ok").expect("ok").0, 1.0);
        crate::sample_out::assert_cataloged(&out);
    }

    #[tokio::test]
    async fn a_missing_directory_is_a_status_not_an_error() {
        let config = parse("type = \"dir\"\npath = \"/nonexistent/arch\"\n").expect("parses");
        let mut probe = config
            .build(&crate::BuildContext::new("/nonexistent"))
            .expect("builds");
        let out = crate::sample_out::round(&mut probe).await;
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].name.as_str(), out[0].value), ("dir_ok", 0.0));
    }

    #[test]
    fn sample_toml_parses_and_builds() {
        for config in crate::sample_out::sample_probes(include_str!("sample.toml")) {
            crate::sample_out::build_sample(&config);
        }
    }

    #[test]
    fn bad_config_is_refused_with_field_names() {
        assert!(parse("type = \"dir\"\npath = \"/x\"\nquota = 1\n").is_err());
        let config = parse("type = \"dir\"\npath = \"\"\nquota_bytes = 0\n").expect("parses");
        let err = config
            .build(&crate::BuildContext::new("/tmp"))
            .err()
            .expect("invalid");
        let text = err.to_string();
        assert!(
            text.contains("quota_bytes") && text.contains("path"),
            "{text}"
        );
    }
}
