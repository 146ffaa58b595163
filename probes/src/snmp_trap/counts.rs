//! What the trap receiver has counted, and the samples made from it.

use std::collections::BTreeMap;

use crate::receiver::{Devices, Tally};
use crate::sample_out::Out;

use super::decode::Refused;

/// Distinct `trap` labels kept per device; further kinds count as `other`, so a sender
/// inventing OIDs cannot grow the number of series without end.
pub const MAX_TRAP_KINDS: usize = 128;
/// Interfaces whose link state is kept per device.
pub const MAX_INTERFACES: usize = 4096;

/// Counts of one device.
#[derive(Debug, Default)]
pub struct DeviceTraps {
    traps: BTreeMap<String, Tally>,
    /// ifIndex → up, from the latest linkUp / linkDown.
    links: BTreeMap<u32, bool>,
}

/// Everything counted by one receiver.
#[derive(Debug)]
pub struct Counts {
    devices: Devices<DeviceTraps>,
    dropped: BTreeMap<Refused, u64>,
    inform_failures: u64,
}

impl Counts {
    pub fn new(max_devices: usize) -> Self {
        Self {
            devices: Devices::new(max_devices),
            dropped: BTreeMap::new(),
            inform_failures: 0,
        }
    }

    /// One trap named `trap` from `device`; `link` is a linkUp/linkDown's (ifIndex, up).
    pub fn trap(&mut self, device: &str, trap: &str, link: Option<(u32, bool)>) {
        let d = self.devices.entry(device);
        let kind = if d.traps.contains_key(trap) || d.traps.len() < MAX_TRAP_KINDS {
            trap
        } else {
            "other"
        };
        d.traps.entry(kind.to_owned()).or_default().add();
        if let Some((index, up)) = link
            && (d.links.contains_key(&index) || d.links.len() < MAX_INTERFACES)
        {
            d.links.insert(index, up);
        }
    }

    pub fn dropped(&mut self, why: Refused) {
        *self.dropped.entry(why).or_default() += 1;
    }

    pub fn inform_failed(&mut self) {
        self.inform_failures += 1;
    }

    /// This round's samples; the per-interval counts start again from 0.
    pub fn report(&mut self, out: &mut Out<'_>) {
        out.push("snmp_trap_devices", [], self.devices.len() as f64);
        out.push(
            "snmp_trap_device_overflow_total",
            [],
            self.devices.overflow as f64,
        );
        for (why, n) in &self.dropped {
            out.push(
                "snmp_trap_dropped_total",
                [("reason", why.name())],
                *n as f64,
            );
        }
        if self.inform_failures > 0 {
            out.push(
                "snmp_trap_inform_response_failures_total",
                [],
                self.inform_failures as f64,
            );
        }
        for (device, d) in self.devices.iter_mut() {
            for (trap, tally) in d.traps.iter_mut() {
                let labels = [("device", device.as_str()), ("trap", trap.as_str())];
                out.push("snmp_traps_total", labels, tally.total as f64);
                out.push("snmp_traps", labels, tally.take_interval() as f64);
            }
            for (index, up) in &d.links {
                let index = index.to_string();
                out.flag(
                    "snmp_trap_if_oper_up",
                    [("device", device.as_str()), ("ifindex", index.as_str())],
                    *up,
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
        c.report(&mut Out::new(&mut samples, 0));
        samples
            .into_iter()
            .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
            .collect()
    }

    #[test]
    fn link_state_follows_the_latest_trap_and_kinds_are_bounded() {
        let mut c = Counts::new(10);
        c.trap("sw1", "linkDown", Some((7, false)));
        c.trap("sw1", "linkUp", Some((7, true)));
        c.trap("sw1", "linkDown", Some((8, false)));
        for i in 0..MAX_TRAP_KINDS + 5 {
            c.trap("sw2", &format!("1.3.6.1.4.1.99.{i}"), None);
        }
        c.dropped(Refused::Community);
        let r = report(&mut c);
        for line in [
            "snmp_traps{device=\"sw1\",trap=\"linkDown\"} 2",
            "snmp_traps_total{device=\"sw1\",trap=\"linkUp\"} 1",
            "snmp_trap_if_oper_up{device=\"sw1\",ifindex=\"7\"} 1",
            "snmp_trap_if_oper_up{device=\"sw1\",ifindex=\"8\"} 0",
            "snmp_traps_total{device=\"sw2\",trap=\"other\"} 5",
            "snmp_trap_dropped_total{reason=\"community\"} 1",
        ] {
            assert!(r.contains(&line.to_owned()), "{line} missing from {r:?}");
        }
        let kinds = r
            .iter()
            .filter(|l| l.starts_with("snmp_traps_total{device=\"sw2\""))
            .count();
        assert_eq!(kinds, MAX_TRAP_KINDS + 1, "the kinds kept and other");
        let r = report(&mut c);
        assert!(r.contains(&"snmp_traps{device=\"sw1\",trap=\"linkDown\"} 0".to_owned()));
    }
}
