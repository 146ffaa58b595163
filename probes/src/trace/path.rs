//! A traced path and whether it differs from the previous round's. Pure.

use std::net::IpAddr;

/// What came back for the probe sent with one TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HopAnswer {
    /// The target itself answered: the path ends here.
    Destination(IpAddr),
    /// A router reported the TTL ran out (time exceeded) or refused the packet.
    Router(IpAddr),
    /// Nothing came back within the timeout.
    Silent,
}

/// One round's path to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    /// Responder of hop 1, 2, ...; `None` for a silent hop. Ends at the destination when it
    /// was reached, else at the last hop that answered.
    pub hops: Vec<Option<IpAddr>>,
    pub reached: bool,
}

impl Path {
    /// Builds the path from the answers to TTL 1, 2, ... (in TTL order).
    pub fn from_answers(answers: &[HopAnswer]) -> Self {
        let end = answers
            .iter()
            .position(|a| matches!(a, HopAnswer::Destination(_)));
        let (slice, reached) = match end {
            Some(i) => (&answers[..=i], true),
            None => {
                let last = answers
                    .iter()
                    .rposition(|a| !matches!(a, HopAnswer::Silent))
                    .map_or(0, |i| i + 1);
                (&answers[..last], false)
            }
        };
        let hops = slice
            .iter()
            .map(|a| match a {
                HopAnswer::Destination(ip) | HopAnswer::Router(ip) => Some(*ip),
                HopAnswer::Silent => None,
            })
            .collect();
        Self { hops, reached }
    }

    /// Whether the route differs from `previous`: reached in one round and not the other, a
    /// different number of hops, or a hop answered by different routers. A hop silent in
    /// either round is not a difference: routers rate-limit their ICMP errors, so one lost
    /// answer must not look like a new route.
    pub fn differs_from(&self, previous: &Path) -> bool {
        self.reached != previous.reached
            || self.hops.len() != previous.hops.len()
            || self
                .hops
                .iter()
                .zip(&previous.hops)
                .any(|pair| matches!(pair, (Some(a), Some(b)) if a != b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HopAnswer::{Destination, Router, Silent};

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn path_ends_at_the_first_destination_answer() {
        let p = Path::from_answers(&[
            Router(ip("10.0.0.1")),
            Silent,
            Destination(ip("10.0.2.2")),
            Destination(ip("10.0.2.2")),
        ]);
        assert!(p.reached);
        assert_eq!(
            p.hops,
            vec![Some(ip("10.0.0.1")), None, Some(ip("10.0.2.2"))]
        );
    }

    #[test]
    fn unreached_path_ends_at_the_last_answering_hop() {
        let p = Path::from_answers(&[Router(ip("10.0.0.1")), Router(ip("10.0.1.1")), Silent]);
        assert!(!p.reached);
        assert_eq!(p.hops.len(), 2);
        assert_eq!(Path::from_answers(&[Silent, Silent]).hops.len(), 0);
    }

    #[test]
    fn a_different_router_is_a_change_a_silent_hop_is_not() {
        let a = Path::from_answers(&[Router(ip("10.0.0.1")), Destination(ip("10.9.9.9"))]);
        let b = Path::from_answers(&[Router(ip("10.0.3.1")), Destination(ip("10.9.9.9"))]);
        let silent = Path::from_answers(&[Silent, Destination(ip("10.9.9.9"))]);
        let longer = Path::from_answers(&[
            Router(ip("10.0.0.1")),
            Router(ip("10.0.1.1")),
            Destination(ip("10.9.9.9")),
        ]);
        assert!(b.differs_from(&a));
        assert!(!silent.differs_from(&a));
        assert!(!a.differs_from(&a.clone()));
        assert!(longer.differs_from(&a));
    }
}
