//! The host's own facts: DMI (`/sys/class/dmi/id`), os-release(5), uname, CPU and memory
//! (sysinfo), and the interfaces' addresses (sysinfo, getifaddrs(3)). Parsers take text and
//! are tested on recorded files; the readers only open files.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use patrol_proto::facts::{FactMap, clean_value, indexed, key};
use sysinfo::{CpuRefreshKind, Networks, System};

use super::read_small;

/// DMI attribute files and the facts they give. `product_serial` (and `product_uuid`, not
/// read) are mode 0400 on most kernels: without root the serial is absent.
pub const DMI_FILES: &[(&str, &str)] = &[
    ("sys_vendor", key::HW_VENDOR),
    ("product_name", key::HW_MODEL),
    ("product_version", key::HW_VERSION),
    ("product_serial", key::HW_SERIAL),
    ("bios_vendor", key::BIOS_VENDOR),
    ("bios_version", key::BIOS_VERSION),
    ("bios_date", key::BIOS_DATE),
];

/// What firmware writes where the vendor filled nothing in (dmidecode prints these as they
/// are); such a value says nothing about the box, so the fact is left absent.
const PLACEHOLDERS: &[&str] = &[
    "to be filled by o.e.m.",
    "default string",
    "not specified",
    "not applicable",
    "system product name",
    "system serial number",
    "system manufacturer",
    "system version",
    "none",
    "n/a",
    "0123456789",
];

/// A value worth reporting: not empty and not a firmware placeholder.
fn meaningful(value: &str) -> bool {
    !value.is_empty() && !PLACEHOLDERS.contains(&value.to_ascii_lowercase().as_str())
}

/// The DMI facts of the tree at `dir` (`/sys/class/dmi/id`). A file that is missing or
/// unreadable (not root) gives no fact.
pub fn dmi(dir: &Path) -> FactMap {
    DMI_FILES
        .iter()
        .filter_map(|(file, fact)| {
            let value = clean_value(&read_small(&dir.join(file), 4096)?);
            meaningful(&value).then(|| ((*fact).to_owned(), value))
        })
        .collect()
}

/// os-release(5): `KEY=value` lines, values optionally in double or single quotes with
/// shell-style backslash escapes inside double quotes; `#` comments.
pub fn parse_os_release(text: &str) -> FactMap {
    let mut facts = FactMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, raw)) = line.split_once('=') else {
            continue;
        };
        let fact = match name.trim() {
            "PRETTY_NAME" => key::OS_NAME,
            "ID" => key::OS_ID,
            "VERSION_ID" => key::OS_VERSION_ID,
            _ => continue,
        };
        let value = clean_value(&unquote(raw.trim()));
        if !value.is_empty() {
            facts.insert(fact.to_owned(), value);
        }
    }
    facts
}

fn unquote(raw: &str) -> String {
    if let Some(inner) = raw
        .strip_prefix('\'')
        .and_then(|r| r.strip_suffix('\''))
        .filter(|_| raw.len() >= 2)
    {
        return inner.to_owned();
    }
    let Some(inner) = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| raw.len() >= 2)
    else {
        return raw.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The first os-release file of `paths` that can be read (`/etc/os-release`, then
/// `/usr/lib/os-release`, as the spec says).
pub fn read_os_release(paths: &[PathBuf]) -> FactMap {
    paths
        .iter()
        .find_map(|p| read_small(p, 64 * 1024))
        .map(|text| parse_os_release(&text))
        .unwrap_or_default()
}

/// uname (kernel release, architecture, host name), CPU model and counts, total memory.
pub fn system() -> FactMap {
    let mut facts = FactMap::new();
    let mut put = |k: &str, v: String| {
        let v = clean_value(&v);
        if !v.is_empty() {
            facts.insert(k.to_owned(), v);
        }
    };
    if let Ok(release) = System::kernel_version() {
        put(key::KERNEL_RELEASE, release);
    }
    if let Ok(name) = System::host_name() {
        put(key::HOSTNAME, name);
    }
    put(key::CPU_ARCH, System::cpu_arch());
    if let Ok(cores) = System::physical_core_count() {
        put(key::CPU_CORES, cores.to_string());
    }
    match System::new() {
        Ok(mut system) => {
            system.refresh_cpu_list(CpuRefreshKind::nothing());
            system.refresh_memory();
            let cpus = system.cpus();
            if !cpus.is_empty() {
                put(key::CPU_COUNT, cpus.len().to_string());
            }
            if let Some(cpu) = cpus.first() {
                put(key::CPU_MODEL, cpu.brand().to_owned());
            }
            let memory = system.total_memory();
            if memory > 0 {
                put(key::MEMORY_BYTES, memory.to_string());
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "inventory: sysinfo unavailable; no CPU or memory facts")
        }
    }
    facts
}

/// `ip[<interface>]` for every interface with an address worth calling it by: loopback and
/// IPv6 link-local addresses (every interface has one; nobody reaches a box by it) are
/// left out, and so is an interface left with none.
pub fn ip_facts(interfaces: impl IntoIterator<Item = (String, Vec<(IpAddr, u8)>)>) -> FactMap {
    let mut facts = FactMap::new();
    for (name, mut addrs) in interfaces {
        addrs.retain(|(a, _)| !a.is_loopback() && !is_link_local(a) && !a.is_unspecified());
        if addrs.is_empty() {
            continue;
        }
        // IPv4 first, each family in address order: the same text every time.
        addrs.sort_by_key(|(a, p)| (a.is_ipv6(), *a, *p));
        addrs.dedup();
        let text: Vec<String> = addrs.iter().map(|(a, p)| format!("{a}/{p}")).collect();
        facts.insert(indexed(key::IP, &name), clean_value(&text.join(", ")));
    }
    facts
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

/// This host's interfaces and addresses.
pub fn addresses() -> FactMap {
    match Networks::new_with_refreshed_list() {
        Ok(networks) => ip_facts(networks.iter().map(|(name, data)| {
            (
                name.to_string_lossy().into_owned(),
                data.ip_networks()
                    .iter()
                    .map(|n| (n.addr, n.prefix))
                    .collect(),
            )
        })),
        Err(e) => {
            tracing::debug!(error = %e, "inventory: interfaces unreadable; no address facts");
            FactMap::new()
        }
    }
}
