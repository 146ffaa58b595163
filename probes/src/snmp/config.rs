//! The `[[probe]] type = "snmp"` section as written by the operator, and its checked form.
//! Every problem is collected and reported at once, each naming its field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use std::sync::Arc;

use super::profile::{ProfileDef, Registry};
use crate::ProbeError;
use crate::secret::Secret;

/// Configuration of one `[[probe]] type = "snmp"` section: a list of devices polled
/// concurrently on one schedule. Emits `snmp_up`, `snmp_poll_duration_ms`, `snmp_info`,
/// `snmp_uptime_seconds`, `snmp_if_*`, `snmp_processor_load_percent`, `snmp_storage_*`,
/// `snmp_cpu_5min_percent`, `hw_temperature_celsius`, `hw_fan_ok`, `hw_psu_ok` and the
/// configured custom metrics; see `README.md` beside this file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SnmpConfig {
    /// How often every device is polled, e.g. `"60s"`. Rates are averages over it.
    /// Default `"60s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// How long to wait for one answer before resending, per request. Default `"2s"`.
    /// A device overrides it with its own `timeout`.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// How many times a request is resent after a timeout. Default `1`.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// Rows asked for per GETBULK request during walks. Default `25`.
    #[serde(default = "default_max_repetitions")]
    pub max_repetitions: u32,
    /// Most rows read from one table walk; a device that returns more (or loops) is cut
    /// there and logged, so a hostile or broken agent cannot exhaust memory. Default `10000`.
    #[serde(default = "default_max_rows")]
    pub max_rows: usize,
    /// Community for v2c devices that set none of their own.
    #[serde(default)]
    pub community: Option<String>,
    /// File whose first line is that community (not accessible to other users: `chmod 600`).
    #[serde(default)]
    pub community_file: Option<PathBuf>,
    /// Environment variable holding that community.
    #[serde(default)]
    pub community_env: Option<String>,
    /// Profiles read from every device (a device may override the list): built-in ones
    /// (`system`, `if_mib`, `host_resources`, `entity_sensor`, `cisco_envmon`,
    /// `cisco_process`, `ups_mib`, `fc_mgmt`, `fc_if_mib`, `fc_fe`) or ones from
    /// `profile_dirs`.
    /// Default: the first six; a device without a MIB simply answers with an empty table.
    #[serde(default = "default_profiles")]
    pub profiles: Vec<String>,
    /// Directories of profile files (`*.toml`, see docs/snmp.md "Profiles as files"), e.g.
    /// `["/etc/patrol/snmp-profiles"]`: a vendor MIB as a file instead of code. Read when the
    /// probe starts; a file that does not parse is reported at file:line:column.
    #[serde(default)]
    pub profile_dirs: Vec<PathBuf>,
    /// Extra OIDs read from every device, `[[probe.custom]]`.
    #[serde(default)]
    pub custom: Vec<CustomOid>,
    /// The devices, `[[probe.device]]`.
    #[serde(default, rename = "device")]
    pub devices: Vec<DeviceConfig>,
}

/// One `[[probe.device]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Value of the `device` label, e.g. `"core-sw1"`. Must be unique in the section.
    pub name: String,
    /// `host:port` or `host` (port 161), IPv4 or IPv6 (`[2001:db8::1]:161`) or a name.
    pub address: String,
    /// `"2c"` (default) or `"3"`.
    #[serde(default)]
    pub version: Version,
    /// v2c community; falls back to the section's community. At most one of `community`,
    /// `community_file` and `community_env`.
    pub community: Option<String>,
    /// File whose first line is the community (not accessible to other users: `chmod 600`).
    pub community_file: Option<PathBuf>,
    /// Environment variable holding the community.
    pub community_env: Option<String>,
    /// v3 user name (USM).
    pub user: Option<String>,
    /// v3 authentication: `"md5"`, `"sha"` (SHA-1), `"sha224"`, `"sha256"`, `"sha384"`,
    /// `"sha512"`. With `auth_password`, gives authNoPriv.
    pub auth_protocol: Option<AuthProto>,
    /// v3 authentication password (at least 8 characters). At most one of `auth_password`,
    /// `auth_password_file` and `auth_password_env`.
    pub auth_password: Option<String>,
    /// File whose first line is the authentication password (`chmod 600`; a file other users
    /// can read is refused).
    pub auth_password_file: Option<PathBuf>,
    /// Environment variable holding the authentication password.
    pub auth_password_env: Option<String>,
    /// v3 privacy: `"des"`, `"3des"`, `"aes"` (AES-128), `"aes192"`, `"aes256"` (Blumenthal
    /// key extension, as net-snmp), `"aes192c"`, `"aes256c"` (Reeder/Cisco key extension).
    /// With `priv_password`, gives authPriv.
    pub priv_protocol: Option<PrivProto>,
    /// v3 privacy password (at least 8 characters). At most one of `priv_password`,
    /// `priv_password_file` and `priv_password_env`.
    pub priv_password: Option<String>,
    /// File whose first line is the privacy password (`chmod 600`).
    pub priv_password_file: Option<PathBuf>,
    /// Environment variable holding the privacy password.
    pub priv_password_env: Option<String>,
    /// v3 context name. Default empty.
    pub context: Option<String>,
    /// Overrides the section's `timeout` for this device.
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Overrides the section's `retries` for this device.
    pub retries: Option<u32>,
    /// Overrides the section's `profiles` for this device.
    pub profiles: Option<Vec<String>>,
}

/// SNMP version of a device.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum Version {
    #[default]
    #[serde(rename = "2c")]
    V2c,
    #[serde(rename = "3")]
    V3,
}

/// USM authentication protocols.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum AuthProto {
    Md5,
    Sha,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
}

/// USM privacy protocols.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrivProto {
    Des,
    #[serde(rename = "3des")]
    Des3,
    Aes,
    Aes192,
    Aes256,
    Aes192c,
    Aes256c,
}

/// One `[[probe.custom]]`: an OID (scalar or table column) turned into a metric.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CustomOid {
    /// Metric name, `snake_case`; a `counter` must end in `_per_second`.
    pub name: String,
    /// Numeric OID, e.g. `"1.3.6.1.4.1.2021.10.1.5"`. A scalar ends in `.0` and is read with
    /// GET; anything else is walked as a table column.
    pub oid: String,
    /// `"gauge"` (value as read) or `"counter"` (per-second rate between two polls).
    #[serde(rename = "type")]
    pub kind: CustomKind,
    /// Names given to the index arcs after the column OID, in order; the last name takes all
    /// remaining arcs joined with `.`. Empty (default): one label `index` with the whole index.
    #[serde(default)]
    pub index_labels: Vec<String>,
    /// Extra labels read from other columns at the same index, e.g.
    /// `{ ifname = "1.3.6.1.2.1.31.1.1.1.1" }`.
    #[serde(default)]
    pub lookups: BTreeMap<String, String>,
    /// Multiplier applied to the value (or rate), e.g. `8` for octets to bits. Default `1`.
    #[serde(default = "one")]
    pub scale: f64,
}

/// How a custom OID's value is reported.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CustomKind {
    Gauge,
    Counter,
}

fn one() -> f64 {
    1.0
}
fn default_profiles() -> Vec<String> {
    super::profile::DEFAULT_PROFILES
        .iter()
        .map(|p| (*p).to_owned())
        .collect()
}
fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(2)
}
fn default_retries() -> u32 {
    1
}
fn default_max_repetitions() -> u32 {
    25
}
fn default_max_rows() -> usize {
    10_000
}

use crate::sample_out::interval_duration;
crate::sample_out::duration_field!(timeout_duration, "timeout");

/// Checked credentials of one device.
#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    V2c {
        community: Secret,
    },
    V3 {
        user: String,
        auth: Option<(AuthProto, Secret)>,
        privacy: Option<(PrivProto, Secret)>,
        context: String,
    },
}

/// Checked settings of one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSettings {
    pub name: String,
    /// As written; resolved when the client is built so that a name that does not resolve
    /// yet only makes that device's `snmp_up` 0.
    pub address: String,
    pub credentials: Credentials,
    pub timeout: Duration,
    pub retries: u32,
    pub profiles: Vec<Arc<ProfileDef>>,
}

/// Checked custom OID.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomSettings {
    pub name: String,
    pub oid: Vec<u32>,
    pub scalar: bool,
    pub kind: CustomKind,
    pub index_labels: Vec<String>,
    pub lookups: Vec<(String, Vec<u32>)>,
    pub scale: f64,
}

/// Checked settings of the section.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub max_repetitions: u32,
    pub max_rows: usize,
    pub devices: Vec<DeviceSettings>,
    pub custom: Vec<CustomSettings>,
}

/// Parses a dotted numeric OID (a leading `.` is allowed).
pub fn parse_oid(text: &str) -> Result<Vec<u32>, String> {
    let body = text.strip_prefix('.').unwrap_or(text);
    let arcs: Result<Vec<u32>, _> = body.split('.').map(str::parse::<u32>).collect();
    match arcs {
        Ok(arcs) if arcs.len() >= 2 && arcs.len() <= 128 => Ok(arcs),
        _ => Err(format!(
            "{text:?} is not a numeric OID (e.g. \"1.3.6.1.2.1.1.3.0\"; MIB names are not resolved)"
        )),
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn is_label_name(name: &str) -> bool {
    is_metric_name(name) && !matches!(name, "device" | "host")
}

impl SnmpConfig {
    /// Checks every field and reports all problems at once, each naming its field.
    pub fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        if self.interval.is_zero() {
            errors.push("interval: must be greater than 0".to_owned());
        }
        if self.max_repetitions == 0 || self.max_repetitions > 1000 {
            errors.push("max_repetitions: must be between 1 and 1000".to_owned());
        }
        if self.max_rows == 0 {
            errors.push("max_rows: must be greater than 0".to_owned());
        }
        if self.devices.is_empty() {
            errors.push("device: at least one [[probe.device]] is needed".to_owned());
        }
        let registry = match super::profile::load(&self.profile_dirs) {
            Ok(r) => r,
            Err(mut e) => {
                errors.append(&mut e);
                Registry::new()
            }
        };
        let section_profiles = resolve(&registry, &self.profiles, "profiles", &mut errors);
        let mut devices = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, device) in self.devices.iter().enumerate() {
            let at = format!("device[{i}]");
            if !names.insert(device.name.as_str()) {
                errors.push(format!("{at}.name: {:?} is used twice", device.name));
            }
            match self.device(device, &at, &registry, &section_profiles) {
                Ok(d) => devices.push(d),
                Err(mut e) => errors.append(&mut e),
            }
        }
        let mut custom = Vec::new();
        for (i, c) in self.custom.iter().enumerate() {
            match check_custom(c, &format!("custom[{i}]")) {
                Ok(c) => custom.push(c),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("snmp: {}", errors.join("; "))));
        }
        Ok(Settings {
            max_repetitions: self.max_repetitions,
            max_rows: self.max_rows,
            devices,
            custom,
        })
    }

    fn device(
        &self,
        d: &DeviceConfig,
        at: &str,
        registry: &Registry,
        section_profiles: &[Arc<ProfileDef>],
    ) -> Result<DeviceSettings, Vec<String>> {
        let mut errors = Vec::new();
        if d.name.trim().is_empty() {
            errors.push(format!("{at}.name: must not be empty"));
        }
        if d.address.trim().is_empty() {
            errors.push(format!("{at}.address: must not be empty"));
        } else if d.address.contains('/') {
            errors.push(format!("{at}.address: {:?} is not host[:port]", d.address));
        }
        let timeout = d.timeout.unwrap_or(self.timeout);
        if timeout.is_zero() {
            errors.push(format!("{at}.timeout: must be greater than 0"));
        }
        let retries = d.retries.unwrap_or(self.retries);
        if retries > 10 {
            errors.push(format!("{at}.retries: at most 10"));
        }
        // The round must end before the next one starts: a dead device costs
        // timeout × (retries + 1) on its first request.
        let worst = timeout.saturating_mul(retries.saturating_add(1));
        if worst >= self.interval && !self.interval.is_zero() {
            errors.push(format!(
                "{at}.timeout: timeout × (retries + 1) = {} must be shorter than interval {}",
                humantime_serde::re::humantime::format_duration(worst),
                humantime_serde::re::humantime::format_duration(self.interval)
            ));
        }
        let v3_fields = [
            ("user", d.user.is_some()),
            ("auth_protocol", d.auth_protocol.is_some()),
            ("auth_password", d.auth_password.is_some()),
            ("auth_password_file", d.auth_password_file.is_some()),
            ("auth_password_env", d.auth_password_env.is_some()),
            ("priv_protocol", d.priv_protocol.is_some()),
            ("priv_password", d.priv_password.is_some()),
            ("priv_password_file", d.priv_password_file.is_some()),
            ("priv_password_env", d.priv_password_env.is_some()),
            ("context", d.context.is_some()),
        ];
        let credentials = match d.version {
            Version::V2c => {
                for (field, set) in v3_fields {
                    if set {
                        errors.push(format!("{at}.{field}: only for version = \"3\""));
                    }
                }
                community(self, d, at, &mut errors).map(|community| Credentials::V2c { community })
            }
            Version::V3 => {
                for (field, set) in [
                    ("community", d.community.is_some()),
                    ("community_file", d.community_file.is_some()),
                    ("community_env", d.community_env.is_some()),
                ] {
                    if set {
                        errors.push(format!("{at}.{field}: only for version = \"2c\""));
                    }
                }
                v3_credentials(d, at, &mut errors)
            }
        };
        let profiles = match &d.profiles {
            Some(names) => resolve(registry, names, &format!("{at}.profiles"), &mut errors),
            None => section_profiles.to_vec(),
        };
        match credentials {
            Some(credentials) if errors.is_empty() => Ok(DeviceSettings {
                name: d.name.clone(),
                address: d.address.clone(),
                credentials,
                timeout,
                retries,
                profiles,
            }),
            _ => Err(errors),
        }
    }
}

/// The named profiles from the registry; an unknown name is an error listing the known ones.
fn resolve(
    registry: &Registry,
    names: &[String],
    field: &str,
    errors: &mut Vec<String>,
) -> Vec<Arc<ProfileDef>> {
    let mut out = Vec::new();
    for name in names {
        match registry.get(name) {
            Some(p) if !out.iter().any(|o: &Arc<ProfileDef>| o.name == *name) => {
                out.push(Arc::clone(p))
            }
            Some(_) => errors.push(format!("{field}: {name:?} is listed twice")),
            // With a broken profile directory the registry is empty: that error is enough.
            None if registry.is_empty() => {}
            None => errors.push(format!(
                "{field}: unknown profile {name:?} (known: {}; more from profile_dirs)",
                registry.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        }
    }
    out
}

fn v3_credentials(d: &DeviceConfig, at: &str, errors: &mut Vec<String>) -> Option<Credentials> {
    let user = match &d.user {
        Some(u) if !u.is_empty() && u.len() <= 32 => u.clone(),
        _ => {
            errors.push(format!(
                "{at}.user: needed for version \"3\" (1 to 32 characters)"
            ));
            return None;
        }
    };
    let auth = protocol_key(
        at,
        ("auth", "sha"),
        d.auth_protocol,
        (
            d.auth_password.as_deref(),
            d.auth_password_file.as_deref(),
            d.auth_password_env.as_deref(),
        ),
        errors,
    );
    let privacy = protocol_key(
        at,
        ("priv", "aes"),
        d.priv_protocol,
        (
            d.priv_password.as_deref(),
            d.priv_password_file.as_deref(),
            d.priv_password_env.as_deref(),
        ),
        errors,
    );
    if privacy.is_some() && auth.is_none() && d.auth_protocol.is_none() {
        errors.push(format!(
            "{at}.priv_protocol: privacy needs authentication too (auth_protocol, auth_password)"
        ));
    }
    Some(Credentials::V3 {
        user,
        auth,
        privacy,
        context: d.context.clone().unwrap_or_default(),
    })
}

/// The source of one secret option, its problems added to `errors`.
fn secret(
    at: &str,
    name: &str,
    inline: Option<&str>,
    file: Option<&std::path::Path>,
    env: Option<&str>,
    errors: &mut Vec<String>,
) -> Option<Secret> {
    Secret::choose(name, inline, file, env)
        .map_err(|e| errors.push(format!("{at}.{e}")))
        .ok()
        .flatten()
}

/// The inline, file and environment forms of one secret option.
type SecretForms<'a> = (
    Option<&'a str>,
    Option<&'a std::path::Path>,
    Option<&'a str>,
);

/// A v3 protocol (`<kind>_protocol`) and its key (`<kind>_password` in any form): both or
/// neither. `example` is a protocol to suggest when only the key is set.
fn protocol_key<P>(
    at: &str,
    (kind, example): (&str, &str),
    protocol: Option<P>,
    (inline, file, env): SecretForms<'_>,
    errors: &mut Vec<String>,
) -> Option<(P, Secret)> {
    let name = format!("{kind}_password");
    match (protocol, secret(at, &name, inline, file, env, errors)) {
        (None, None) => None,
        (None, Some(_)) => {
            errors.push(format!(
                "{at}.{kind}_protocol: missing (e.g. \"{example}\")"
            ));
            None
        }
        (Some(protocol), source) => key(at, &name, source, errors).map(|k| (protocol, k)),
    }
}

/// A v3 key: present, readable now (so a bad file fails at start-up) and long enough.
fn key(at: &str, name: &str, source: Option<Secret>, errors: &mut Vec<String>) -> Option<Secret> {
    let Some(source) = source else {
        errors.push(format!(
            "{at}.{name}: missing (or {name}_file / {name}_env)"
        ));
        return None;
    };
    match source.read() {
        Ok(k) if k.len() >= 8 => Some(source),
        Ok(_) => {
            errors.push(format!("{at}.{name}: must be at least 8 characters"));
            None
        }
        Err(e) => {
            errors.push(format!("{at}.{e}"));
            None
        }
    }
}

/// A v2c device's community: its own, else the section's; readable now.
fn community(
    section: &SnmpConfig,
    d: &DeviceConfig,
    at: &str,
    errors: &mut Vec<String>,
) -> Option<Secret> {
    let own = secret(
        at,
        "community",
        d.community.as_deref(),
        d.community_file.as_deref(),
        d.community_env.as_deref(),
        errors,
    );
    let shared = || {
        secret(
            "section",
            "community",
            section.community.as_deref(),
            section.community_file.as_deref(),
            section.community_env.as_deref(),
            errors,
        )
    };
    let Some(source) = own.or_else(shared) else {
        errors.push(format!(
            "{at}.community: needed for version \"2c\" (here or in the section; or community_file / community_env)"
        ));
        return None;
    };
    match source.read() {
        Ok(_) => Some(source),
        Err(e) => {
            errors.push(format!("{at}.{e}"));
            None
        }
    }
}

fn check_custom(c: &CustomOid, at: &str) -> Result<CustomSettings, Vec<String>> {
    let mut errors = Vec::new();
    if !is_metric_name(&c.name) {
        errors.push(format!(
            "{at}.name: {:?} is not a snake_case metric name",
            c.name
        ));
    }
    if c.kind == CustomKind::Counter && !c.name.ends_with("_per_second") {
        errors.push(format!(
            "{at}.name: a counter is reported as a rate, so its name must end in _per_second"
        ));
    }
    let oid = parse_oid(&c.oid).map_err(|e| errors.push(format!("{at}.oid: {e}")));
    for (i, l) in c.index_labels.iter().enumerate() {
        if !is_label_name(l) {
            errors.push(format!(
                "{at}.index_labels[{i}]: {l:?} is not a usable label name"
            ));
        }
    }
    let mut lookups = Vec::new();
    for (label, oid) in &c.lookups {
        if !is_label_name(label) {
            errors.push(format!(
                "{at}.lookups: {label:?} is not a usable label name"
            ));
        }
        match parse_oid(oid) {
            Ok(o) => lookups.push((label.clone(), o)),
            Err(e) => errors.push(format!("{at}.lookups.{label}: {e}")),
        }
    }
    if !c.scale.is_finite() || c.scale == 0.0 {
        errors.push(format!("{at}.scale: must be a finite, non-zero number"));
    }
    match oid {
        Ok(oid) if errors.is_empty() => Ok(CustomSettings {
            name: c.name.clone(),
            scalar: oid.last() == Some(&0),
            oid,
            kind: c.kind,
            index_labels: c.index_labels.clone(),
            lookups,
            scale: c.scale,
        }),
        _ => Err(errors),
    }
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address, with 161 as the default port.
pub fn split_address(address: &str) -> (String, u16) {
    if let Ok(sa) = address.parse::<SocketAddr>() {
        return (sa.ip().to_string(), sa.port());
    }
    if address.parse::<std::net::IpAddr>().is_ok() {
        return (address.to_owned(), 161);
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host.to_owned(), port),
            Err(_) => (address.to_owned(), 161),
        },
        _ => (address.to_owned(), 161),
    }
}
