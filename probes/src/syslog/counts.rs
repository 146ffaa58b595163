//! What the receiver has counted since the probe started, and the samples made from it.

use std::collections::BTreeMap;

use crate::receiver::{Devices, Tally};
use crate::sample_out::Out;

use super::parse::severity_name;

/// The transport a message came over (`transport` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// Why a message or connection was dropped (`reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dropped {
    /// Not a syslog message: no valid `<PRI>`, or a broken RFC 5424 header.
    Malformed,
    /// TCP bytes that are neither octet-counted nor LF-framed.
    Framing,
    /// A TCP connection refused because `max_connections` were open.
    ConnectionLimit,
}

impl Dropped {
    pub fn name(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Framing => "framing",
            Self::ConnectionLimit => "connection_limit",
        }
    }
}

/// Counts of one device.
#[derive(Debug, Default)]
pub struct DeviceCounts {
    /// Messages by severity (0 = emerg ... 7 = debug).
    severity: [u64; 8],
    /// Matches by pattern, in the order of the config.
    patterns: Vec<Tally>,
}

/// Everything counted by one probe's receivers.
#[derive(Debug)]
pub struct Counts {
    devices: Devices<DeviceCounts>,
    dropped: BTreeMap<(Transport, Dropped), u64>,
    truncated: BTreeMap<Transport, u64>,
}

impl Counts {
    pub fn new(max_devices: usize) -> Self {
        Self {
            devices: Devices::new(max_devices),
            dropped: BTreeMap::new(),
            truncated: BTreeMap::new(),
        }
    }

    /// One message of `device` at `severity` that matched the patterns `matched` (indexes).
    pub fn message(&mut self, device: &str, severity: u8, matched: &[usize], patterns: usize) {
        let d = self.devices.entry(device);
        if let Some(n) = d.severity.get_mut(usize::from(severity)) {
            *n += 1;
        }
        if d.patterns.len() < patterns {
            d.patterns.resize(patterns, Tally::default());
        }
        for i in matched {
            if let Some(t) = d.patterns.get_mut(*i) {
                t.add();
            }
        }
    }

    pub fn dropped(&mut self, transport: Transport, why: Dropped) {
        *self.dropped.entry((transport, why)).or_default() += 1;
    }

    pub fn truncated(&mut self, transport: Transport) {
        *self.truncated.entry(transport).or_default() += 1;
    }

    /// This round's samples; the per-interval match counts start again from 0.
    pub fn report(&mut self, pattern_names: &[String], out: &mut Out<'_>) {
        out.push("syslog_devices", [], self.devices.len() as f64);
        out.push(
            "syslog_device_overflow_total",
            [],
            self.devices.overflow as f64,
        );
        for ((transport, why), n) in &self.dropped {
            out.push(
                "syslog_dropped_total",
                [("transport", transport.name()), ("reason", why.name())],
                *n as f64,
            );
        }
        for (transport, n) in &self.truncated {
            out.push(
                "syslog_truncated_total",
                [("transport", transport.name())],
                *n as f64,
            );
        }
        for (device, counts) in self.devices.iter_mut() {
            for (severity, n) in counts.severity.iter().enumerate() {
                if *n > 0 {
                    let name = severity_name(severity as u8);
                    out.push(
                        "syslog_messages_total",
                        [("device", device.as_str()), ("severity", name)],
                        *n as f64,
                    );
                }
            }
            for (tally, pattern) in counts.patterns.iter_mut().zip(pattern_names) {
                // A pattern shows up for a device once it has matched there; from then on
                // its interval count is reported every round, 0 included, so an alert on it
                // resolves when the matches stop.
                if tally.total == 0 {
                    continue;
                }
                let labels = [("device", device.as_str()), ("pattern", pattern.as_str())];
                out.push("syslog_pattern_matches_total", labels, tally.total as f64);
                out.push(
                    "syslog_pattern_matches",
                    labels,
                    tally.take_interval() as f64,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(c: &mut Counts) -> Vec<String> {
        let mut samples = Vec::new();
        c.report(
            &["link".into(), "auth".into()],
            &mut Out::new(&mut samples, 0),
        );
        samples
            .into_iter()
            .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
            .collect()
    }

    #[test]
    fn interval_matches_reset_and_stay_reported_at_zero() {
        let mut c = Counts::new(10);
        c.message("sw1", 3, &[0], 2);
        c.message("sw1", 3, &[0], 2);
        c.message("sw1", 6, &[], 2);
        c.dropped(Transport::Udp, Dropped::Malformed);
        c.truncated(Transport::Tcp);
        let first = report(&mut c);
        assert!(first.contains(&"syslog_messages_total{device=\"sw1\",severity=\"err\"} 2".into()));
        assert!(
            first.contains(&"syslog_messages_total{device=\"sw1\",severity=\"info\"} 1".into())
        );
        assert!(
            first.contains(&"syslog_pattern_matches{device=\"sw1\",pattern=\"link\"} 2".into())
        );
        assert!(
            !first.iter().any(|s| s.contains("pattern=\"auth\"")),
            "{first:?}"
        );
        assert!(
            first
                .contains(&"syslog_dropped_total{reason=\"malformed\",transport=\"udp\"} 1".into())
        );
        assert!(first.contains(&"syslog_truncated_total{transport=\"tcp\"} 1".into()));
        let second = report(&mut c);
        assert!(
            second.contains(&"syslog_pattern_matches{device=\"sw1\",pattern=\"link\"} 0".into())
        );
        assert!(
            second.contains(
                &"syslog_pattern_matches_total{device=\"sw1\",pattern=\"link\"} 2".into()
            )
        );
    }

    #[test]
    fn devices_past_the_bound_are_counted_together() {
        let mut c = Counts::new(1);
        c.message("a", 6, &[], 2);
        c.message("b", 6, &[1], 2);
        c.message("c", 6, &[1], 2);
        let r = report(&mut c);
        assert!(r.contains(&"syslog_devices 1".into()), "{r:?}");
        assert!(r.contains(&"syslog_device_overflow_total 2".into()));
        assert!(r.contains(&"syslog_pattern_matches{device=\"_other\",pattern=\"auth\"} 2".into()));
    }
}
