//! Trace probe (`type = "trace"`): the route to each target, found like `traceroute -I`:
//! ICMP echo requests with TTL (IPv6: hop limit) 1, 2, ... until the target answers; routers
//! on the way answer with ICMP time exceeded, naming themselves. Emits, per `target`:
//! `trace_reached`, `trace_hops`, `trace_path_changed`, and `trace_hop_info{hop,responder}`.
//! See `README.md` beside this file.
//!
//! The TTL is a socket option, so each hop gets its own surge-ping client (raw socket, since
//! Linux delivers time-exceeded messages to raw ICMP sockets only). Hops are probed
//! `PARALLEL_HOPS` at a time and probing stops after the batch that reached the target.

mod path;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;
use surge_ping::{ICMP, PingSequence, SurgeError};

use crate::ping::icmp::{self, Answer, SocketNeed};
use crate::ping::target::{self, Target};
use crate::sample_out::{Failing, Out, duration_field};
use crate::{CollectContext, Probe, ProbeError};
use path::{HopAnswer, Path};

/// Most targets one trace section may list: each costs up to `max_hops` probes a round.
const MAX_TARGETS: usize = 100;
/// Hops probed at once per target.
const PARALLEL_HOPS: u8 = 8;
/// Echo identifiers of trace probes start here, away from the ping probe's.
const IDENT_BASE: u16 = 0x8000;

/// Configuration of one `[[probe]] type = "trace"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TraceConfig {
    /// How often each target is traced. Default `"5m"`.
    #[serde(deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// IP addresses (v4 or v6) or host names to trace; the text is the `target` label.
    pub targets: Vec<String>,
    /// Highest TTL tried (1–64). Default `30`, as `traceroute`.
    pub max_hops: u8,
    /// How long to wait for each hop's answer. Default `"1s"`.
    #[serde(deserialize_with = "timeout_duration")]
    pub timeout: Duration,
}

use crate::sample_out::interval_duration;
duration_field!(timeout_duration, "timeout");

impl Default for TraceConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(300),
            targets: Vec::new(),
            max_hops: 30,
            timeout: Duration::from_secs(1),
        }
    }
}

#[derive(Debug, Clone)]
struct Settings {
    targets: Vec<Target>,
    max_hops: u8,
    timeout: Duration,
}

impl TraceConfig {
    fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let targets = target::parse_targets(&self.targets, MAX_TARGETS, &mut errors);
        if !(1..=64).contains(&self.max_hops) {
            errors.push(format!("max_hops: {} is outside 1..=64", self.max_hops));
        }
        if self.timeout.is_zero() {
            errors.push("timeout: must be greater than 0".into());
        }
        let batches = u32::from(self.max_hops.div_ceil(PARALLEL_HOPS));
        let round = self.timeout * batches;
        if round >= self.interval {
            errors.push(format!(
                "interval: tracing {} hops takes up to {}ms ({PARALLEL_HOPS} hops at a time, \
                 each waiting up to the timeout), which must be shorter than the interval",
                self.max_hops,
                round.as_millis()
            ));
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("trace: {}", errors.join("; "))));
        }
        Ok(Settings {
            targets,
            max_hops: self.max_hops,
            timeout: self.timeout,
        })
    }
}

/// The running trace probe.
#[derive(Debug)]
pub struct TraceProbe {
    settings: Settings,
    /// Each target's path of the previous round, to tell when it changed.
    previous: HashMap<String, Path>,
    next_seq: u16,
    failing: Failing,
}

impl TraceProbe {
    pub fn new(config: TraceConfig) -> Result<Self, ProbeError> {
        Ok(Self {
            settings: config.validate()?,
            previous: HashMap::new(),
            next_seq: 0,
            failing: Failing::new("trace"),
        })
    }
}

/// Sends one echo request with `ttl` and reports who answered.
async fn probe_hop(
    addr: IpAddr,
    ttl: u8,
    ident: u16,
    seq: u16,
    timeout: Duration,
) -> Result<HopAnswer, ProbeError> {
    let family = if addr.is_ipv4() { ICMP::V4 } else { ICMP::V6 };
    let client = icmp::open_client("trace", family, SocketNeed::Raw, Some(u32::from(ttl)))?;
    let mut pinger = client.pinger(addr, surge_ping::PingIdentifier(ident)).await;
    pinger.timeout(timeout);
    Ok(match pinger.ping(PingSequence(seq), &[0x54; 32]).await {
        Ok((packet, _)) => match icmp::classify(&packet) {
            (Answer::EchoReply, from) => HopAnswer::Destination(from),
            // Destination unreachable from the target itself also ends the path.
            (Answer::OtherError, from) if from == addr => HopAnswer::Destination(from),
            (Answer::TimeExceeded | Answer::OtherError, from) => HopAnswer::Router(from),
        },
        Err(SurgeError::Timeout { .. }) => HopAnswer::Silent,
        // A send error (no route) at this TTL: nothing answered.
        Err(_) => HopAnswer::Silent,
    })
}

/// Traces one target: batches of TTLs until the target answers or `max_hops` is reached.
async fn trace_target(
    addr: IpAddr,
    index: usize,
    seq: u16,
    settings: &Settings,
) -> Result<Path, ProbeError> {
    let mut answers = Vec::with_capacity(usize::from(settings.max_hops));
    let mut first = 1u8;
    while first <= settings.max_hops {
        let last = first
            .saturating_add(PARALLEL_HOPS - 1)
            .min(settings.max_hops);
        let salt = u16::try_from(index).unwrap_or(0) * 64;
        let batch = (first..=last).map(|ttl| {
            let ident = icmp::identifier(IDENT_BASE + salt + u16::from(ttl)).0;
            probe_hop(addr, ttl, ident, seq, settings.timeout)
        });
        let results: Vec<HopAnswer> = futures::future::join_all(batch)
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let done = results
            .iter()
            .any(|a| matches!(a, HopAnswer::Destination(_)));
        answers.extend(results);
        if done {
            break;
        }
        first = last.saturating_add(1);
        if last == u8::MAX {
            break;
        }
    }
    Ok(Path::from_answers(&answers))
}

#[async_trait]
impl Probe for TraceProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1);
        let settings = &self.settings;
        let traces = settings
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| async move {
                let addr = t.resolve().await;
                let path = match addr {
                    Ok(addr) => trace_target(addr, i, seq, settings).await.map(Ok),
                    Err(e) => Ok(Err(e)),
                };
                (t.label.clone(), path)
            });
        let results = futures::future::join_all(traces).await;

        let mut emit = Out::new(out, ctx.now_ms);
        for (label, result) in results {
            let target = label.as_str();
            let path = match result? {
                Ok(path) => {
                    self.failing.recovered(target);
                    path
                }
                Err(e) => {
                    self.failing.failed(target, &e);
                    emit.flag("trace_reached", [("target", target)], false);
                    continue;
                }
            };
            let changed = self
                .previous
                .get(target)
                .is_some_and(|previous| path.differs_from(previous));
            if changed {
                tracing::info!(probe = "trace", target, hops = ?path.hops, "route changed");
            }
            emit.flag("trace_reached", [("target", target)], path.reached);
            emit.push("trace_hops", [("target", target)], path.hops.len() as f64);
            emit.flag("trace_path_changed", [("target", target)], changed);
            for (i, hop) in path.hops.iter().enumerate() {
                let hop_number = (i + 1).to_string();
                let responder = hop.map_or_else(|| "*".to_owned(), |ip| ip.to_string());
                emit.push(
                    "trace_hop_info",
                    [
                        ("target", target),
                        ("hop", hop_number.as_str()),
                        ("responder", responder.as_str()),
                    ],
                    1.0,
                );
            }
            self.previous.insert(label, path);
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
        let c = sample_config!(Trace, include_str!("sample.toml"));
        assert_eq!(
            c,
            TraceConfig {
                targets: c.targets.clone(),
                ..TraceConfig::default()
            }
        );
        c.validate().expect("sample.toml is valid");
    }

    #[test]
    fn validation_reports_every_bad_field() {
        let config = TraceConfig {
            targets: vec![],
            max_hops: 0,
            timeout: Duration::ZERO,
            ..TraceConfig::default()
        };
        let Err(ProbeError::Config(message)) = config.validate() else {
            panic!("expected a config error")
        };
        for field in ["targets", "max_hops", "timeout"] {
            assert!(message.contains(field), "{field} missing from {message}");
        }
        let err = parse("type = \"trace\"\ntargets = [\"::1\"]\nhops = 3").expect_err("typo");
        assert!(err.to_string().contains("hops"), "{err}");
    }
}
