//! Opening ICMP sockets through surge-ping, and turning "not allowed" into a message that
//! names the fix. Shared by the ping and trace probes.

use std::io;

use surge_ping::{Client, Config, ICMP, IcmpPacket};

use crate::ProbeError;

/// What an operator can do when the agent may not open ICMP sockets.
pub(crate) const PERMISSION_FIX: &str = "give the agent CAP_NET_RAW: `setcap cap_net_raw+ep \
     /usr/bin/patrol-agent`, or `AmbientCapabilities=CAP_NET_RAW` in the [Service] section of \
     its systemd unit; for ping (not trace) allowing the agent's group unprivileged ICMP \
     sockets also works: `sysctl -w net.ipv4.ping_group_range=\"GID GID\"`";

/// Which kind of ICMP socket a probe needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SocketNeed {
    /// Echo requests and replies only: an unprivileged datagram socket will do.
    Echo,
    /// Also ICMP errors (time exceeded) sent by routers: Linux delivers those to raw sockets
    /// only (a datagram ICMP socket sees them only through its error queue), so CAP_NET_RAW.
    Raw,
}

/// Opens a client for one address family, optionally with a fixed TTL / hop limit.
pub(crate) fn open_client(
    probe: &'static str,
    family: ICMP,
    need: SocketNeed,
    ttl: Option<u32>,
) -> Result<Client, ProbeError> {
    let mut builder = Config::builder().kind(family);
    if need == SocketNeed::Raw {
        builder = builder.sock_type_hint(socket2::Type::RAW);
    }
    if let Some(ttl) = ttl {
        builder = builder.ttl(ttl);
    }
    let family_name = match family {
        ICMP::V4 => "ICMPv4",
        ICMP::V6 => "ICMPv6",
    };
    let client = Client::new(&builder.build()).map_err(|e| open_error(probe, family_name, &e))?;
    if need == SocketNeed::Raw && client.get_socket().get_type() != socket2::Type::RAW {
        // surge-ping fell back to a datagram socket: routers' time-exceeded messages would
        // never be seen and every hop would look silent.
        return Err(ProbeError::Unavailable {
            source_name: "raw ICMP socket",
            message: format!(
                "{probe}: only an unprivileged {family_name} datagram socket could be opened, \
                 and it does not receive routers' time-exceeded messages; {PERMISSION_FIX}"
            ),
        });
    }
    Ok(client)
}

fn open_error(probe: &str, family_name: &str, e: &io::Error) -> ProbeError {
    let message = if e.kind() == io::ErrorKind::PermissionDenied {
        // surge-ping's own text is several lines of advice; one line that names our binary
        // and unit reads better in a log.
        format!("{probe}: not allowed to open an {family_name} socket; {PERMISSION_FIX}")
    } else {
        format!("{probe}: cannot open an {family_name} socket: {e}")
    };
    ProbeError::Unavailable {
        source_name: "ICMP socket",
        message,
    }
}

/// What came back for one echo request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// An echo reply from the target.
    EchoReply,
    /// A router said the TTL / hop limit ran out on the way (ICMP time exceeded).
    TimeExceeded,
    /// Any other ICMP error (destination unreachable, parameter problem...).
    OtherError,
}

/// Classifies a packet that surge-ping matched to our request (ICMPv4 types from RFC 792,
/// ICMPv6 types from RFC 4443).
pub(crate) fn classify(packet: &IcmpPacket) -> (Answer, std::net::IpAddr) {
    match packet {
        IcmpPacket::V4(p) => {
            let answer = match p.get_icmp_type().0 {
                0 => Answer::EchoReply,
                11 => Answer::TimeExceeded,
                _ => Answer::OtherError,
            };
            (answer, p.get_source().into())
        }
        IcmpPacket::V6(p) => {
            let answer = match p.get_icmpv6_type().0 {
                129 => Answer::EchoReply,
                3 => Answer::TimeExceeded,
                _ => Answer::OtherError,
            };
            (answer, p.get_source().into())
        }
    }
}

/// An echo identifier for this process: with raw sockets the kernel does not pick one, and
/// two agents (or an agent and `ping`) on one host must not read each other's replies.
pub(crate) fn identifier(salt: u16) -> surge_ping::PingIdentifier {
    let pid = std::process::id();
    surge_ping::PingIdentifier(((pid as u16) ^ ((pid >> 16) as u16)).wrapping_add(salt))
}
