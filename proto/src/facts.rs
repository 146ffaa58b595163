//! Facts: what a box is — model, serial, OS, kernel, CPU and memory, addresses, installed
//! Oracle and WebLogic versions, and for each device an agent polls its SNMP identity — as the
//! agent's inventory gathers them and the collector keeps them. Facts are not samples: they
//! change rarely, are text, and are sent whole (docs/inventory.md).
//!
//! This module owns what both ends must agree on: the key names, the bounds (the agent trims
//! to them, the collector refuses past them), the key facts shown on an incident, and the
//! wire conversions.

use std::collections::BTreeMap;

use crate::v1;

/// Fact key → value, sorted by key.
pub type FactMap = BTreeMap<String, String>;

/// The facts of a host and of the devices its agent polls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The agent's own host.
    pub host: FactMap,
    /// By the `device` label of the device's samples.
    pub devices: BTreeMap<String, FactMap>,
}

/// The fact keys (docs/inventory.md describes each). A key with `[...]` names one of several
/// (an interface, an Oracle home, a chassis); the text in brackets is that thing's name.
pub mod key {
    /// DMI `sys_vendor`.
    pub const HW_VENDOR: &str = "hw.vendor";
    /// DMI `product_name`: the model.
    pub const HW_MODEL: &str = "hw.model";
    /// DMI `product_version`.
    pub const HW_VERSION: &str = "hw.version";
    /// DMI `product_serial` (readable by root only on most systems).
    pub const HW_SERIAL: &str = "hw.serial";
    /// DMI `bios_vendor`.
    pub const BIOS_VENDOR: &str = "bios.vendor";
    /// DMI `bios_version`.
    pub const BIOS_VERSION: &str = "bios.version";
    /// DMI `bios_date`.
    pub const BIOS_DATE: &str = "bios.date";
    /// os-release `PRETTY_NAME`.
    pub const OS_NAME: &str = "os.name";
    /// os-release `ID`.
    pub const OS_ID: &str = "os.id";
    /// os-release `VERSION_ID`.
    pub const OS_VERSION_ID: &str = "os.version_id";
    /// uname release (`uname -r`).
    pub const KERNEL_RELEASE: &str = "kernel.release";
    /// The machine's host name (the `host` label may be set to something else).
    pub const HOSTNAME: &str = "hostname";
    /// CPU architecture (`uname -m`).
    pub const CPU_ARCH: &str = "cpu.arch";
    /// CPU model name.
    pub const CPU_MODEL: &str = "cpu.model";
    /// Logical CPUs.
    pub const CPU_COUNT: &str = "cpu.count";
    /// Physical cores.
    pub const CPU_CORES: &str = "cpu.cores";
    /// Total memory in bytes (MemTotal).
    pub const MEMORY_BYTES: &str = "memory.bytes";
    /// `ip[<interface>]`: the interface's addresses with prefix length, comma-separated.
    pub const IP: &str = "ip";
    /// `oracle[<ORACLE_HOME>]`: the product, version and newest release update installed there.
    pub const ORACLE: &str = "oracle";
    /// `weblogic[<home>]`: the WebLogic Server version installed there.
    pub const WEBLOGIC: &str = "weblogic";
    /// SNMPv2-MIB sysDescr.
    pub const SYS_DESCR: &str = "sys.descr";
    /// SNMPv2-MIB sysObjectID (dotted).
    pub const SYS_OBJECT_ID: &str = "sys.object_id";
    /// SNMPv2-MIB sysName.
    pub const SYS_NAME: &str = "sys.name";
    /// `chassis[<entPhysicalIndex>].<field>`: ENTITY-MIB rows of class chassis; the fields are
    /// `descr`, `name`, `model`, `serial`, `hardware`, `firmware`, `software`, `vendor`.
    pub const CHASSIS: &str = "chassis";
}

/// `name[instance]`, the form of keys that name one of several things.
pub fn indexed(name: &str, instance: &str) -> String {
    format!("{name}[{instance}]")
}

/// Most facts in one message: the host's and every device's together.
pub const MAX_FACTS: usize = 10_000;
/// Most devices in one message.
pub const MAX_DEVICES: usize = 2_000;
/// Longest key, in bytes (keys carry paths: `oracle[/u01/app/oracle/product/19.0.0/dbhome_1]`).
pub const MAX_KEY_BYTES: usize = 256;
/// Longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024;
/// Longest device name, in bytes (the `device` label value's bound).
pub const MAX_DEVICE_BYTES: usize = 1024;
/// Most bytes of keys, values and device names in one message.
pub const MAX_TOTAL_BYTES: usize = 1024 * 1024;

/// Why a collector refused a facts message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More facts than [`MAX_FACTS`].
    TooMany { count: usize },
    /// More devices than [`MAX_DEVICES`].
    TooManyDevices { count: usize },
    /// More bytes than [`MAX_TOTAL_BYTES`].
    TooLarge { bytes: usize },
    /// A key, value or device name that is empty where it may not be, too long, or holds
    /// control characters.
    Bad(String),
}

impl Refusal {
    /// The `reason` label of the collector's refusal counter.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::TooMany { .. } | Refusal::TooManyDevices { .. } => "max_facts",
            Refusal::TooLarge { .. } => "max_facts_bytes",
            Refusal::Bad(_) => "bad_facts",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooMany { count } => {
                write!(f, "{count} facts, over the limit of {MAX_FACTS}")
            }
            Refusal::TooManyDevices { count } => {
                write!(
                    f,
                    "facts of {count} devices, over the limit of {MAX_DEVICES}"
                )
            }
            Refusal::TooLarge { bytes } => {
                write!(
                    f,
                    "{bytes} bytes of facts, over the limit of {MAX_TOTAL_BYTES}"
                )
            }
            Refusal::Bad(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Refusal {}

/// A few characters of untrusted text for a message about it.
fn excerpt(s: &str) -> String {
    s.chars()
        .take(48)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn check_key(k: &str) -> Result<(), Refusal> {
    if k.is_empty() || k.len() > MAX_KEY_BYTES || k.chars().any(char::is_control) {
        return Err(Refusal::Bad(format!(
            "fact key '{}' must be 1-{MAX_KEY_BYTES} bytes without control characters",
            excerpt(k)
        )));
    }
    Ok(())
}

fn check_value(k: &str, v: &str) -> Result<(), Refusal> {
    if v.len() > MAX_VALUE_BYTES || v.chars().any(char::is_control) {
        return Err(Refusal::Bad(format!(
            "value of fact '{}' must be at most {MAX_VALUE_BYTES} bytes without control characters",
            excerpt(k)
        )));
    }
    Ok(())
}

fn check_map(m: &BTreeMap<String, String>) -> Result<usize, Refusal> {
    let mut bytes = 0;
    for (k, v) in m {
        check_key(k)?;
        check_value(k, v)?;
        bytes += k.len() + v.len();
    }
    Ok(bytes)
}

/// Checks a facts message against the bounds; counts are checked before anything is walked.
pub fn check(wire: &v1::Facts) -> Result<Facts, Refusal> {
    if wire.devices.len() > MAX_DEVICES {
        return Err(Refusal::TooManyDevices {
            count: wire.devices.len(),
        });
    }
    let count = wire.host.len() + wire.devices.iter().map(|d| d.facts.len()).sum::<usize>();
    if count > MAX_FACTS {
        return Err(Refusal::TooMany { count });
    }
    let mut bytes = check_map(&wire.host)?;
    let mut devices = BTreeMap::new();
    for d in &wire.devices {
        if d.device.is_empty()
            || d.device.len() > MAX_DEVICE_BYTES
            || d.device.chars().any(char::is_control)
        {
            return Err(Refusal::Bad(format!(
                "device name '{}' must be 1-{MAX_DEVICE_BYTES} bytes without control characters",
                excerpt(&d.device)
            )));
        }
        bytes += d.device.len() + check_map(&d.facts)?;
        if devices.insert(d.device.clone(), d.facts.clone()).is_some() {
            return Err(Refusal::Bad(format!(
                "device '{}' is listed twice",
                excerpt(&d.device)
            )));
        }
    }
    if bytes > MAX_TOTAL_BYTES {
        return Err(Refusal::TooLarge { bytes });
    }
    Ok(Facts {
        host: wire.host.clone(),
        devices,
    })
}

/// Text read from a file or a device made fit for a value: control characters and runs of
/// whitespace folded into one space, trimmed, cut at [`MAX_VALUE_BYTES`] on a character
/// boundary.
pub fn clean_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_VALUE_BYTES));
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        let extra = c.len_utf8() + usize::from(space);
        if out.len() + extra > MAX_VALUE_BYTES {
            break;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// What [`Facts::bound`] left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trimmed {
    /// Facts whose key could not be sent (too long, control characters).
    pub bad_keys: usize,
    /// Devices left out (count, bytes), and the first of them.
    pub devices: usize,
    pub first_device: Option<String>,
}

impl Trimmed {
    pub fn is_empty(&self) -> bool {
        self.bad_keys == 0 && self.devices == 0
    }
}

impl Facts {
    /// Facts in all, the host's and every device's.
    pub fn count(&self) -> usize {
        self.host.len() + self.devices.values().map(BTreeMap::len).sum::<usize>()
    }

    /// Makes the facts pass [`check`]: values cleaned, unusable keys dropped, and the devices
    /// that do not fit the bounds left out (in name order, the host's facts first).
    pub fn bound(&mut self) -> Trimmed {
        let mut trimmed = Trimmed::default();
        // The host's facts are few and short; they always fit.
        let mut bytes = fit(&mut self.host, &mut trimmed);
        let mut count = self.host.len();
        let mut kept = BTreeMap::new();
        for (name, mut facts) in std::mem::take(&mut self.devices) {
            let usable = !name.is_empty()
                && name.len() <= MAX_DEVICE_BYTES
                && !name.chars().any(char::is_control);
            let size = fit(&mut facts, &mut trimmed) + name.len();
            if usable
                && kept.len() < MAX_DEVICES
                && count + facts.len() <= MAX_FACTS
                && bytes + size <= MAX_TOTAL_BYTES
            {
                bytes += size;
                count += facts.len();
                kept.insert(name, facts);
            } else {
                trimmed.devices += 1;
                trimmed.first_device.get_or_insert(name);
            }
        }
        self.devices = kept;
        trimmed
    }

    /// The wire form.
    pub fn to_wire(&self, gathered_ms: i64) -> v1::Facts {
        v1::Facts {
            host: self.host.clone(),
            devices: self
                .devices
                .iter()
                .map(|(device, facts)| v1::DeviceFacts {
                    device: device.clone(),
                    facts: facts.clone(),
                })
                .collect(),
            gathered_ms,
        }
    }
}

/// Drops the keys that cannot be sent and cleans the values that cannot; returns the bytes
/// left.
fn fit(m: &mut FactMap, trimmed: &mut Trimmed) -> usize {
    let before = m.len();
    m.retain(|k, _| check_key(k).is_ok());
    trimmed.bad_keys += before - m.len();
    let mut bytes = 0;
    for (k, v) in m.iter_mut() {
        if check_value(k, v).is_err() {
            *v = clean_value(v);
        }
        bytes += k.len() + v.len();
    }
    bytes
}

/// Whether `key` is `name` or `name[...]`, or (with a field) `name[...].field`.
fn is_key(key: &str, name: &str, field: Option<&str>) -> bool {
    let Some(rest) = key.strip_prefix(name) else {
        return false;
    };
    match field {
        None => rest.is_empty() || (rest.starts_with('[') && rest.ends_with(']')),
        Some(f) => {
            rest.starts_with('[')
                && rest
                    .strip_suffix(f)
                    .and_then(|r| r.strip_suffix('.'))
                    .is_some_and(|r| r.ends_with(']'))
        }
    }
}

/// The facts the person on duty needs first about a host: model, serial, OS, kernel and
/// addresses.
pub fn key_host_facts(host: &FactMap) -> FactMap {
    host.iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                key::HW_VENDOR
                    | key::HW_MODEL
                    | key::HW_SERIAL
                    | key::OS_NAME
                    | key::KERNEL_RELEASE
            ) || is_key(k, key::IP, None)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The same for a device: its name and description, and each chassis' model and serial.
pub fn key_device_facts(device: &FactMap) -> FactMap {
    device
        .iter()
        .filter(|(k, _)| {
            matches!(k.as_str(), key::SYS_NAME | key::SYS_DESCR)
                || ["model", "serial", "firmware"]
                    .iter()
                    .any(|f| is_key(k, key::CHASSIS, Some(f)))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> FactMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn wire(host: &[(&str, &str)], devices: &[(&str, &[(&str, &str)])]) -> v1::Facts {
        v1::Facts {
            host: map(host),
            devices: devices
                .iter()
                .map(|(d, f)| v1::DeviceFacts {
                    device: (*d).to_owned(),
                    facts: map(f),
                })
                .collect(),
            gathered_ms: 1,
        }
    }

    #[test]
    fn a_good_message_passes_whole() {
        let w = wire(
            &[("hw.model", "PowerEdge R740"), ("ip[eth0]", "192.0.2.5/24")],
            &[("sw1", &[("sys.name", "core-sw1")])],
        );
        let f = check(&w).expect("passes");
        assert_eq!(f.host["hw.model"], "PowerEdge R740");
        assert_eq!(f.devices["sw1"]["sys.name"], "core-sw1");
        assert_eq!(f.to_wire(1), w);
    }

    #[test]
    fn bounds_are_refused_with_their_reason() {
        let many: Vec<(String, String)> = (0..=MAX_FACTS)
            .map(|i| (format!("k{i}"), "v".to_owned()))
            .collect();
        let w = v1::Facts {
            host: many.into_iter().collect(),
            ..Default::default()
        };
        let r = check(&w).unwrap_err();
        assert_eq!(r.reason(), "max_facts");
        assert_eq!(r.to_string(), "10001 facts, over the limit of 10000");

        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let r = check(&wire(&[("hw.model", &long)], &[])).unwrap_err();
        assert_eq!(r.reason(), "bad_facts");
        assert!(r.to_string().starts_with("value of fact 'hw.model'"), "{r}");

        let r = check(&wire(&[("a\nb", "v")], &[])).unwrap_err();
        assert_eq!(r.reason(), "bad_facts");
        assert!(r.to_string().contains("'a?b'"), "{r}");

        let r = check(&wire(&[], &[("sw1", &[]), ("sw1", &[])])).unwrap_err();
        assert_eq!(r.to_string(), "device 'sw1' is listed twice");

        // 2000 devices with 600 bytes each pass the count but not the byte bound.
        let value = "v".repeat(590);
        let devices: Vec<v1::DeviceFacts> = (0..MAX_DEVICES)
            .map(|i| v1::DeviceFacts {
                device: format!("d{i}"),
                facts: map(&[("sys.descr", &value)]),
            })
            .collect();
        let w = v1::Facts {
            devices,
            ..Default::default()
        };
        assert_eq!(check(&w).unwrap_err().reason(), "max_facts_bytes");
    }

    #[test]
    fn bound_makes_any_facts_pass_the_check() {
        let value = "v".repeat(900);
        let mut f = Facts {
            host: map(&[("hw.model", "R740\r\nrev A"), ("", "no key")]),
            devices: (0..MAX_DEVICES + 10)
                .map(|i| (format!("d{i:05}"), map(&[("sys.descr", &value)])))
                .collect(),
        };
        let trimmed = f.bound();
        assert_eq!(trimmed.bad_keys, 1);
        assert!(trimmed.devices > 10, "{trimmed:?}");
        assert_eq!(f.host["hw.model"], "R740 rev A");
        check(&f.to_wire(0)).expect("a bounded set passes");
        // Name order: the first devices are the ones kept.
        assert!(f.devices.contains_key("d00000"));
    }

    #[test]
    fn values_are_cleaned_and_cut_on_a_character_boundary() {
        assert_eq!(
            clean_value("  Cisco IOS Software,\r\nC3750  Software \t"),
            "Cisco IOS Software, C3750 Software"
        );
        let cut = clean_value(&"é".repeat(MAX_VALUE_BYTES));
        assert_eq!(cut.len(), MAX_VALUE_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn key_facts_pick_model_serial_os_and_addresses() {
        let host = map(&[
            ("hw.vendor", "Dell Inc."),
            ("hw.model", "PowerEdge R740"),
            ("hw.serial", "7XK2S53"),
            ("bios.version", "2.12.2"),
            ("os.name", "Debian GNU/Linux 12 (bookworm)"),
            ("kernel.release", "6.1.0-18-amd64"),
            ("ip[eth0]", "192.0.2.5/24"),
            ("ipx", "not an address"),
            ("memory.bytes", "68719476736"),
        ]);
        let keys: Vec<String> = key_host_facts(&host).into_keys().collect();
        assert_eq!(
            keys,
            [
                "hw.model",
                "hw.serial",
                "hw.vendor",
                "ip[eth0]",
                "kernel.release",
                "os.name"
            ]
        );
        let device = map(&[
            ("sys.name", "core-sw1"),
            ("sys.object_id", "1.3.6.1.4.1.9.1.516"),
            ("chassis[1001].model", "WS-C3750-48PS-S"),
            ("chassis[1001].serial", "CAT0952N20R"),
            ("chassis[1001].hardware", "V05"),
        ]);
        let keys: Vec<String> = key_device_facts(&device).into_keys().collect();
        assert_eq!(
            keys,
            ["chassis[1001].model", "chassis[1001].serial", "sys.name"]
        );
    }
}
