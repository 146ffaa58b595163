//! Hardware monitoring probe (`type = "hwmon"`): temperatures and fans from the kernel's hwmon
//! sysfs tree (`/sys/class/hwmon` by default). Emits per `sensor`: `hw_temperature_celsius`,
//! `hw_temperature_max_celsius`, `hw_temperature_crit_celsius`, `hw_temperature_high`,
//! `hw_temperature_critical`; per `fan`: `hw_fan_rpm`, `hw_fan_min_rpm`, `hw_fan_ok`; and
//! `hw_sensors_unreadable`. See `README.md` beside this file for the exact definitions.

mod read;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::{Failing, Out};
use crate::{CollectContext, Probe, ProbeError};

/// Configuration of one `[[probe]] type = "hwmon"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HwmonConfig {
    /// How often the sensors are read. Default `"30s"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The hwmon class directory. Default `"/sys/class/hwmon"`; point it elsewhere to read
    /// a copy of another machine's tree, or in a container with `/sys` mounted elsewhere.
    pub root: PathBuf,
    /// Sensors and fans not reported, by the name they get in the `sensor` / `fan` label:
    /// exact names (`"nct6775/fan3"`), or prefixes ending in `*` (`"nct6775/*"`). Use it for
    /// fan headers with nothing plugged in, which read 0 RPM. Default empty.
    pub exclude: Vec<String>,
}

use crate::sample_out::interval_duration;

impl Default for HwmonConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            root: PathBuf::from("/sys/class/hwmon"),
            exclude: Vec::new(),
        }
    }
}

/// An `exclude` entry.
#[derive(Debug, Clone, PartialEq)]
enum Exclude {
    Exact(String),
    Prefix(String),
}

impl Exclude {
    fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(e) => e == name,
            Self::Prefix(p) => name.starts_with(p.as_str()),
        }
    }
}

impl HwmonConfig {
    fn validate(&self) -> Result<Vec<Exclude>, ProbeError> {
        let mut errors = Vec::new();
        if self.interval.is_zero() {
            errors.push("interval: must be greater than 0".to_owned());
        }
        if self.root.as_os_str().is_empty() {
            errors.push("root: must name a directory".to_owned());
        }
        let mut excludes = Vec::new();
        for (i, e) in self.exclude.iter().enumerate() {
            match e.strip_suffix('*') {
                _ if e.is_empty() => errors.push(format!("exclude[{i}]: empty name")),
                Some(p) if p.contains('*') => {
                    errors.push(format!("exclude[{i}]: `*` is only allowed at the end"))
                }
                Some(p) => excludes.push(Exclude::Prefix(p.to_owned())),
                None if e.contains('*') => {
                    errors.push(format!("exclude[{i}]: `*` is only allowed at the end"))
                }
                None => excludes.push(Exclude::Exact(e.clone())),
            }
        }
        if errors.is_empty() {
            Ok(excludes)
        } else {
            Err(ProbeError::Config(format!("hwmon: {}", errors.join("; "))))
        }
    }
}

/// The running hwmon probe.
#[derive(Debug)]
pub struct HwmonProbe {
    root: PathBuf,
    exclude: Vec<Exclude>,
    failing: Failing,
}

impl HwmonProbe {
    pub fn new(config: HwmonConfig) -> Result<Self, ProbeError> {
        let exclude = config.validate()?;
        Ok(Self {
            root: config.root,
            exclude,
            failing: Failing::new("hwmon"),
        })
    }

    fn excluded(&self, name: &str) -> bool {
        self.exclude.iter().any(|e| e.matches(name))
    }
}

#[async_trait]
impl Probe for HwmonProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        // sysfs reads are served by the kernel in microseconds (a slow I2C sensor in a few
        // ms), so they run inline.
        let reading = read::read_root(&self.root).map_err(|e| ProbeError::Unavailable {
            source_name: "hwmon",
            message: format!(
                "cannot list {}: {e} (a machine or VM without sensors has no such directory; \
                 remove the hwmon probe there)",
                self.root.display()
            ),
        })?;
        let mut emit = Out::new(out, ctx.now_ms);
        for t in reading
            .temperatures
            .iter()
            .filter(|t| !self.excluded(&t.name))
        {
            let sensor = [("sensor", t.name.as_str())];
            emit.push("hw_temperature_celsius", sensor, t.celsius);
            if let Some(max) = t.max {
                emit.push("hw_temperature_max_celsius", sensor, max);
            }
            if let Some(crit) = t.crit {
                emit.push("hw_temperature_crit_celsius", sensor, crit);
            }
            if t.max.is_some() || t.max_alarm.is_some() {
                let high = t.max.is_some_and(|m| t.celsius >= m) || t.max_alarm == Some(true);
                emit.flag("hw_temperature_high", sensor, high);
            }
            if t.crit.is_some() || t.crit_alarm.is_some() {
                let critical = t.crit.is_some_and(|c| t.celsius >= c) || t.crit_alarm == Some(true);
                emit.flag("hw_temperature_critical", sensor, critical);
            }
        }
        for f in reading.fans.iter().filter(|f| !self.excluded(&f.name)) {
            let fan = [("fan", f.name.as_str())];
            emit.push("hw_fan_rpm", fan, f.rpm);
            if let Some(min) = f.min {
                emit.push("hw_fan_min_rpm", fan, min);
            }
            let ok = f.rpm > 0.0 && f.min.is_none_or(|m| f.rpm >= m) && f.alarm != Some(true);
            emit.flag("hw_fan_ok", fan, ok);
        }
        for (path, why) in &reading.errors {
            self.failing.failed(path, &format!("{path}: {why}"));
        }
        emit.push(
            "hw_sensors_unreadable",
            std::iter::empty(),
            reading.errors.len() as f64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests;
