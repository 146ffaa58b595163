//! Sockets probe (`type = "sockets"`): TCP listeners and connections of the host (its network
//! namespace), read from the kernel with netstat2 over netlink `sock_diag`, the interface `ss`
//! uses. Emits `tcp_listen_up{port}` for the configured ports, `tcp_connections{state}` for
//! every TCP state and `tcp_established_connections{port}` per listening port. See
//! `README.md` beside this file.
//!
//! Owning processes are not looked up (netstat2's `/proc` walk is the expensive part and the
//! figures do not need it).

mod count;

use std::time::Duration;

use async_trait::async_trait;
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::Out;
use crate::{CollectContext, Probe, ProbeError};
use count::TcpSocket;

/// Configuration of one `[[probe]] type = "sockets"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SocketsConfig {
    /// How often the socket table is read. Default `"30s"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// TCP ports that must have a listener, e.g. `[1521, 7001]` (Oracle listener, WebLogic
    /// admin server); each gets `tcp_listen_up{port}`. Default empty.
    pub listen_ports: Vec<u16>,
    /// Report `tcp_established_connections{port}` for every listening port, not only the
    /// `listen_ports`. Default `true`.
    pub all_listening_ports: bool,
    /// Most ports reported by `tcp_established_connections` (the `listen_ports` always are).
    /// Default `256`; a host with more listeners logs once and reports the lowest ports.
    pub max_ports: usize,
}

use crate::sample_out::interval_duration;

impl Default for SocketsConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            listen_ports: Vec::new(),
            all_listening_ports: true,
            max_ports: 256,
        }
    }
}

impl SocketsConfig {
    fn validate(&self) -> Result<(), ProbeError> {
        let mut errors = Vec::new();
        for (i, port) in self.listen_ports.iter().enumerate() {
            if *port == 0 {
                errors.push(format!("listen_ports[{i}]: 0 is not a port"));
            } else if self.listen_ports[..i].contains(port) {
                errors.push(format!("listen_ports[{i}]: {port} is listed twice"));
            }
        }
        if self.interval.is_zero() {
            errors.push("interval: must be greater than 0".into());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ProbeError::Config(format!(
                "sockets: {}",
                errors.join("; ")
            )))
        }
    }
}

/// The running sockets probe.
#[derive(Debug)]
pub struct SocketsProbe {
    config: SocketsConfig,
    truncation_logged: bool,
}

impl SocketsProbe {
    pub fn new(config: SocketsConfig) -> Result<Self, ProbeError> {
        config.validate()?;
        Ok(Self {
            config,
            truncation_logged: false,
        })
    }
}

/// Our index into [`count::STATES`] for netstat2's state; `None` for states Linux never
/// reports (they exist for Windows).
fn state_index(state: TcpState) -> Option<usize> {
    Some(match state {
        TcpState::Established => 0,
        TcpState::SynSent => 1,
        TcpState::SynReceived => 2,
        TcpState::FinWait1 => 3,
        TcpState::FinWait2 => 4,
        TcpState::TimeWait => 5,
        TcpState::Closed => 6,
        TcpState::CloseWait => 7,
        TcpState::LastAck => 8,
        TcpState::Listen => 9,
        TcpState::Closing => 10,
        TcpState::DeleteTcb | TcpState::Unknown => return None,
    })
}

/// Reads every TCP socket (IPv4 and IPv6) of the current network namespace.
fn read_tcp_sockets() -> Result<Vec<TcpSocket>, ProbeError> {
    let unavailable = |e: netstat2::error::Error| ProbeError::Unavailable {
        source_name: "sock_diag netlink",
        message: e.to_string(),
    };
    let iter = netstat2::iterate_sockets_info_without_pids(
        AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6,
        ProtocolFlags::TCP,
    )
    .map_err(unavailable)?;
    let mut sockets = Vec::new();
    for info in iter {
        if let ProtocolSocketInfo::Tcp(tcp) = info.map_err(unavailable)?.protocol_socket_info
            && let Some(state) = state_index(tcp.state)
        {
            sockets.push(TcpSocket {
                local_port: tcp.local_port,
                state,
            });
        }
    }
    Ok(sockets)
}

#[async_trait]
impl Probe for SocketsProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        // A netlink dump of a busy server's table takes milliseconds; no need for a thread.
        let counts = count::count(read_tcp_sockets()?);
        let mut emit = Out::new(out, ctx.now_ms);
        for port in &self.config.listen_ports {
            let port_text = port.to_string();
            emit.flag(
                "tcp_listen_up",
                [("port", port_text.as_str())],
                counts.listening.contains(port),
            );
        }
        for (state, n) in &counts.by_state {
            emit.push("tcp_connections", [("state", *state)], *n as f64);
        }
        let mut reported = 0usize;
        for (port, n) in &counts.established_per_port {
            let configured = self.config.listen_ports.contains(port);
            if !configured && !self.config.all_listening_ports {
                continue;
            }
            if !configured && reported >= self.config.max_ports {
                if !self.truncation_logged {
                    self.truncation_logged = true;
                    tracing::warn!(
                        probe = "sockets",
                        listening = counts.listening.len(),
                        max_ports = self.config.max_ports,
                        "more listening ports than max_ports; reporting the lowest"
                    );
                }
                continue;
            }
            reported += usize::from(!configured);
            let port_text = port.to_string();
            emit.push(
                "tcp_established_connections",
                [("port", port_text.as_str())],
                *n as f64,
            );
        }
        // A configured port with no listener still gets its connection count (0), so a rule
        // on it sees the series.
        for port in &self.config.listen_ports {
            if !counts.listening.contains(port) {
                let port_text = port.to_string();
                emit.push(
                    "tcp_established_connections",
                    [("port", port_text.as_str())],
                    0.0,
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sample_out::{parse_section as parse, sample_config};

    #[test]
    fn sample_toml_parses_and_validates() {
        let c = sample_config!(Sockets, include_str!("sample.toml"));
        assert_eq!(c.listen_ports, vec![1521, 7001]);
        assert_eq!(
            c,
            SocketsConfig {
                listen_ports: c.listen_ports.clone(),
                ..SocketsConfig::default()
            }
        );
        c.validate().expect("valid");
    }

    #[test]
    fn bad_ports_are_reported() {
        let err = parse("type = \"sockets\"\nlisten_ports = [70000]").expect_err("out of range");
        assert!(err.to_string().contains("70000"), "{err}");
        let config = SocketsConfig {
            listen_ports: vec![0, 22, 22],
            ..SocketsConfig::default()
        };
        let Err(ProbeError::Config(m)) = config.validate() else {
            panic!("expected an error")
        };
        assert!(
            m.contains("listen_ports[0]") && m.contains("listen_ports[2]"),
            "{m}"
        );
    }

    /// The real kernel table, read from the test's own network namespace: a listener bound
    /// here must be seen, a connection to it counted.
    #[tokio::test]
    async fn sees_a_real_listener_and_its_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (_server_side, _) = listener.accept().expect("accept");
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let closed_port = closed.local_addr().expect("addr").port();
        drop(closed);

        let mut probe = SocketsProbe::new(SocketsConfig {
            listen_ports: vec![port, closed_port],
            ..SocketsConfig::default()
        })
        .expect("probe");
        let mut out = Vec::new();
        probe
            .collect(CollectContext { now_ms: 1 }, &mut out)
            .await
            .expect("collect");
        let value = |name: &str, label: &str, v: &str| {
            out.iter()
                .find(|s| s.name == name && s.labels.get(label) == Some(v))
                .map(|s| s.value)
        };
        assert_eq!(value("tcp_listen_up", "port", &port.to_string()), Some(1.0));
        assert_eq!(
            value("tcp_listen_up", "port", &closed_port.to_string()),
            Some(0.0)
        );
        assert_eq!(
            value("tcp_established_connections", "port", &port.to_string()),
            Some(1.0)
        );
        assert!(value("tcp_connections", "state", "established").unwrap_or(0.0) >= 2.0);
    }
}
