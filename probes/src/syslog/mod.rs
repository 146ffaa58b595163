//! Syslog receiver (`type = "syslog"`): the agent listens for the logs of switches, firewalls,
//! storage arrays and appliances over UDP and TCP (RFC 3164 and RFC 5424; RFC 6587 framing on
//! TCP) and counts them per device: by severity, and by named patterns.
//!
//! Emits `syslog_up{transport}`, `syslog_messages_total{device,severity}`,
//! `syslog_pattern_matches_total{device,pattern}`, `syslog_pattern_matches{device,pattern}`
//! (during the last interval), `syslog_dropped_total{transport,reason}`,
//! `syslog_truncated_total{transport}`, `syslog_devices`, `syslog_device_overflow_total` and
//! `syslog_tcp_connections`. See `README.md` beside this file.
//!
//! Unlike the polled probes it runs all the time: the listeners start at the first collection
//! (see `crate::receiver`) and count into shared state; each collection reports the counts.
//! Messages are counted, not stored or forwarded.

mod counts;
mod framing;
mod listen;
pub mod parse;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use regex::bytes::RegexSet;
use serde::Deserialize;

use crate::receiver::{LogEvery, Progress, Tasks};
use crate::sample_out::{Failing, Out, interval_duration};
use crate::{CollectContext, DEFAULT_INTERVAL, Probe, ProbeError};
use counts::{Counts, Dropped, Transport};
pub use framing::{Frame, Framer};
pub(crate) use listen::bind_udp;

/// Configuration of one `[[probe]] type = "syslog"` section: one or two listeners and what
/// to count.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    /// How often the counts are reported. Default `"10s"`; `syslog_pattern_matches` counts
    /// the matches of this interval.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// UDP address to receive on, e.g. `"0.0.0.0:514"` (port 514 needs root or
    /// `CAP_NET_BIND_SERVICE`; devices can usually send to another port). At least one of
    /// `listen_udp` and `listen_tcp`.
    #[serde(default)]
    pub listen_udp: Option<String>,
    /// TCP address to accept connections on, e.g. `"0.0.0.0:514"` or `"[::]:6514"`.
    #[serde(default)]
    pub listen_tcp: Option<String>,
    /// Longest message kept, in bytes; longer ones are cut to it and counted in
    /// `syslog_truncated_total`. Default 8192 (RFC 5424 receivers should take 2048).
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    /// Most devices counted separately; messages from further senders are counted under
    /// `device="_other"` and in `syslog_device_overflow_total`. Default 1000.
    #[serde(default = "default_max_devices")]
    pub max_devices: usize,
    /// Most TCP connections open at once; more are refused and counted. Default 256.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A TCP connection silent this long is closed (senders reconnect). Default `"10m"`.
    #[serde(
        default = "default_idle_timeout",
        deserialize_with = "idle_timeout_duration"
    )]
    pub idle_timeout: Duration,
    /// Where the `device` label comes from: `"address"` (default: the sender's IP address)
    /// or `"hostname"` (the message's host name field, else the address; use it behind a
    /// relay, where every message comes from the relay's address).
    #[serde(default)]
    pub device_from: DeviceFrom,
    /// Names for sender addresses, e.g. `{ "192.0.2.10" = "core-sw1" }`: the name becomes
    /// the `device` label.
    #[serde(default)]
    pub device_names: BTreeMap<String, String>,
    /// Patterns counted per device, `[[probe.pattern]]`.
    #[serde(default, rename = "pattern")]
    pub patterns: Vec<PatternConfig>,
}

/// One `[[probe.pattern]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// The `pattern` label, e.g. `"link_down"`.
    pub name: String,
    /// Regular expression (Rust `regex` syntax) searched in the message text (the MSG part,
    /// after the header); a message counts once per pattern.
    pub regex: String,
}

/// The source of the `device` label.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFrom {
    #[default]
    Address,
    Hostname,
}

fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_max_message() -> usize {
    8192
}
fn default_max_devices() -> usize {
    1000
}
fn default_max_connections() -> usize {
    256
}
fn default_idle_timeout() -> Duration {
    Duration::from_secs(600)
}
crate::sample_out::duration_field!(idle_timeout_duration, "idle_timeout");

/// Most patterns per section: each is tried on every message.
const MAX_PATTERNS: usize = 64;
/// Largest `max_message_bytes` accepted (RFC 5426: a UDP datagram is at most 65535 bytes).
const MAX_MESSAGE_LIMIT: usize = 65_535;

/// The checked form of [`SyslogConfig`].
#[derive(Debug)]
pub(crate) struct Settings {
    udp: Option<SocketAddr>,
    tcp: Option<SocketAddr>,
    max_message_bytes: usize,
    max_connections: usize,
    idle_timeout: Duration,
    device_from: DeviceFrom,
    device_names: BTreeMap<IpAddr, String>,
    patterns: RegexSet,
    pattern_names: Vec<String>,
}

fn address(field: &str, text: &Option<String>, errors: &mut Vec<String>) -> Option<SocketAddr> {
    let text = text.as_deref()?;
    match text.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            errors.push(format!(
                "{field}: {text:?} is not IP:port (e.g. \"0.0.0.0:514\" or \"[::]:514\")"
            ));
            None
        }
    }
}

impl SyslogConfig {
    /// Checks every field and reports all problems at once, each naming its field.
    pub(crate) fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let udp = address("listen_udp", &self.listen_udp, &mut errors);
        let tcp = address("listen_tcp", &self.listen_tcp, &mut errors);
        if self.listen_udp.is_none() && self.listen_tcp.is_none() {
            errors.push("listen_udp / listen_tcp: set at least one".to_owned());
        }
        if !(480..=MAX_MESSAGE_LIMIT).contains(&self.max_message_bytes) {
            errors.push(format!(
                "max_message_bytes: must be between 480 (RFC 5424's minimum) and {MAX_MESSAGE_LIMIT}"
            ));
        }
        if self.max_devices == 0 {
            errors.push("max_devices: must be at least 1".to_owned());
        }
        if self.max_connections == 0 {
            errors.push("max_connections: must be at least 1".to_owned());
        }
        if self.idle_timeout.is_zero() {
            errors.push("idle_timeout: must be greater than 0".to_owned());
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
        if self.patterns.len() > MAX_PATTERNS {
            errors.push(format!("pattern: at most {MAX_PATTERNS}"));
        }
        for (i, p) in self.patterns.iter().enumerate() {
            if p.name.trim().is_empty() || p.name.len() > 64 {
                errors.push(format!("pattern[{i}].name: 1 to 64 characters"));
            }
            if self.patterns[..i].iter().any(|o| o.name == p.name) {
                errors.push(format!("pattern[{i}].name: {:?} is listed twice", p.name));
            }
            if let Err(e) = regex::bytes::Regex::new(&p.regex) {
                errors.push(format!("pattern[{i}].regex: {e}"));
            }
        }
        let patterns = RegexSet::new(self.patterns.iter().map(|p| p.regex.as_str()));
        match patterns {
            Ok(patterns) if errors.is_empty() => Ok(Settings {
                udp,
                tcp,
                max_message_bytes: self.max_message_bytes,
                max_connections: self.max_connections,
                idle_timeout: self.idle_timeout,
                device_from: self.device_from,
                device_names,
                patterns,
                pattern_names: self.patterns.iter().map(|p| p.name.clone()).collect(),
            }),
            _ => Err(ProbeError::Config(format!("syslog: {}", errors.join("; ")))),
        }
    }
}

/// State shared by the listener tasks and the probe.
#[derive(Debug)]
pub(crate) struct Shared {
    settings: Settings,
    counts: Mutex<Counts>,
    connections: AtomicUsize,
    progress: Progress,
    /// Rate limits for the log lines of bad input, refused connections and socket errors.
    bad_input: LogEvery,
    refused: LogEvery,
    io_errors: LogEvery,
}

/// The counts stay usable after a listener task panicked while holding the lock.
fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    /// Parses and counts one message.
    fn handle(&self, transport: Transport, peer: IpAddr, bytes: &[u8], truncated: bool) {
        let peer = peer.to_canonical();
        match parse::parse(bytes) {
            Ok(message) => {
                let device = match (self.settings.device_from, message.hostname) {
                    (DeviceFrom::Hostname, Some(host)) => host.to_owned(),
                    _ => self
                        .settings
                        .device_names
                        .get(&peer)
                        .cloned()
                        .unwrap_or_else(|| peer.to_string()),
                };
                let matched: Vec<usize> = if self.settings.pattern_names.is_empty() {
                    Vec::new()
                } else {
                    self.settings
                        .patterns
                        .matches(message.msg)
                        .into_iter()
                        .collect()
                };
                let mut counts = lock(&self.counts);
                if truncated {
                    counts.truncated(transport);
                }
                counts.message(
                    &device,
                    message.severity,
                    &matched,
                    self.settings.pattern_names.len(),
                );
            }
            Err(why) => {
                lock(&self.counts).dropped(transport, Dropped::Malformed);
                if let Some(n) = self.bad_input.tick() {
                    tracing::warn!(probe = "syslog", %peer, transport = transport.name(), dropped = n,
                        "malformed syslog message dropped: {why}; counted in syslog_dropped_total, logged again every 1000th");
                }
            }
        }
        self.progress.handled_one();
    }
}

/// The running syslog probe.
#[derive(Debug)]
pub struct SyslogProbe {
    shared: Arc<Shared>,
    udp: Listener,
    tcp: Listener,
    failing: Failing,
}

/// One listener: not wanted, bound (with its task), or not bound yet.
#[derive(Debug)]
enum Listener {
    Off,
    Pending(SocketAddr),
    Running { local: SocketAddr, _task: Tasks },
}

impl SyslogProbe {
    pub fn new(config: &SyslogConfig) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        let listener = |a: Option<SocketAddr>| a.map_or(Listener::Off, Listener::Pending);
        let (udp, tcp) = (listener(settings.udp), listener(settings.tcp));
        Ok(Self {
            shared: Arc::new(Shared {
                settings,
                counts: Mutex::new(Counts::new(config.max_devices)),
                connections: AtomicUsize::new(0),
                progress: Progress::default(),
                bad_input: LogEvery::new(1000),
                refused: LogEvery::new(1000),
                io_errors: LogEvery::new(1000),
            }),
            udp,
            tcp,
            failing: Failing::new("syslog"),
        })
    }

    /// The bound addresses (UDP, TCP) once listening: with port 0 in the config, the ports
    /// the system chose.
    pub fn local_addrs(&self) -> (Option<SocketAddr>, Option<SocketAddr>) {
        let local = |l: &Listener| match l {
            Listener::Running { local, .. } => Some(*local),
            _ => None,
        };
        (local(&self.udp), local(&self.tcp))
    }

    /// Messages (and framing errors) handled so far, counted or dropped.
    pub fn handled(&self) -> u64 {
        self.shared.progress.handled()
    }

    /// Waits until `n` messages were handled or `within` passed; whether they were.
    pub async fn wait_handled(&self, n: u64, within: Duration) -> bool {
        self.shared.progress.wait_for(n, within).await
    }

    /// Binds the listeners not bound yet; each reports its own `syslog_up`.
    fn start(&mut self, out: &mut Out<'_>) {
        for transport in [Transport::Udp, Transport::Tcp] {
            let slot = match transport {
                Transport::Udp => &mut self.udp,
                Transport::Tcp => &mut self.tcp,
            };
            let address = match slot {
                Listener::Off => continue,
                Listener::Running { .. } => {
                    out.push("syslog_up", [("transport", transport.name())], 1.0);
                    continue;
                }
                Listener::Pending(address) => *address,
            };
            let source = format!("{} {address}", transport.name());
            let shared = Arc::clone(&self.shared);
            let bound = match transport {
                Transport::Udp => listen::bind_udp(address).and_then(|s| {
                    let local = s.local_addr()?;
                    Ok((local, tokio::spawn(listen::run_udp(s, shared))))
                }),
                Transport::Tcp => listen::bind_tcp(address).and_then(|l| {
                    let local = l.local_addr()?;
                    Ok((local, tokio::spawn(listen::run_tcp(l, shared))))
                }),
            };
            match bound {
                Ok((local, task)) => {
                    self.failing.recovered(&source);
                    tracing::info!(probe = "syslog", transport = transport.name(), %local, "listening");
                    let mut tasks = Tasks::default();
                    tasks.push(task);
                    *slot = Listener::Running {
                        local,
                        _task: tasks,
                    };
                    out.push("syslog_up", [("transport", transport.name())], 1.0);
                }
                Err(e) => {
                    let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                        " (ports below 1024 need root or CAP_NET_BIND_SERVICE: grant the agent the capability or use a port above 1023)"
                    } else if e.kind() == std::io::ErrorKind::AddrInUse {
                        " (another program, or a previous syslog section, holds it; retried every round)"
                    } else {
                        ""
                    };
                    self.failing
                        .failed(&source, &format!("cannot listen on {source}: {e}{hint}"));
                    out.push("syslog_up", [("transport", transport.name())], 0.0);
                }
            }
        }
    }
}

#[async_trait]
impl Probe for SyslogProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let mut out = Out::new(out, ctx.now_ms);
        self.start(&mut out);
        let shared = &self.shared;
        lock(&shared.counts).report(&shared.settings.pattern_names, &mut out);
        if self.shared.settings.tcp.is_some() {
            out.push(
                "syslog_tcp_connections",
                [],
                shared.connections.load(Ordering::Relaxed) as f64,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
