//! Inventory (`[inventory]` in the agent's config): facts about the host — hardware model and
//! serial (DMI), OS and kernel, CPU and memory size, IP addresses, installed Oracle and
//! WebLogic versions — and, in `snmp::inventory`, about the devices the agent polls. Facts are
//! not samples: the agent gathers them at start and every `interval` (an hour by default) and
//! sends them only when they changed.
//!
//! Fact keys (`patrol_proto::facts::key`, docs/inventory.md): `hw.vendor`, `hw.model`,
//! `hw.version`, `hw.serial`, `bios.vendor`, `bios.version`, `bios.date`, `os.name`, `os.id`,
//! `os.version_id`, `kernel.release`, `hostname`, `cpu.arch`, `cpu.model`, `cpu.count`,
//! `cpu.cores`, `memory.bytes`, `ip[<interface>]`, `oracle[<ORACLE_HOME>]`,
//! `weblogic[<home>]`; for devices `sys.descr`, `sys.object_id`, `sys.name` and
//! `chassis[<index>].<field>`. See `README.md` beside this file.
//!
//! A fact that cannot be read (a DMI file only root may read, no Oracle on the host) is
//! absent, never an error: the inventory says what it could see.

pub mod host;
pub mod oracle;
pub mod weblogic;
mod xml;

use std::path::PathBuf;
use std::time::Duration;

use patrol_proto::facts::FactMap;
use serde::Deserialize;

use crate::ProbeError;

/// `[inventory]` in the agent's config.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InventoryConfig {
    /// Gather and send facts. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// How often facts are gathered again; they are sent only when they changed. Default
    /// `"1h"`, at least `"1m"`.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// Oracle homes to report besides those found in the central inventory
    /// (`/etc/oraInst.loc`) and in `/etc/oratab`, e.g.
    /// `["/u01/app/oracle/product/19.0.0/dbhome_1"]`.
    #[serde(default)]
    pub oracle_homes: Vec<PathBuf>,
    /// WebLogic (Fusion Middleware) homes to report besides those in the central inventory:
    /// the directory holding `inventory/registry.xml` (12c and later, e.g.
    /// `"/u01/oracle/middleware"`), or a WebLogic 10.3 home (`wlserver_10.3`, holding
    /// `.product.properties`) or the middleware home above it.
    #[serde(default)]
    pub weblogic_homes: Vec<PathBuf>,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            oracle_homes: Vec::new(),
            weblogic_homes: Vec::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_interval() -> Duration {
    Duration::from_secs(3600)
}

/// Shortest `interval`: facts change on installs and reboots, not by the minute.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// One problem of the section: the field (and list index) it is about, and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub index: Option<usize>,
    pub message: String,
}

impl InventoryConfig {
    /// Every problem of the section, each naming its field.
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.interval < MIN_INTERVAL {
            problems.push(Problem {
                field: "interval",
                index: None,
                message: format!(
                    "[inventory] interval {} is too short: facts are gathered again at most once a minute",
                    humantime_serde::re::humantime::format_duration(self.interval)
                ),
            });
        }
        for (field, list) in [
            ("oracle_homes", &self.oracle_homes),
            ("weblogic_homes", &self.weblogic_homes),
        ] {
            for (i, p) in list.iter().enumerate() {
                if !p.is_absolute() {
                    problems.push(Problem {
                        field,
                        index: Some(i),
                        message: format!(
                            "[inventory] {field}[{i}] {:?} must be an absolute path",
                            p.display().to_string()
                        ),
                    });
                }
            }
        }
        problems
    }

    /// [`Self::problems`] as one error.
    pub fn validate(&self) -> Result<(), ProbeError> {
        let problems = self.problems();
        if problems.is_empty() {
            return Ok(());
        }
        let text: Vec<String> = problems.into_iter().map(|p| p.message).collect();
        Err(ProbeError::Config(text.join("; ")))
    }
}

/// Where the host's facts are read from: the real paths, or a tree a test wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// `/sys/class/dmi/id`.
    pub dmi: PathBuf,
    /// os-release(5): `/etc/os-release`, else `/usr/lib/os-release`.
    pub os_release: Vec<PathBuf>,
    /// `/etc/oraInst.loc`: where the Oracle central inventory is.
    pub ora_inst_loc: PathBuf,
    /// `/etc/oratab`: databases and their homes.
    pub oratab: PathBuf,
}

impl Roots {
    /// This machine's.
    pub fn system() -> Self {
        Self {
            dmi: "/sys/class/dmi/id".into(),
            os_release: vec!["/etc/os-release".into(), "/usr/lib/os-release".into()],
            ora_inst_loc: "/etc/oraInst.loc".into(),
            oratab: "/etc/oratab".into(),
        }
    }
}

/// Every host fact: DMI, os-release, uname, CPU and memory, addresses, Oracle and WebLogic
/// homes. Blocking file reads; run it off the async threads.
pub fn gather_host(config: &InventoryConfig, roots: &Roots) -> FactMap {
    let mut facts = FactMap::new();
    facts.extend(host::dmi(&roots.dmi));
    facts.extend(host::read_os_release(&roots.os_release));
    facts.extend(host::system());
    facts.extend(host::addresses());
    let homes = oracle::homes(roots, &config.oracle_homes, &config.weblogic_homes);
    facts.extend(oracle::home_facts(&homes));
    facts
}

/// Reads a text file of at most `limit` bytes; `None` when it is missing, unreadable or
/// larger (an inventory file that size is not one).
pub(crate) fn read_small(path: &std::path::Path, limit: u64) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).ok()?;
    if bytes.len() as u64 > limit {
        tracing::debug!(path = %path.display(), limit, "inventory: file larger than expected; skipped");
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests;
