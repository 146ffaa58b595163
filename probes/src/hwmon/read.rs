//! Reading chips and their sensors from a hwmon tree laid out as the kernel does
//! (Documentation/hwmon/sysfs-interface.rst): `ROOT/hwmonN/{name, tempM_input, tempM_label,
//! tempM_max, tempM_crit, tempM_max_alarm, tempM_crit_alarm, fanM_input, fanM_min,
//! fanM_alarm, ...}`, temperatures in millidegrees Celsius, fan speeds in RPM. Some older
//! drivers put the attributes in `hwmonN/device/` instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::sample_out::read_bounded;

/// Most chips read under one root, and most directory entries looked at per chip: a real
/// machine has a handful of each; the limits keep a broken tree from costing unbounded work.
const MAX_CHIPS: usize = 256;
const MAX_ENTRIES: usize = 4096;
/// Attribute files hold one number or a short label.
const MAX_ATTR_BYTES: u64 = 4096;

/// One temperature sensor's reading and limits (°C).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Temperature {
    pub name: String,
    pub celsius: f64,
    pub max: Option<f64>,
    pub crit: Option<f64>,
    pub max_alarm: Option<bool>,
    pub crit_alarm: Option<bool>,
}

/// One fan's reading (RPM) and minimum.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fan {
    pub name: String,
    pub rpm: f64,
    pub min: Option<f64>,
    pub alarm: Option<bool>,
}

/// Everything read under one root in one round.
#[derive(Debug, Default)]
pub(crate) struct Reading {
    pub temperatures: Vec<Temperature>,
    pub fans: Vec<Fan>,
    /// `(attribute path, why)` for inputs that could not be read or parsed: the sensor is
    /// skipped, the problem counted and logged.
    pub errors: Vec<(String, String)>,
}

/// A chip directory found under the root.
struct Chip {
    /// Where its attributes are (`hwmonN` or `hwmonN/device`).
    dir: PathBuf,
    name: String,
    /// The device it belongs to (basename of the `device` link) or the `hwmonN` name: tells
    /// apart two chips of one driver (two NVMe drives both called `nvme`).
    instance: String,
}

/// Reads every chip under `root`. An unreadable root is an error; a broken chip or sensor is
/// listed in [`Reading::errors`] and the rest is still read.
pub(crate) fn read_root(root: &Path) -> std::io::Result<Reading> {
    let mut reading = Reading::default();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)?
        .take(MAX_CHIPS)
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    dirs.sort();
    let mut chips = Vec::new();
    for dir in dirs {
        match chip_at(&dir) {
            Ok(Some(chip)) => chips.push(chip),
            Ok(None) => {}
            Err(e) => reading.errors.push((dir.display().to_string(), e)),
        }
    }
    // Chip name alone when unique, `name@instance` when a driver has several chips.
    let mut name_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &chips {
        *name_counts.entry(c.name.as_str()).or_default() += 1;
    }
    for chip in &chips {
        let prefix = if name_counts.get(chip.name.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}@{}", chip.name, chip.instance)
        } else {
            chip.name.clone()
        };
        read_chip(chip, &prefix, &mut reading);
    }
    Ok(reading)
}

fn chip_at(dir: &Path) -> Result<Option<Chip>, String> {
    let instance_of = |dir: &Path| {
        std::fs::read_link(dir.join("device"))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
            .or_else(|| dir.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default()
    };
    for attr_dir in [dir.to_path_buf(), dir.join("device")] {
        let name_file = attr_dir.join("name");
        if name_file.is_file() {
            let name = read_bounded(&name_file, MAX_ATTR_BYTES)
                .map_err(|e| format!("cannot read name: {e}"))?
                .trim()
                .to_owned();
            if name.is_empty() || name.len() > 64 {
                return Err(format!("unusable chip name {name:?}"));
            }
            return Ok(Some(Chip {
                dir: attr_dir,
                name,
                instance: instance_of(dir),
            }));
        }
    }
    // Not a chip (a stray file, or a directory without a name attribute): ignored.
    Ok(None)
}

/// `(kind, index)` of an `<kind><index>_input` file name, for kinds `temp` and `fan`.
fn input_of(file_name: &str) -> Option<(&'static str, u32)> {
    let stem = file_name.strip_suffix("_input")?;
    for kind in ["temp", "fan"] {
        if let Some(index) = stem.strip_prefix(kind)
            && let Ok(i) = index.parse::<u32>()
        {
            return Some((kind, i));
        }
    }
    None
}

fn read_chip(chip: &Chip, prefix: &str, reading: &mut Reading) {
    let entries = match std::fs::read_dir(&chip.dir) {
        Ok(e) => e,
        Err(e) => {
            reading
                .errors
                .push((chip.dir.display().to_string(), e.to_string()));
            return;
        }
    };
    let mut inputs: Vec<(&'static str, u32)> = entries
        .take(MAX_ENTRIES)
        .filter_map(|e| e.ok())
        .filter_map(|e| input_of(&e.file_name().to_string_lossy()))
        .collect();
    inputs.sort();
    for (kind, index) in inputs {
        let attr = |suffix: &str| chip.dir.join(format!("{kind}{index}_{suffix}"));
        let label = read_bounded(&attr("label"), MAX_ATTR_BYTES)
            .ok()
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty() && l.len() <= 64)
            .unwrap_or_else(|| format!("{kind}{index}"));
        let name = format!("{prefix}/{label}");
        let input_path = attr("input");
        let value = match read_number(&input_path) {
            Ok(Some(v)) => v,
            Ok(None) => continue,
            Err(e) => {
                reading.errors.push((input_path.display().to_string(), e));
                continue;
            }
        };
        let optional = |suffix: &str| read_number(&attr(suffix)).ok().flatten();
        let flag = |suffix: &str| optional(suffix).map(|v| v != 0.0);
        if kind == "temp" {
            // Drivers report 0 for a limit they do not know; no sensor's real limit is 0 °C.
            let limit = |suffix: &str| optional(suffix).map(|m| m / 1000.0).filter(|c| *c > 0.0);
            reading.temperatures.push(Temperature {
                name,
                celsius: value / 1000.0,
                max: limit("max"),
                crit: limit("crit"),
                max_alarm: flag("max_alarm"),
                crit_alarm: flag("crit_alarm"),
            });
        } else {
            reading.fans.push(Fan {
                name,
                rpm: value,
                min: optional("min").filter(|m| *m > 0.0),
                alarm: flag("alarm"),
            });
        }
    }
}

/// Reads an integer attribute. `Ok(None)`: the file does not exist. `Err`: it exists but
/// cannot be read (a faulty sensor answers EIO or ENODATA) or holds no integer.
fn read_number(path: &Path) -> Result<Option<f64>, String> {
    match read_bounded(path, MAX_ATTR_BYTES) {
        Ok(text) => parse_integer(&text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// sysfs numbers are decimal integers followed by a newline.
pub(crate) fn parse_integer(text: &str) -> Result<f64, String> {
    let t = text.trim();
    t.parse::<i64>().map(|v| v as f64).map_err(|_| {
        format!(
            "{:?} is not an integer",
            t.chars().take(32).collect::<String>()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_names_are_recognised() {
        assert_eq!(input_of("temp1_input"), Some(("temp", 1)));
        assert_eq!(input_of("fan12_input"), Some(("fan", 12)));
        assert_eq!(input_of("in0_input"), None);
        assert_eq!(input_of("temp1_max"), None);
        assert_eq!(input_of("tempx_input"), None);
    }

    #[test]
    fn integers_parse_and_garbage_is_refused() {
        assert_eq!(parse_integer("45000\n"), Ok(45000.0));
        assert_eq!(parse_integer("-5000\n"), Ok(-5000.0));
        assert!(parse_integer("hot\n").is_err());
        assert!(parse_integer("").is_err());
    }
}
