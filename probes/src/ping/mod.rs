//! Ping probe (`type = "ping"`): ICMP echo to many targets at once, IPv4 and IPv6, with
//! surge-ping. Emits, per `target`: `ping_up`, `ping_loss_percent`, `ping_rtt_ms` (average),
//! `ping_rtt_min_ms`, `ping_rtt_max_ms`, `ping_jitter_ms`. See `README.md` beside this file.
//!
//! One surge-ping `Client` (one socket and one receive task) per address family, kept for the
//! probe's life; every echo request gets its own `Pinger`, so all targets and all requests of
//! a round are in flight together and a round lasts about `(count - 1) × spacing + timeout`.

pub(crate) mod icmp;
mod stats;
pub(crate) mod target;

use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;
use surge_ping::{Client, ICMP, PingSequence, SurgeError};

use crate::sample_out::{Failing, Out, duration_field};
use crate::{CollectContext, Probe, ProbeError};
use icmp::{Answer, SocketNeed};
use target::Target;

/// Most targets one ping section may list.
const MAX_TARGETS: usize = 1000;

/// Configuration of one `[[probe]] type = "ping"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PingConfig {
    /// How often a round of echo requests is sent. Default `"30s"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// IP addresses (v4 or v6) or host names to ping; the text is the `target` label. Names
    /// are resolved every round (first address returned).
    pub targets: Vec<String>,
    /// Echo requests per target per round (1–100). Default `5`. Loss is a multiple of
    /// 100 / count percent.
    pub count: u32,
    /// Time between two requests to the same target. Default `"200ms"`.
    #[serde(deserialize_with = "spacing_duration")]
    pub spacing: Duration,
    /// How long to wait for each reply before counting it lost. Default `"1s"`.
    #[serde(deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Bytes of payload in each request (0–1472). Default `56`, as `ping`.
    pub payload_bytes: usize,
}

use crate::sample_out::interval_duration;
duration_field!(spacing_duration, "spacing");
duration_field!(timeout_duration, "timeout");

impl Default for PingConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(30),
            targets: Vec::new(),
            count: 5,
            spacing: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
            payload_bytes: 56,
        }
    }
}

/// The checked form of [`PingConfig`].
#[derive(Debug, Clone)]
struct Settings {
    targets: Vec<Target>,
    count: u16,
    spacing: Duration,
    timeout: Duration,
    payload: Vec<u8>,
}

impl PingConfig {
    fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let targets = target::parse_targets(&self.targets, MAX_TARGETS, &mut errors);
        if !(1..=100).contains(&self.count) {
            errors.push(format!("count: {} is outside 1..=100", self.count));
        }
        if self.timeout.is_zero() {
            errors.push("timeout: must be greater than 0".into());
        }
        if self.payload_bytes > 1472 {
            errors.push(format!(
                "payload_bytes: {} is more than 1472 (an Ethernet MTU)",
                self.payload_bytes
            ));
        }
        let round = self.spacing * self.count.saturating_sub(1) + self.timeout;
        if round >= self.interval {
            errors.push(format!(
                "interval: a round takes up to (count - 1) × spacing + timeout = {}ms, which \
                 must be shorter than the interval ({}ms)",
                round.as_millis(),
                self.interval.as_millis()
            ));
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("ping: {}", errors.join("; "))));
        }
        Ok(Settings {
            targets,
            count: u16::try_from(self.count).unwrap_or(100),
            spacing: self.spacing,
            timeout: self.timeout,
            payload: vec![0x50; self.payload_bytes],
        })
    }
}

/// The running ping probe.
pub struct PingProbe {
    settings: Settings,
    v4: Option<Client>,
    v6: Option<Client>,
    /// The next sequence number, shared by all targets and carried across rounds, so a reply
    /// arriving after its timeout is never taken for an answer in a later round.
    next_seq: u16,
    failing: Failing,
}

impl std::fmt::Debug for PingProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PingProbe")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one target's round produced.
struct TargetRound {
    label: String,
    /// Round-trip times of the answered requests (ms), in sending order.
    rtts_ms: Vec<f64>,
    /// Why the target could not be probed at all (name lookup, no socket for its family).
    error: Option<String>,
    /// Problems with single requests (send failures, ICMP errors), for the log.
    notes: Vec<String>,
}

impl PingProbe {
    /// Checks the config. Sockets are opened at the first collection (they need the runtime).
    pub fn new(config: PingConfig) -> Result<Self, ProbeError> {
        Ok(Self {
            settings: config.validate()?,
            v4: None,
            v6: None,
            next_seq: 0,
            failing: Failing::new("ping"),
        })
    }

    /// Opens the socket of each family the targets need; a permission problem fails the
    /// round with the fix in the message, and so reaches `patrol_probe_up` and the log.
    fn open_clients(&mut self, need_v4: bool, need_v6: bool) -> Result<(), ProbeError> {
        if need_v4 && self.v4.is_none() {
            self.v4 = Some(icmp::open_client("ping", ICMP::V4, SocketNeed::Echo, None)?);
        }
        if need_v6 && self.v6.is_none() {
            match icmp::open_client("ping", ICMP::V6, SocketNeed::Echo, None) {
                Ok(c) => self.v6 = Some(c),
                // A host without IPv6 still pings its IPv4 targets; the v6 ones report down.
                Err(ProbeError::Unavailable { message, .. })
                    if !message.contains("not allowed") =>
                {
                    self.failing.failed("icmpv6", &message);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Sends `count` requests `spacing` apart and collects the answers.
async fn ping_target(
    client: Client,
    label: String,
    addr: IpAddr,
    ident_salt: u16,
    first_seq: u16,
    settings: &Settings,
) -> TargetRound {
    let requests = (0..settings.count).map(|i| {
        let client = client.clone();
        let seq = PingSequence(first_seq.wrapping_add(i));
        let delay = settings.spacing * u32::from(i);
        async move {
            tokio::time::sleep(delay).await;
            let mut pinger = client.pinger(addr, icmp::identifier(ident_salt)).await;
            pinger.timeout(settings.timeout);
            // Timed from before the send: surge-ping starts its clock after the send call
            // returns, and on a fast link (loopback, a LAN) the reply is often read before
            // that, giving 0. This way the figure includes the send and our wake-up (a few
            // microseconds), as ping(8)'s does.
            let started = std::time::Instant::now();
            let result = pinger.ping(seq, &settings.payload).await;
            result.map(|(packet, _)| (packet, started.elapsed()))
        }
    });
    let mut round = TargetRound {
        label,
        rtts_ms: Vec::new(),
        error: None,
        notes: Vec::new(),
    };
    for result in futures::future::join_all(requests).await {
        match result {
            Ok((packet, rtt)) => match icmp::classify(&packet) {
                (Answer::EchoReply, _) => round.rtts_ms.push(rtt.as_secs_f64() * 1000.0),
                (answer, from) => round.notes.push(format!("{answer:?} from {from}")),
            },
            Err(SurgeError::Timeout { .. }) => {}
            Err(e) => round.notes.push(e.to_string()),
        }
    }
    round
}

#[async_trait]
impl Probe for PingProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        // Concurrently: a name whose DNS server is away must not delay every other target.
        let lookups = self
            .settings
            .targets
            .iter()
            .map(|t| async move { (t.label.clone(), t.resolve().await) });
        let resolved = futures::future::join_all(lookups).await;
        let need_v4 = resolved.iter().any(|(_, a)| matches!(a, Ok(IpAddr::V4(_))));
        let need_v6 = resolved.iter().any(|(_, a)| matches!(a, Ok(IpAddr::V6(_))));
        self.open_clients(need_v4, need_v6)?;

        let first_seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(self.settings.count);
        let settings = &self.settings;
        let rounds = resolved.into_iter().enumerate().map(|(i, (label, addr))| {
            let client = match &addr {
                Ok(IpAddr::V4(_)) => self.v4.clone(),
                Ok(IpAddr::V6(_)) => self.v6.clone(),
                Err(_) => None,
            };
            async move {
                match (addr, client) {
                    (Ok(addr), Some(client)) => {
                        // The salt keeps two targets that resolve to one address apart.
                        let salt = u16::try_from(i).unwrap_or(u16::MAX);
                        ping_target(client, label, addr, salt, first_seq, settings).await
                    }
                    (addr, _) => TargetRound {
                        error: Some(match addr {
                            Err(e) => e,
                            Ok(a) => format!("no ICMP socket for {a}"),
                        }),
                        label,
                        rtts_ms: Vec::new(),
                        notes: Vec::new(),
                    },
                }
            }
        });
        let results = futures::future::join_all(rounds).await;

        let mut emit = Out::new(out, ctx.now_ms);
        for round in results {
            let target = [("target", round.label.as_str())];
            let source = format!("target {}", round.label);
            match &round.error {
                Some(e) => self.failing.failed(&source, e),
                None if !round.notes.is_empty() => {
                    self.failing.failed(&source, &round.notes.join(", "))
                }
                None => self.failing.recovered(&source),
            }
            let sent = if round.error.is_some() {
                1
            } else {
                usize::from(self.settings.count)
            };
            let summary = stats::summarize(sent, &round.rtts_ms);
            emit.flag("ping_up", target, !round.rtts_ms.is_empty());
            emit.push("ping_loss_percent", target, summary.loss_percent);
            if let Some((min, avg, max)) = summary.rtt_ms {
                emit.push("ping_rtt_ms", target, avg);
                emit.push("ping_rtt_min_ms", target, min);
                emit.push("ping_rtt_max_ms", target, max);
            }
            if let Some(jitter) = summary.jitter_ms {
                emit.push("ping_jitter_ms", target, jitter);
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
        let c = sample_config!(Ping, include_str!("sample.toml"));
        assert_eq!(
            c,
            PingConfig {
                targets: c.targets.clone(),
                ..PingConfig::default()
            }
        );
        c.validate().expect("sample.toml is valid");
    }

    #[test]
    fn unknown_key_is_rejected_by_name() {
        let err = parse("type = \"ping\"\ntargets = [\"::1\"]\ncounts = 3").expect_err("typo");
        assert!(err.to_string().contains("counts"), "{err}");
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let config = PingConfig {
            targets: vec!["bad target".into()],
            count: 0,
            timeout: Duration::ZERO,
            payload_bytes: 9000,
            ..PingConfig::default()
        };
        let Err(ProbeError::Config(message)) = config.validate() else {
            panic!("expected a config error")
        };
        for field in ["targets[0]", "count", "timeout", "payload_bytes"] {
            assert!(message.contains(field), "{field} missing from {message}");
        }
    }

    #[test]
    fn a_round_longer_than_the_interval_is_refused() {
        let config = PingConfig {
            targets: vec!["127.0.0.1".into()],
            interval: Duration::from_secs(2),
            count: 10,
            ..PingConfig::default()
        };
        let Err(ProbeError::Config(message)) = config.validate() else {
            panic!("expected a config error")
        };
        assert!(message.contains("interval"), "{message}");
    }
}
