//! IPMI probe (`type = "ipmi"`): the BMC's sensors (temperatures, fans, voltages, currents,
//! power, power supplies) and System Event Log, read through `ipmitool` on a host that has a
//! BMC, or from a remote BMC over `-I lanplus`, and parsed from its text output.
//!
//! Emits `ipmi_up{bmc}`, `ipmi_sensor_value{bmc,sensor,entity,type,unit}`,
//! `ipmi_sensor_ok{bmc,sensor,entity,type}`, `ipmi_sensor_severity{bmc,sensor,entity,type}`,
//! `ipmi_sel_entries{bmc}`, `ipmi_sel_new_entries{bmc}`, `ipmi_parse_errors{bmc,command}` and
//! `ipmi_duration_ms{bmc}`. See `README.md` beside this file.
//!
//! ipmitool runs as the exec probe runs a plugin (`crate::exec::run`): its own process group,
//! killed at the timeout, output read up to a bound. A remote BMC's password reaches it in
//! the `IPMI_PASSWORD` variable (`-E`), never on its command line.

pub mod parse;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

use crate::exec::run::{self, Ended, Finished, Spec};
use crate::sample_out::{Failing, Out, duration_field, interval_duration};
use crate::secret::Secret;
use crate::{CollectContext, Probe, ProbeError};

/// Most sensors reported from one BMC; a longer list is cut (and counted as parse errors).
const MAX_SENSORS: usize = 2048;

/// Configuration of one `[[probe]] type = "ipmi"` section: one BMC.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IpmiConfig {
    /// How often the BMC is read. Default `"60s"` (BMCs are slow: a full SDR over the LAN
    /// takes seconds).
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The ipmitool program. Default `"ipmitool"`, looked up in the agent's `PATH`.
    #[serde(default = "default_ipmitool")]
    pub ipmitool: PathBuf,
    /// Each ipmitool run is killed after this. Default `"20s"`; with `sel`, twice this must
    /// be shorter than the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Which SDR records `sdr elist` lists: `"all"` (default: threshold sensors and the
    /// discrete ones such as power supply status, which many BMCs keep in compact records),
    /// `"full"` or `"compact"`.
    #[serde(default)]
    pub sdr_records: SdrRecords,
    /// Also read the System Event Log (`sel list`). Default true.
    #[serde(default = "yes")]
    pub sel: bool,
    /// The `bmc` label. Default `"local"`, or `host` for a remote BMC.
    #[serde(default)]
    pub name: Option<String>,
    /// A remote BMC's address (`-H`); without it ipmitool talks to this host's BMC through
    /// /dev/ipmi0 (the agent then needs to run as root, or be given that device).
    #[serde(default)]
    pub host: Option<String>,
    /// The BMC's RMCP port for `host` (`-p`). Default 623.
    #[serde(default)]
    pub port: Option<u16>,
    /// ipmitool interface for `host`. Default `"lanplus"` (IPMI v2.0 RMCP+).
    #[serde(default)]
    pub interface: Option<String>,
    /// BMC user for `host` (`-U`).
    #[serde(default)]
    pub user: Option<String>,
    /// BMC password for `host`, inline; prefer `password_file` (first line, chmod 600) or
    /// `password_env`. Passed to ipmitool in `IPMI_PASSWORD` with `-E`.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// Session privilege (`-L`): reading sensors and the SEL needs only `"user"` (default);
    /// `"operator"` or `"administrator"` for BMCs that want more.
    #[serde(default)]
    pub privilege: Privilege,
    /// More ipmitool options, placed before the command: a cipher suite (`["-C", "17"]`),
    /// the session timeout and retries (`["-N", "2", "-R", "2"]`), an SDR cache
    /// (`["-S", "/var/lib/patrol-agent/bmc.sdr"]`, made with `ipmitool sdr dump`).
    #[serde(default)]
    pub options: Vec<String>,
    /// Most bytes read from ipmitool's stdout (and stderr). Default 1048576.
    #[serde(default = "default_max_output")]
    pub max_output_bytes: usize,
}

duration_field!(timeout_duration, "timeout");

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(20)
}
fn default_ipmitool() -> PathBuf {
    PathBuf::from("ipmitool")
}
fn default_max_output() -> usize {
    1024 * 1024
}
fn yes() -> bool {
    true
}

/// `sdr elist` record types.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SdrRecords {
    #[default]
    All,
    Full,
    Compact,
}

impl SdrRecords {
    fn arg(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Full => "full",
            Self::Compact => "compact",
        }
    }
}

/// IPMI session privilege levels (ipmitool `-L`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Privilege {
    Callback,
    #[default]
    User,
    Operator,
    Administrator,
}

impl Privilege {
    fn arg(self) -> &'static str {
        match self {
            Self::Callback => "CALLBACK",
            Self::User => "USER",
            Self::Operator => "OPERATOR",
            Self::Administrator => "ADMINISTRATOR",
        }
    }
}

/// A remote BMC's session settings.
#[derive(Debug, Clone)]
struct Remote {
    interface: String,
    host: String,
    port: Option<u16>,
    user: String,
    password: Secret,
    privilege: Privilege,
}

/// Why ipmitool gave no answer, worded for the person reading the agent's log.
pub fn explain(
    finished: &Finished,
    program: &str,
    timeout: Duration,
    remote: Option<&str>,
) -> String {
    let stderr = String::from_utf8_lossy(&finished.stderr);
    let first = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "Password:")
        .unwrap_or("");
    match &finished.ended {
        Ended::SpawnFailed(e) if e.contains("No such file") || e.contains("not found") => format!(
            "ipmitool not found ({program}): install the Debian package ipmitool, or set `ipmitool` to its path"
        ),
        Ended::SpawnFailed(e) => format!("ipmitool could not be started: {e}"),
        Ended::TimedOut => format!(
            "ipmitool still running after {}s: killed (a slow or unreachable BMC; raise `timeout`)",
            timeout.as_secs_f64()
        ),
        Ended::OutputLimit => {
            "ipmitool wrote more than max_output_bytes: killed (raise max_output_bytes)".to_owned()
        }
        Ended::Exited(_) if first.contains("Could not open device") => {
            if first.contains("Permission denied") {
                format!(
                    "the agent may not open the BMC device ({first}): run it as root or give its user access to /dev/ipmi0"
                )
            } else {
                format!(
                    "no BMC on this host ({first}): if it has one, load the ipmi_si and ipmi_devintf kernel modules; for a remote BMC set `host`"
                )
            }
        }
        Ended::Exited(_) if first.contains("Unable to establish") => {
            let host = remote.unwrap_or("the BMC");
            format!(
                "{host} did not accept an IPMI session ({first}): check host, user, the password, interface and privilege; try `ipmitool -I lanplus -H {host} -U USER -E -L USER sdr elist`"
            )
        }
        Ended::Exited(_) if first.contains("Insufficient privilege") => {
            format!("{first}: raise `privilege` (operator, administrator)")
        }
        Ended::Exited(status) if !status.success() => {
            if first.is_empty() {
                format!("ipmitool exited with {status}")
            } else {
                format!("ipmitool exited with {status}: {first}")
            }
        }
        Ended::Exited(_) => "ipmitool printed no sensors".to_owned(),
    }
}

/// The running probe.
#[derive(Debug)]
pub struct IpmiProbe {
    bmc: String,
    program: PathBuf,
    timeout: Duration,
    max_output_bytes: usize,
    sdr_records: SdrRecords,
    sel: bool,
    remote: Option<Remote>,
    options: Vec<String>,
    failing: Failing,
    /// Why the last round had no sensors, for tests and `--once` readers of the log.
    last_error: Option<String>,
    /// SEL record IDs of the previous round; `None` before the first good read.
    sel_seen: Option<HashSet<String>>,
}

impl IpmiProbe {
    pub fn new(config: &IpmiConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        let runs = if config.sel { 2 } else { 1 };
        if config.timeout.is_zero() || config.timeout * runs >= config.interval {
            errors.push(format!(
                "timeout: {}ms{} must be above 0 and below the interval ({}ms)",
                config.timeout.as_millis(),
                if config.sel {
                    " × 2 (sdr and sel)"
                } else {
                    ""
                },
                config.interval.as_millis()
            ));
        }
        if config.ipmitool.as_os_str().is_empty() {
            errors.push("ipmitool: must not be empty".to_owned());
        }
        if !(4096..=64 * 1024 * 1024).contains(&config.max_output_bytes) {
            errors.push("max_output_bytes: between 4096 and 67108864".to_owned());
        }
        let remote = remote_settings(config, &mut errors);
        if let Some(name) = &config.name
            && (name.is_empty() || name.len() > 128)
        {
            errors.push("name: 1 to 128 characters (the `bmc` label)".to_owned());
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("ipmi: {}", errors.join("; "))));
        }
        let bmc = config
            .name
            .clone()
            .or_else(|| config.host.clone())
            .unwrap_or_else(|| "local".to_owned());
        Ok(Self {
            bmc,
            program: config.ipmitool.clone(),
            timeout: config.timeout,
            max_output_bytes: config.max_output_bytes,
            sdr_records: config.sdr_records,
            sel: config.sel,
            remote,
            options: config.options.clone(),
            failing: Failing::new("ipmi"),
            last_error: None,
            sel_seen: None,
        })
    }

    /// Why the last round read no sensors; `None` after a good round.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The command line of one ipmitool run, and its environment.
    fn spec(&self, command: &[&str]) -> Result<Spec, String> {
        let mut argv = vec![self.program.to_string_lossy().into_owned()];
        let mut env = BTreeMap::new();
        if let Some(r) = &self.remote {
            argv.extend(
                [
                    "-I",
                    &r.interface,
                    "-H",
                    &r.host,
                    "-U",
                    &r.user,
                    "-L",
                    r.privilege.arg(),
                    "-E",
                ]
                .map(str::to_owned),
            );
            if let Some(port) = r.port {
                argv.extend(["-p".to_owned(), port.to_string()]);
            }
            env.insert("IPMI_PASSWORD".to_owned(), r.password.read()?);
        }
        argv.extend(self.options.iter().cloned());
        argv.extend(command.iter().map(|s| (*s).to_owned()));
        Ok(Spec {
            argv,
            env,
            timeout: self.timeout,
            max_output_bytes: self.max_output_bytes,
        })
    }

    /// Runs one ipmitool command; its stdout, or why there is none.
    async fn run(&self, command: &[&str]) -> Result<String, String> {
        let spec = self.spec(command)?;
        let finished = run::run(&spec).await;
        let remote = self.remote.as_ref().map(|r| r.host.as_str());
        match &finished.ended {
            Ended::Exited(status) if status.success() => {
                Ok(String::from_utf8_lossy(&finished.stdout).into_owned())
            }
            _ => Err(explain(
                &finished,
                &self.program.to_string_lossy(),
                self.timeout,
                remote,
            )),
        }
    }
}

/// A remote BMC's settings from the section, or `None` for this host's BMC; problems go to
/// `errors`.
fn remote_settings(config: &IpmiConfig, errors: &mut Vec<String>) -> Option<Remote> {
    let password = match Secret::choose(
        "password",
        config.password.as_deref(),
        config.password_file.as_deref(),
        config.password_env.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let Some(host) = &config.host else {
        for (field, set) in [
            ("interface", config.interface.is_some()),
            ("port", config.port.is_some()),
            ("user", config.user.is_some()),
            ("password", password.is_some()),
        ] {
            if set {
                errors.push(format!(
                    "{field}: only for a remote BMC; set `host` as well, or remove it"
                ));
            }
        }
        return None;
    };
    if host.trim().is_empty() || host.starts_with('-') {
        errors.push("host: give the BMC's address".to_owned());
    }
    let user = match &config.user {
        Some(u) if !u.is_empty() && !u.starts_with('-') => u.clone(),
        _ => {
            errors.push("user: the BMC user is needed with `host`".to_owned());
            String::new()
        }
    };
    let interface = config.interface.clone().unwrap_or_else(|| "lanplus".into());
    if !matches!(interface.as_str(), "lan" | "lanplus") {
        errors.push(format!(
            "interface: {interface:?}: \"lanplus\" (IPMI 2.0) or \"lan\" (IPMI 1.5)"
        ));
    }
    let Some(password) = password else {
        errors.push(
            "password: a remote BMC needs password_file, password_env or password".to_owned(),
        );
        return None;
    };
    // Read once now so a missing or world-readable file stops the agent at start-up.
    if let Err(e) = password.read() {
        errors.push(e);
    }
    Some(Remote {
        interface,
        host: host.clone(),
        port: config.port,
        user,
        password,
        privilege: config.privilege,
    })
}

#[async_trait]
impl Probe for IpmiProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let started = std::time::Instant::now();
        let bmc = self.bmc.clone();
        let mut emit = Out::new(out, ctx.now_ms);
        let sdr = match self.run(&["sdr", "elist", self.sdr_records.arg()]).await {
            Ok(text) => {
                let sdr = parse::parse_sdr(&text);
                if sdr.sensors.is_empty() {
                    Err(format!(
                        "ipmitool printed no sensors ({} lines not understood)",
                        sdr.malformed
                    ))
                } else {
                    Ok(sdr)
                }
            }
            Err(e) => Err(e),
        };
        let sdr = match sdr {
            Ok(sdr) => {
                self.failing.recovered(&format!("bmc {bmc}"));
                self.last_error = None;
                sdr
            }
            Err(why) => {
                self.last_error = Some(why.clone());
                self.failing
                    .failed(&format!("bmc {bmc}"), &format!("ipmi_up 0: {why}"));
                emit.flag("ipmi_up", [("bmc", bmc.as_str())], false);
                emit.push(
                    "ipmi_duration_ms",
                    [("bmc", bmc.as_str())],
                    started.elapsed().as_secs_f64() * 1000.0,
                );
                return Ok(());
            }
        };
        emit.flag("ipmi_up", [("bmc", bmc.as_str())], true);
        let cut = sdr.sensors.len().saturating_sub(MAX_SENSORS);
        emit.push(
            "ipmi_parse_errors",
            [("bmc", bmc.as_str()), ("command", "sdr")],
            (sdr.malformed + cut) as f64,
        );
        emit_sensors(&bmc, &sdr.sensors[..sdr.sensors.len() - cut], &mut emit);

        if self.sel {
            match self.run(&["sel", "list"]).await {
                Ok(text) => {
                    self.failing.recovered(&format!("sel {bmc}"));
                    let sel = parse::parse_sel(&text);
                    let ids: HashSet<String> = sel.entries.iter().map(|e| e.id.clone()).collect();
                    let new = match &self.sel_seen {
                        Some(seen) => ids.difference(seen).count(),
                        None => 0,
                    };
                    self.sel_seen = Some(ids);
                    let labels = [("bmc", bmc.as_str())];
                    emit.push("ipmi_sel_entries", labels, sel.entries.len() as f64);
                    emit.push("ipmi_sel_new_entries", labels, new as f64);
                    emit.push(
                        "ipmi_parse_errors",
                        [("bmc", bmc.as_str()), ("command", "sel")],
                        sel.malformed as f64,
                    );
                }
                Err(why) => self.failing.failed(
                    &format!("sel {bmc}"),
                    &format!("System Event Log not read, sensors still reported: {why}"),
                ),
            }
        }
        emit.push(
            "ipmi_duration_ms",
            [("bmc", bmc.as_str())],
            started.elapsed().as_secs_f64() * 1000.0,
        );
        Ok(())
    }
}

/// The sensor samples; a (name, entity) pair seen twice gets `#<sensor number>` on the later
/// one so series never merge.
fn emit_sensors(bmc: &str, sensors: &[parse::Sensor], emit: &mut Out<'_>) {
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for s in sensors {
        let key = (s.name.clone(), s.entity.clone());
        let count = seen.entry(key).or_insert(0);
        *count += 1;
        let name = if *count == 1 {
            s.name.clone()
        } else {
            format!("{}#{}", s.name, s.number)
        };
        let kind = s.kind();
        let labels = [
            ("bmc", bmc),
            ("sensor", name.as_str()),
            ("entity", s.entity.as_str()),
            ("type", kind),
        ];
        if let Some((value, unit)) = &s.value {
            let mut with_unit = labels.to_vec();
            with_unit.push(("unit", unit.as_str()));
            emit.push("ipmi_sensor_value", with_unit, *value);
        }
        if let Some(severity) = s.severity() {
            emit.flag("ipmi_sensor_ok", labels, severity == parse::Severity::Ok);
            emit.push("ipmi_sensor_severity", labels, severity.level());
        }
    }
}

#[cfg(test)]
mod tests;
