//! Software RAID probe (`type = "mdstat"`): the state of every Linux md array, from
//! `/proc/mdstat`. Emits per `array`: `raid_degraded`, `raid_active`, `raid_disks`,
//! `raid_disks_active`, `raid_failed_disks`, `raid_sync_percent{action}`; and
//! `raid_mdstat_errors`. See `README.md` beside this file.

mod parse;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::{Failing, Out, read_bounded};
use crate::{CollectContext, Probe, ProbeError};

/// `/proc/mdstat` of a large server is a few KiB; anything past this is not mdstat.
const MAX_MDSTAT_BYTES: u64 = 1 << 20;

/// Configuration of one `[[probe]] type = "mdstat"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MdstatConfig {
    /// How often the file is read. Default `"30s"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The file to read. Default `"/proc/mdstat"`.
    pub path: PathBuf,
    /// Report nothing (instead of failing) when the file does not exist, i.e. the md driver
    /// is not loaded because the host has no software RAID. Default `false`: a host
    /// configured for this probe is expected to have arrays.
    pub allow_missing: bool,
}

use crate::sample_out::interval_duration;

impl Default for MdstatConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            path: PathBuf::from("/proc/mdstat"),
            allow_missing: false,
        }
    }
}

/// The running mdstat probe.
#[derive(Debug)]
pub struct MdstatProbe {
    config: MdstatConfig,
    failing: Failing,
}

impl MdstatProbe {
    pub fn new(config: MdstatConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.interval.is_zero() {
            errors.push("interval: must be greater than 0");
        }
        if config.path.as_os_str().is_empty() {
            errors.push("path: must name a file");
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("mdstat: {}", errors.join("; "))));
        }
        Ok(Self {
            config,
            failing: Failing::new("mdstat"),
        })
    }
}

#[async_trait]
impl Probe for MdstatProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let path = &self.config.path;
        let text = match read_bounded(path, MAX_MDSTAT_BYTES) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && self.config.allow_missing => {
                return Ok(());
            }
            Err(e) => {
                return Err(ProbeError::Unavailable {
                    source_name: "mdstat",
                    message: format!(
                        "cannot read {}: {e} (no md driver loaded means no software RAID: set \
                         allow_missing = true or remove the probe)",
                        path.display()
                    ),
                });
            }
        };
        let (arrays, errors) = parse::parse(&text);
        let mut emit = Out::new(out, ctx.now_ms);
        for a in &arrays {
            let array = [("array", a.name.as_str())];
            emit.flag("raid_degraded", array, a.degraded());
            emit.flag("raid_active", array, a.active);
            if let Some((total, up)) = a.members {
                emit.push("raid_disks", array, f64::from(total));
                emit.push("raid_disks_active", array, f64::from(up));
            }
            emit.push("raid_failed_disks", array, f64::from(a.failed));
            if let Some((action, percent)) = &a.sync {
                emit.push(
                    "raid_sync_percent",
                    [("array", a.name.as_str()), ("action", action.as_str())],
                    *percent,
                );
            }
        }
        let source = path.display().to_string();
        if errors.is_empty() {
            self.failing.recovered(&source);
        } else {
            self.failing.failed(&source, &errors.join("; "));
        }
        emit.push(
            "raid_mdstat_errors",
            std::iter::empty(),
            errors.len() as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;

    async fn collect(path: PathBuf, allow_missing: bool) -> Result<Vec<Sample>, ProbeError> {
        let mut probe = MdstatProbe::new(MdstatConfig {
            path,
            allow_missing,
            ..MdstatConfig::default()
        })?;
        let mut out = Vec::new();
        probe
            .collect(CollectContext { now_ms: 3 }, &mut out)
            .await?;
        Ok(out)
    }

    fn testdata(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("src/mdstat/testdata")
            .join(name)
    }

    #[tokio::test]
    async fn reads_a_real_file_and_reports_each_array() {
        let out = collect(testdata("mixed.txt"), false)
            .await
            .expect("collect");
        let v = |name: &str, array: &str| {
            out.iter()
                .find(|s| s.name == name && s.labels.get("array") == Some(array))
                .map(|s| s.value)
        };
        assert_eq!(v("raid_degraded", "md2"), Some(1.0));
        assert_eq!(v("raid_degraded", "md4"), Some(0.0));
        assert_eq!(v("raid_disks", "md2"), Some(4.0));
        assert_eq!(v("raid_disks_active", "md2"), Some(3.0));
        assert_eq!(v("raid_sync_percent", "md2"), Some(21.6));
        assert_eq!(v("raid_disks", "md3"), None, "raid0");
        assert_eq!(v("raid_active", "md127"), Some(0.0));
        let errors = out.iter().find(|s| s.name == "raid_mdstat_errors");
        assert_eq!(errors.map(|s| s.value), Some(0.0));
    }

    #[tokio::test]
    async fn hostile_input_is_counted_not_fatal() {
        let out = collect(testdata("hostile.txt"), false)
            .await
            .expect("collect");
        let errors = out.iter().find(|s| s.name == "raid_mdstat_errors");
        assert_eq!(errors.map(|s| s.value), Some(4.0));
        assert!(out.iter().any(|s| s.labels.get("array") == Some("md4")));
    }

    #[tokio::test]
    async fn a_missing_file_fails_unless_allowed() {
        let missing = PathBuf::from("/nonexistent/mdstat");
        let err = collect(missing.clone(), false).await.expect_err("missing");
        assert!(err.to_string().contains("allow_missing"), "{err}");
        assert!(collect(missing, true).await.expect("allowed").is_empty());
    }

    #[tokio::test]
    async fn an_oversized_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big = dir.path().join("mdstat");
        std::fs::write(&big, vec![b'x'; (MAX_MDSTAT_BYTES + 1) as usize]).expect("write");
        let err = collect(big, false).await.expect_err("too big");
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[test]
    fn sample_toml_parses_to_the_defaults() {
        let config = crate::sample_out::sample_config!(Mdstat, include_str!("sample.toml"));
        assert_eq!(config, MdstatConfig::default());
    }
}
