//! Patrol's probes. A probe is one module (`probes/src/<probe>/`) with its config struct, a
//! `README.md` listing the metrics it emits and a `sample.toml`; registering it is one variant
//! of [`ProbeConfig`].
//!
//! A probe reports only its own labels (`mount`, `device`, ...). The agent adds `host` and the
//! static labels, so probes stay unaware of where they run.

use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

pub mod catalog;
pub mod host;
// Network and hardware probes (issue 4, h/net).
pub mod hwmon;
pub mod mdstat;
pub mod ping;
mod sample_out;
pub mod sockets;
pub mod trace;

/// Default interval between two collections of a probe.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// One `[[probe]]` section of the agent config, selected by its `type`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProbeConfig {
    /// CPU, memory, swap, disks, network, processes, uptime (sysinfo).
    Host(host::HostConfig),
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
}

impl ProbeConfig {
    /// The probe's type name, as written in `type = "..."` and used in logs and counters.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Host(_) => "host",
            Self::Ping(_) => "ping",
            Self::Trace(_) => "trace",
            Self::Sockets(_) => "sockets",
            Self::Hwmon(_) => "hwmon",
            Self::Mdstat(_) => "mdstat",
        }
    }

    /// How often the agent runs the probe.
    pub fn interval(&self) -> Duration {
        match self {
            Self::Host(c) => c.interval,
            Self::Ping(c) => c.interval,
            Self::Trace(c) => c.interval,
            Self::Sockets(c) => c.interval,
            Self::Hwmon(c) => c.interval,
            Self::Mdstat(c) => c.interval,
        }
    }

    /// Checks the config and builds a ready-to-run probe.
    pub fn build(&self) -> Result<Box<dyn Probe>, ProbeError> {
        match self {
            Self::Host(c) => Ok(Box::new(host::HostProbe::new(c.clone())?)),
            Self::Ping(c) => Ok(Box::new(ping::PingProbe::new(c.clone())?)),
            Self::Trace(c) => Ok(Box::new(trace::TraceProbe::new(c.clone())?)),
            Self::Sockets(c) => Ok(Box::new(sockets::SocketsProbe::new(c.clone())?)),
            Self::Hwmon(c) => Ok(Box::new(hwmon::HwmonProbe::new(c.clone())?)),
            Self::Mdstat(c) => Ok(Box::new(mdstat::MdstatProbe::new(c.clone())?)),
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
