//! Turning a socket table into the sockets probe's figures. Pure: the table comes from
//! netstat2 in `mod.rs`, or from a test.

use std::collections::{BTreeMap, BTreeSet};

/// TCP states as `ss` names them (`ss -tan`), in the kernel's order (include/net/tcp_states.h).
pub(crate) const STATES: &[&str] = &[
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "close",
    "close-wait",
    "last-ack",
    "listen",
    "closing",
];

/// One TCP socket, reduced to what the figures need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TcpSocket {
    pub local_port: u16,
    /// Index into [`STATES`].
    pub state: usize,
}

pub(crate) const LISTEN: usize = 9;
pub(crate) const ESTABLISHED: usize = 0;

/// The figures of one round.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    /// Sockets per state, every state present (0 included) so series do not come and go.
    pub by_state: Vec<(&'static str, u64)>,
    /// Ports with at least one listening socket (IPv4 or IPv6, any address).
    pub listening: BTreeSet<u16>,
    /// Established connections whose local port is a listening port: the server side of
    /// connections, bounded by the number of listeners (client-side ephemeral ports are not
    /// counted per port, they would be a new series per connection).
    pub established_per_port: BTreeMap<u16, u64>,
}

pub(crate) fn count(sockets: impl IntoIterator<Item = TcpSocket>) -> Counts {
    let mut by_state = vec![0u64; STATES.len()];
    let mut listening = BTreeSet::new();
    let mut established: BTreeMap<u16, u64> = BTreeMap::new();
    for s in sockets {
        if let Some(n) = by_state.get_mut(s.state) {
            *n += 1;
        }
        match s.state {
            LISTEN => {
                listening.insert(s.local_port);
            }
            ESTABLISHED => *established.entry(s.local_port).or_default() += 1,
            _ => {}
        }
    }
    let established_per_port = listening
        .iter()
        .map(|p| (*p, established.get(p).copied().unwrap_or(0)))
        .collect();
    Counts {
        by_state: STATES.iter().copied().zip(by_state).collect(),
        listening,
        established_per_port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_and_their_connections_are_counted() {
        let s = |local_port, state| TcpSocket { local_port, state };
        let c = count([
            s(1521, LISTEN),
            s(1521, LISTEN), // the IPv6 listener on the same port
            s(1521, ESTABLISHED),
            s(1521, ESTABLISHED),
            s(7001, LISTEN),
            s(45678, ESTABLISHED), // a client-side connection: not per port
            s(1521, 5),            // time-wait
        ]);
        assert_eq!(
            c.listening.iter().copied().collect::<Vec<_>>(),
            vec![1521, 7001]
        );
        assert_eq!(c.established_per_port.get(&1521), Some(&2));
        assert_eq!(c.established_per_port.get(&7001), Some(&0));
        assert_eq!(c.established_per_port.get(&45678), None);
        assert_eq!(c.by_state[ESTABLISHED], ("established", 3));
        assert_eq!(c.by_state[LISTEN], ("listen", 3));
        assert_eq!(c.by_state[5], ("time-wait", 1));
        assert_eq!(c.by_state.len(), STATES.len());
    }
}
