//! Patrol's probes. A probe is one module (`probes/src/<probe>/`) with its config struct, a
//! `README.md` listing the metrics it emits and a `sample.toml`; registering it is one variant
//! of [`ProbeConfig`].
//!
//! A probe reports only its own labels (`mount`, `device`, ...). The agent adds `host` and the
//! static labels, so probes stay unaware of where they run.

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

pub mod catalog;
pub mod host;
/// Facts, not samples: what the host is (DMI, OS, CPU, memory, addresses, Oracle and WebLogic
/// homes). Gathered by the agent beside the probes.
pub mod inventory;
pub mod oracle;
pub mod snmp;
// weblogic: log probes and the generic pieces under them (tail, dir, log_pattern).
pub mod dir;
pub mod log_pattern;
pub mod tail;
pub mod weblogic;
// Network and hardware probes (issue 4, h/net).
pub mod hwmon;
pub mod mdstat;
pub mod ping;
mod sample_out;
/// Secrets from files or environment variables (Oracle, SNMP).
pub mod secret;
pub mod sockets;
pub mod trace;
// Service checks, processes, files and the escape hatch (h/probes).
pub mod dns;
pub mod exec;
pub mod files;
pub mod http;
pub mod process;
pub mod tcp;
pub mod textfile;
/// TLS for the http and tcp probes: certificate recording and days to expiry.
mod tls_peer;
// Device logs and traps, gear over SNMP and IPMI (h/gear).
pub mod ipmi;
mod receiver;
pub mod snmp_trap;
pub mod syslog;

/// Default interval between two collections of a probe.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// One `[[probe]]` section of the agent config, selected by its `type`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProbeConfig {
    /// CPU, memory, swap, disks, network, processes, uptime (sysinfo).
    Host(host::HostConfig),
    /// Network and storage gear over SNMP v2c/v3 (interfaces, CPU, fans, PSUs, temperatures).
    Snmp(snmp::SnmpConfig),
    /// One Oracle database: instance state, tablespaces, archive log, sessions, RMAN, alert log.
    Oracle(oracle::OracleConfig),
    /// Space used by a directory, of a quota or of its filesystem.
    Dir(dir::DirConfig),
    /// Counts regex matches in the records of a log file, rotation-aware.
    LogPattern(log_pattern::LogPatternConfig),
    /// WebLogic server logs: space used, messages by severity, STUCK threads, OOM.
    Weblogic(weblogic::WeblogicConfig),
    /// ICMP echo loss, round-trip time and jitter to many targets (surge-ping).
    Ping(ping::PingConfig),
    /// Hop count and per-hop responders to targets; detects route changes.
    Trace(trace::TraceConfig),
    /// TCP listeners on configured ports and connection counts (netstat2, sock_diag).
    Sockets(sockets::SocketsConfig),
    /// Temperatures and fans from /sys/class/hwmon.
    Hwmon(hwmon::HwmonConfig),
    /// Software RAID state from /proc/mdstat.
    Mdstat(mdstat::MdstatConfig),
    /// A command run as a Nagios plugin: exit code to state, perfdata to samples.
    Exec(exec::ExecConfig),
    /// `*.prom` files of a directory in the Prometheus text format (node_exporter's convention).
    Textfile(textfile::TextfileConfig),
    /// Freshness and size of files or directories matching glob patterns (dumps, backup sets).
    Files(files::FilesConfig),
    /// Processes by name, command line or pid file: up, count, CPU, memory, files, start.
    Process(process::ProcessConfig),
    /// An HTTP(S) check or login transaction: status, body, latency, redirects, cert expiry.
    Http(http::HttpConfig),
    /// A TCP connect, optionally TLS and send/expect; certificate expiry with TLS.
    Tcp(tcp::TcpConfig),
    /// A DNS lookup against a server or the system resolver: ok, latency, answers, expected.
    Dns(dns::DnsConfig),
    /// A syslog receiver (UDP, TCP; RFC 3164 and 5424): messages by device and severity,
    /// pattern matches.
    Syslog(syslog::SyslogConfig),
    /// An SNMP trap receiver (v1, v2c traps and informs, v3 USM): traps by device, link state.
    SnmpTrap(snmp_trap::SnmpTrapConfig),
    /// BMC sensors (fans, temperatures, voltages, power supplies) and event log via ipmitool.
    Ipmi(ipmi::IpmiConfig),
}

impl ProbeConfig {
    /// The probe's type name, as written in `type = "..."` and used in logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Host(_) => "host",
            Self::Snmp(_) => "snmp",
            Self::Oracle(_) => "oracle",
            Self::Dir(_) => "dir",
            Self::LogPattern(_) => "log_pattern",
            Self::Weblogic(_) => "weblogic",
            Self::Ping(_) => "ping",
            Self::Trace(_) => "trace",
            Self::Sockets(_) => "sockets",
            Self::Hwmon(_) => "hwmon",
            Self::Mdstat(_) => "mdstat",
            Self::Exec(_) => "exec",
            Self::Textfile(_) => "textfile",
            Self::Files(_) => "files",
            Self::Process(_) => "process",
            Self::Http(_) => "http",
            Self::Tcp(_) => "tcp",
            Self::Dns(_) => "dns",
            Self::Syslog(_) => "syslog",
            Self::SnmpTrap(_) => "snmp_trap",
            Self::Ipmi(_) => "ipmi",
        }
    }

    /// How often the agent runs the probe.
    pub fn interval(&self) -> Duration {
        match self {
            Self::Host(c) => c.interval,
            Self::Snmp(c) => c.interval,
            Self::Oracle(c) => c.interval,
            Self::Dir(c) => c.interval,
            Self::LogPattern(c) => c.interval,
            Self::Weblogic(c) => c.interval,
            Self::Ping(c) => c.interval,
            Self::Trace(c) => c.interval,
            Self::Sockets(c) => c.interval,
            Self::Hwmon(c) => c.interval,
            Self::Mdstat(c) => c.interval,
            Self::Exec(c) => c.interval,
            Self::Textfile(c) => c.interval,
            Self::Files(c) => c.interval,
            Self::Process(c) => c.interval,
            Self::Http(c) => c.interval,
            Self::Tcp(c) => c.interval,
            Self::Dns(c) => c.interval,
            Self::Syslog(c) => c.interval,
            Self::SnmpTrap(c) => c.interval,
            Self::Ipmi(c) => c.interval,
        }
    }

    /// Checks the config and builds a ready-to-run probe.
    pub fn build(&self, ctx: &BuildContext) -> Result<Box<dyn Probe>, ProbeError> {
        match self {
            Self::Host(c) => Ok(Box::new(host::HostProbe::new(c.clone())?)),
            Self::Snmp(c) => Ok(Box::new(snmp::SnmpProbe::new(c.clone())?)),
            Self::Oracle(c) => Ok(Box::new(oracle::OracleProbe::new(c.clone(), ctx)?)),
            Self::Dir(c) => Ok(Box::new(dir::DirProbe::new(c)?)),
            Self::LogPattern(c) => Ok(Box::new(log_pattern::LogPatternProbe::new(c, ctx)?)),
            Self::Weblogic(c) => Ok(Box::new(weblogic::WeblogicProbe::new(c, ctx)?)),
            Self::Ping(c) => Ok(Box::new(ping::PingProbe::new(c.clone())?)),
            Self::Trace(c) => Ok(Box::new(trace::TraceProbe::new(c.clone())?)),
            Self::Sockets(c) => Ok(Box::new(sockets::SocketsProbe::new(c.clone())?)),
            Self::Hwmon(c) => Ok(Box::new(hwmon::HwmonProbe::new(c.clone())?)),
            Self::Mdstat(c) => Ok(Box::new(mdstat::MdstatProbe::new(c.clone())?)),
            Self::Exec(c) => Ok(Box::new(exec::ExecProbe::new(c)?)),
            Self::Textfile(c) => Ok(Box::new(textfile::TextfileProbe::new(c)?)),
            Self::Files(c) => Ok(Box::new(files::FilesProbe::new(c)?)),
            Self::Process(c) => Ok(Box::new(process::ProcessProbe::new(c)?)),
            Self::Http(c) => Ok(Box::new(http::HttpProbe::new(c)?)),
            Self::Tcp(c) => Ok(Box::new(tcp::TcpProbe::new(c)?)),
            Self::Dns(c) => Ok(Box::new(dns::DnsProbe::new(c)?)),
            Self::Syslog(c) => Ok(Box::new(syslog::SyslogProbe::new(c)?)),
            Self::SnmpTrap(c) => Ok(Box::new(snmp_trap::SnmpTrapProbe::new(c)?)),
            Self::Ipmi(c) => Ok(Box::new(ipmi::IpmiProbe::new(c)?)),
        }
    }
}

/// What the agent gives every probe it builds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildContext {
    /// Directory where probes keep state across agent restarts (log read positions). Each
    /// probe uses files of its own below it.
    pub state_dir: PathBuf,
    /// `false` for runs that must leave the saved state alone (`patrol-agent --once`): saved
    /// positions are read but never written.
    pub persist_state: bool,
}

impl BuildContext {
    /// A context whose state lives in `state_dir` and is written back.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            persist_state: true,
        }
    }
}

/// Given to every collection.
#[derive(Debug, Clone, Copy)]
pub struct CollectContext {
    /// Timestamp for the samples of this round (ms since the Unix epoch).
    pub now_ms: i64,
}

/// A running probe. The agent calls `collect` once per interval, never concurrently with itself.
#[async_trait]
pub trait Probe: Send {
    /// Appends this round's samples to `out`. A failing target should become a status sample
    /// (`*_up 0`) and a log line, not an error; an `Err` means the whole round failed.
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError>;
}

/// Why a probe could not be built or could not collect.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{source_name} unavailable: {message}")]
    Unavailable {
        source_name: &'static str,
        message: String,
    },
}
