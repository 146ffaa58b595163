//! SNMP trap receiver (`type = "snmp_trap"`): gear sends its notifications (linkDown/linkUp,
//! coldStart, a UPS going on battery, an array's disk failing...) to the agent, which turns
//! them into samples per device: counts by trap, and the link state the latest linkUp /
//! linkDown reported. SNMPv1 and v2c traps, v2c informs (acknowledged), SNMPv3 traps with
//! USM (authNoPriv, authPriv).
//!
//! Emits `snmp_trap_up`, `snmp_traps_total{device,trap}`, `snmp_traps{device,trap}` (during the
//! last interval), `snmp_trap_if_oper_up{device,ifindex}`, `snmp_trap_dropped_total{reason}`,
//! `snmp_trap_inform_response_failures_total`, `snmp_trap_devices` and
//! `snmp_trap_device_overflow_total`. See `README.md` beside this file.

mod counts;
pub mod decode;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;
use tokio::net::UdpSocket;

use crate::receiver::{LogEvery, Progress, Tasks};
use crate::sample_out::{Failing, Out, interval_duration};
use crate::secret::Secret;
use crate::snmp::{AuthProto, PrivProto, Val};
use crate::{CollectContext, DEFAULT_INTERVAL, Probe, ProbeError};
use counts::Counts;
use decode::{Notification, Refused, Security, User};

/// Configuration of one `[[probe]] type = "snmp_trap"` section: one UDP port and the
/// credentials traps must carry.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SnmpTrapConfig {
    /// How often the counts are reported. Default `"10s"`; `snmp_traps` counts the traps of
    /// this interval.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// UDP address to receive on. Default `"0.0.0.0:162"` (the trap port; below 1024, so the
    /// agent needs `CAP_NET_BIND_SERVICE`, or use a port above 1023 and point the gear at it).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Communities accepted on SNMPv1 and v2c traps and informs. Without any (here or in
    /// `community_file` / `community_env`) v1 and v2c are refused.
    #[serde(default)]
    pub communities: Vec<String>,
    /// File whose first line is one more accepted community (`chmod 600`).
    #[serde(default)]
    pub community_file: Option<PathBuf>,
    /// Environment variable holding one more accepted community.
    #[serde(default)]
    pub community_env: Option<String>,
    /// SNMPv3 users, `[[probe.user]]`.
    #[serde(default, rename = "user")]
    pub users: Vec<TrapUserConfig>,
    /// Names for vendor trap OIDs, `[[probe.trap]]`; others are labelled with their OID.
    #[serde(default, rename = "trap")]
    pub traps: Vec<TrapNameConfig>,
    /// Most devices counted separately; traps from further senders count under
    /// `device="_other"`. Default 1000.
    #[serde(default = "default_max_devices")]
    pub max_devices: usize,
    /// Names for sender addresses, e.g. `{ "192.0.2.10" = "core-sw1" }`.
    #[serde(default)]
    pub device_names: BTreeMap<String, String>,
}

/// One `[[probe.user]]`: an SNMPv3 user traps are sent as.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrapUserConfig {
    /// The USM user name (`snmptrap -u`).
    pub name: String,
    /// `"md5"`, `"sha"`, `"sha224"`, `"sha256"`, `"sha384"`, `"sha512"`. Without it the user
    /// is noAuthNoPriv (anyone who knows the name can send as it).
    #[serde(default)]
    pub auth_protocol: Option<AuthProto>,
    /// The authentication password (8 characters or more), or its `_file` / `_env` form.
    #[serde(default)]
    pub auth_password: Option<String>,
    #[serde(default)]
    pub auth_password_file: Option<PathBuf>,
    #[serde(default)]
    pub auth_password_env: Option<String>,
    /// `"des"`, `"3des"`, `"aes"`, `"aes192"`, `"aes256"`, `"aes192c"`, `"aes256c"`: gives
    /// authPriv.
    #[serde(default)]
    pub priv_protocol: Option<PrivProto>,
    /// The privacy password, or its `_file` / `_env` form.
    #[serde(default)]
    pub priv_password: Option<String>,
    #[serde(default)]
    pub priv_password_file: Option<PathBuf>,
    #[serde(default)]
    pub priv_password_env: Option<String>,
}

/// One `[[probe.trap]]`: the `trap` label of a vendor notification OID.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrapNameConfig {
    /// The notification's OID (snmpTrapOID.0; for SNMPv1 `enterprise.0.specific`), numeric.
    pub oid: String,
    /// The label, e.g. `"ciscoConfigManEvent"`.
    pub name: String,
}

fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_listen() -> String {
    "0.0.0.0:162".to_owned()
}
fn default_max_devices() -> usize {
    1000
}

/// snmpTraps (RFC 3418): the generic notifications, named as the MIB names them.
const STANDARD_TRAPS: [(&[u32], &str); 6] = [
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 1], "coldStart"),
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 2], "warmStart"),
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 3], "linkDown"),
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 4], "linkUp"),
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 5], "authenticationFailure"),
    (&[1, 3, 6, 1, 6, 3, 1, 1, 5, 6], "egpNeighborLoss"),
];
/// IF-MIB ifEntry: linkDown/linkUp carry ifIndex (column 1) and usually ifAdminStatus and
/// ifOperStatus at the interface's index.
const IF_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];

/// The `trap` label of a notification OID.
fn trap_name(names: &HashMap<Vec<u32>, String>, trap_oid: &[u32]) -> String {
    if let Some((_, name)) = STANDARD_TRAPS.iter().find(|(o, _)| *o == trap_oid) {
        return (*name).to_owned();
    }
    names
        .get(trap_oid)
        .cloned()
        .unwrap_or_else(|| crate::snmp::dotted(trap_oid))
}

/// The ifIndex a linkDown/linkUp is about: the value of its ifIndex varbind, else the index
/// of any ifEntry column it carries.
fn link_index(varbinds: &[(Vec<u32>, Val)]) -> Option<u32> {
    let column = |oid: &[u32]| {
        oid.strip_prefix(IF_ENTRY)
            .filter(|rest| rest.len() == 2)
            .map(|rest| (rest[0], rest[1]))
    };
    let by_value = varbinds.iter().find_map(|(oid, v)| match column(oid) {
        Some((1, _)) => v.int().and_then(|i| u32::try_from(i).ok()),
        _ => None,
    });
    by_value.or_else(|| {
        varbinds
            .iter()
            .find_map(|(oid, _)| column(oid).map(|c| c.1))
    })
}

/// The checked form of [`SnmpTrapConfig`].
struct Settings {
    listen: SocketAddr,
    security: Security,
    names: HashMap<Vec<u32>, String>,
    device_names: BTreeMap<IpAddr, String>,
}

/// A secret option of a user: at most one form, readable, at least 8 characters.
fn password(
    at: &str,
    name: &str,
    forms: (Option<&str>, Option<&std::path::Path>, Option<&str>),
    errors: &mut Vec<String>,
) -> Option<String> {
    let source = match Secret::choose(name, forms.0, forms.1, forms.2) {
        Ok(s) => s?,
        Err(e) => {
            errors.push(format!("{at}.{e}"));
            return None;
        }
    };
    match source.read() {
        Ok(p) if p.len() >= 8 => Some(p),
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

fn user(u: &TrapUserConfig, at: &str, errors: &mut Vec<String>) -> Option<User> {
    if u.name.is_empty() || u.name.len() > 32 {
        errors.push(format!("{at}.name: 1 to 32 characters"));
    }
    let auth_pw = password(
        at,
        "auth_password",
        (
            u.auth_password.as_deref(),
            u.auth_password_file.as_deref(),
            u.auth_password_env.as_deref(),
        ),
        errors,
    );
    let priv_pw = password(
        at,
        "priv_password",
        (
            u.priv_password.as_deref(),
            u.priv_password_file.as_deref(),
            u.priv_password_env.as_deref(),
        ),
        errors,
    );
    let auth = match (u.auth_protocol, auth_pw) {
        (None, None) => None,
        (Some(p), Some(pw)) => {
            let protocol = crate::snmp::session::auth_protocol(p);
            match async_snmp::MasterKey::from_password(protocol, pw.as_bytes()) {
                Ok(master) => Some((protocol, master)),
                Err(e) => {
                    errors.push(format!("{at}.auth_password: {e}"));
                    None
                }
            }
        }
        (None, Some(_)) => {
            errors.push(format!("{at}.auth_protocol: missing (e.g. \"sha\")"));
            None
        }
        (Some(_), None) => {
            errors.push(format!("{at}.auth_password: missing (or _file / _env)"));
            None
        }
    };
    let privacy = match (u.priv_protocol, priv_pw, &auth) {
        (None, None, _) => None,
        (Some(p), Some(pw), Some((auth_protocol, _))) => {
            match async_snmp::MasterKey::from_password(*auth_protocol, pw.as_bytes()) {
                Ok(master) => Some((crate::snmp::session::priv_protocol(p), master)),
                Err(e) => {
                    errors.push(format!("{at}.priv_password: {e}"));
                    None
                }
            }
        }
        (Some(_), Some(_), None) => {
            errors.push(format!(
                "{at}.priv_protocol: privacy needs authentication too (auth_protocol, auth_password)"
            ));
            None
        }
        (None, Some(_), _) => {
            errors.push(format!("{at}.priv_protocol: missing (e.g. \"aes\")"));
            None
        }
        (Some(_), None, _) => {
            errors.push(format!("{at}.priv_password: missing (or _file / _env)"));
            None
        }
    };
    Some(User { auth, privacy })
}

impl SnmpTrapConfig {
    /// Checks every field and reports all problems at once, each naming its field. Reads
    /// the secrets once and derives the v3 master keys (a changed password takes a reload).
    fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let listen = self.listen.parse().map_err(|_| {
            errors.push(format!(
                "listen: {:?} is not IP:port (e.g. \"0.0.0.0:162\")",
                self.listen
            ));
        });
        if self.max_devices == 0 {
            errors.push("max_devices: must be at least 1".to_owned());
        }
        let mut communities: Vec<async_snmp::Community> = Vec::new();
        for (i, c) in self.communities.iter().enumerate() {
            if c.is_empty() {
                errors.push(format!("communities[{i}]: must not be empty"));
            }
            communities.push(c.as_str().into());
        }
        match Secret::choose(
            "community",
            None,
            self.community_file.as_deref(),
            self.community_env.as_deref(),
        ) {
            Ok(Some(source)) => match source.read() {
                Ok(c) => communities.push(c.into()),
                Err(e) => errors.push(e),
            },
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
        let mut users = HashMap::new();
        for (i, u) in self.users.iter().enumerate() {
            let at = format!("user[{i}]");
            if let Some(keys) = user(u, &at, &mut errors)
                && users.insert(u.name.clone().into_bytes(), keys).is_some()
            {
                errors.push(format!("{at}.name: {:?} is listed twice", u.name));
            }
        }
        if communities.is_empty() && self.users.is_empty() {
            errors.push(
                "communities / user: accept at least one community (v1, v2c) or [[probe.user]] (v3)"
                    .to_owned(),
            );
        }
        let mut names = HashMap::new();
        for (i, t) in self.traps.iter().enumerate() {
            let valid = !t.name.is_empty()
                && t.name.len() <= 64
                && t.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                errors.push(format!(
                    "trap[{i}].name: {:?} must be 1 to 64 letters, digits, '_' or '-'",
                    t.name
                ));
            }
            match crate::snmp::parse_oid(&t.oid) {
                Ok(oid) => {
                    names.insert(oid, t.name.clone());
                }
                Err(e) => errors.push(format!("trap[{i}].oid: {e}")),
            }
        }
        let mut device_names = BTreeMap::new();
        for (addr, name) in &self.device_names {
            match addr.parse::<IpAddr>() {
                Ok(ip) if !name.trim().is_empty() => {
                    device_names.insert(ip.to_canonical(), name.clone());
                }
                Ok(_) => errors.push(format!("device_names.{addr:?}: the name is empty")),
                Err(_) => errors.push(format!(
                    "device_names: {addr:?} is not an IP address (keys are sender addresses)"
                )),
            }
        }
        match listen {
            Ok(listen) if errors.is_empty() => Ok(Settings {
                listen,
                security: Security::new(communities, users),
                names,
                device_names,
            }),
            _ => Err(ProbeError::Config(format!(
                "snmp_trap: {}",
                errors.join("; ")
            ))),
        }
    }
}

/// State shared by the listener task and the probe.
struct Shared {
    security: Mutex<Security>,
    names: HashMap<Vec<u32>, String>,
    device_names: BTreeMap<IpAddr, String>,
    counts: Mutex<Counts>,
    progress: Progress,
    /// Monotonic origin of the seconds the USM time window is kept in.
    started: Instant,
    refused: Mutex<HashMap<Refused, LogEvery>>,
    io_errors: LogEvery,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Usable after a task panicked while holding it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn device(&self, peer: IpAddr) -> String {
        self.device_names
            .get(&peer)
            .cloned()
            .unwrap_or_else(|| peer.to_string())
    }

    /// Decodes and counts one datagram; the inform response to send back, if any.
    fn handle(&self, peer: SocketAddr, datagram: &[u8]) -> Option<Vec<u8>> {
        let ip = peer.ip().to_canonical();
        let now_s = self.started.elapsed().as_secs() as i64;
        let decoded = decode::decode(datagram, &mut lock(&self.security), now_s);
        let response = match decoded {
            Ok(Notification {
                trap_oid,
                varbinds,
                response,
                version,
                ..
            }) => {
                let trap = trap_name(&self.names, &trap_oid);
                let link = match trap.as_str() {
                    "linkDown" => link_index(&varbinds).map(|i| (i, false)),
                    "linkUp" => link_index(&varbinds).map(|i| (i, true)),
                    _ => None,
                };
                let device = self.device(ip);
                tracing::debug!(probe = "snmp_trap", %device, version, %trap, "trap received");
                lock(&self.counts).trap(&device, &trap, link);
                response
            }
            Err(why) => {
                lock(&self.counts).dropped(why);
                let log = lock(&self.refused)
                    .entry(why)
                    .or_insert_with(|| LogEvery::new(1000))
                    .tick();
                if let Some(n) = log {
                    tracing::warn!(probe = "snmp_trap", %peer, dropped = n,
                        "datagram dropped: {why}; counted in snmp_trap_dropped_total{{reason=\"{}\"}}, logged again every 1000th",
                        why.name());
                }
                None
            }
        };
        self.progress.handled_one();
        response
    }
}

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

async fn run(socket: UdpSocket, shared: Arc<Shared>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                if shared.io_errors.tick().is_some() {
                    tracing::warn!(probe = "snmp_trap", error = %e, "UDP receive failed");
                }
                continue;
            }
        };
        if let Some(response) = shared.handle(peer, &buf[..n])
            && let Err(e) = socket.send_to(&response, peer).await
        {
            lock(&shared.counts).inform_failed();
            if shared.io_errors.tick().is_some() {
                tracing::warn!(probe = "snmp_trap", %peer, error = %e, "inform response not sent");
            }
        }
    }
}

/// The running trap receiver.
#[derive(Debug)]
pub struct SnmpTrapProbe {
    shared: Arc<Shared>,
    listen: SocketAddr,
    running: Option<(SocketAddr, Tasks)>,
    failing: Failing,
}

impl SnmpTrapProbe {
    pub fn new(config: &SnmpTrapConfig) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        Ok(Self {
            shared: Arc::new(Shared {
                security: Mutex::new(settings.security),
                names: settings.names,
                device_names: settings.device_names,
                counts: Mutex::new(Counts::new(config.max_devices)),
                progress: Progress::default(),
                started: Instant::now(),
                refused: Mutex::new(HashMap::new()),
                io_errors: LogEvery::new(1000),
            }),
            listen: settings.listen,
            running: None,
            failing: Failing::new("snmp_trap"),
        })
    }

    /// The bound address once listening (the port the system chose for port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.running.as_ref().map(|(a, _)| *a)
    }

    /// Datagrams handled so far, accepted or dropped.
    pub fn handled(&self) -> u64 {
        self.shared.progress.handled()
    }

    /// Waits until `n` datagrams were handled or `within` passed; whether they were.
    pub async fn wait_handled(&self, n: u64, within: Duration) -> bool {
        self.shared.progress.wait_for(n, within).await
    }

    fn start(&mut self) -> bool {
        if self.running.is_some() {
            return true;
        }
        let source = format!("udp {}", self.listen);
        let bound = crate::syslog::bind_udp(self.listen).and_then(|s| Ok((s.local_addr()?, s)));
        match bound {
            Ok((local, socket)) => {
                self.failing.recovered(&source);
                tracing::info!(probe = "snmp_trap", %local, "listening");
                let mut tasks = Tasks::default();
                tasks.push(tokio::spawn(run(socket, Arc::clone(&self.shared))));
                self.running = Some((local, tasks));
                true
            }
            Err(e) => {
                let hint = match e.kind() {
                    std::io::ErrorKind::PermissionDenied => {
                        " (port 162 needs root or CAP_NET_BIND_SERVICE: grant the agent the capability or listen above 1023)"
                    }
                    std::io::ErrorKind::AddrInUse => {
                        " (snmptrapd or another program holds it; retried every round)"
                    }
                    _ => "",
                };
                self.failing
                    .failed(&source, &format!("cannot listen on {source}: {e}{hint}"));
                false
            }
        }
    }
}

#[async_trait]
impl Probe for SnmpTrapProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let mut out = Out::new(out, ctx.now_ms);
        let up = self.start();
        out.flag("snmp_trap_up", [], up);
        lock(&self.shared.counts).report(&mut out);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
