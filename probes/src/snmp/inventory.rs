//! Device facts for the inventory (`patrol_proto::facts`): what a polled device is, read
//! once an hour beside the probe — SNMPv2-MIB sysDescr, sysObjectID and sysName, and the
//! ENTITY-MIB (RFC 6933) entPhysicalTable rows of class chassis(3): description, name,
//! hardware, firmware and software revisions, serial number, manufacturer and model. Keyed by
//! the device's `name`, the `device` label its samples carry.

use std::time::Duration;

use futures::future::join_all;
use patrol_proto::facts::{FactMap, clean_value, key};

use super::config::DeviceSettings;
use super::session::Session;
use super::table::{Val, dotted};
use super::{SYS_UPTIME, SnmpConfig};
use crate::ProbeError;

/// SNMPv2-MIB sysDescr.0, sysObjectID.0, sysName.0.
pub const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
pub const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];
pub const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];

/// ENTITY-MIB entPhysicalEntry (1.3.6.1.2.1.47.1.1.1.1) and its columns read here.
const ENT_PHYSICAL_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1];
/// entPhysicalClass; chassis(3) is the class of a box (a stack's members are each one).
const ENT_PHYSICAL_CLASS: u32 = 5;
const CHASSIS: i64 = 3;
/// Column → fact field: entPhysicalDescr(2), entPhysicalName(7), entPhysicalHardwareRev(8),
/// entPhysicalFirmwareRev(9), entPhysicalSoftwareRev(10), entPhysicalSerialNum(11),
/// entPhysicalMfgName(12), entPhysicalModelName(13).
const FIELDS: &[(u32, &str)] = &[
    (2, "descr"),
    (7, "name"),
    (8, "hardware"),
    (9, "firmware"),
    (10, "software"),
    (11, "serial"),
    (12, "vendor"),
    (13, "model"),
];
/// Most chassis rows reported per device (a stack of switches has one per member).
const MAX_CHASSIS: usize = 64;
/// Longest one device may take: it is read once an hour, never on the probe's schedule.
const DEVICE_DEADLINE: Duration = Duration::from_secs(60);

fn text(v: &Val) -> Option<String> {
    let t = match v {
        Val::Bytes(b) => clean_value(&String::from_utf8_lossy(b)),
        Val::Oid(arcs) => dotted(arcs),
        _ => return None,
    };
    (!t.is_empty()).then_some(t)
}

fn column(index_of: u32) -> Vec<u32> {
    let mut oid = ENT_PHYSICAL_ENTRY.to_vec();
    oid.push(index_of);
    oid
}

/// The chassis rows' indexes among entPhysicalClass values `(oid, value)`.
fn chassis_indexes(classes: &[(Vec<u32>, Val)]) -> Vec<Vec<u32>> {
    let class_col = column(ENT_PHYSICAL_CLASS);
    classes
        .iter()
        .filter(|(_, v)| matches!(v, Val::Int(CHASSIS)))
        .filter_map(|(oid, _)| oid.strip_prefix(class_col.as_slice()).map(<[u32]>::to_vec))
        .filter(|i| !i.is_empty())
        .take(MAX_CHASSIS)
        .collect()
}

/// The facts among `rows` (any mix of GET answers and walked columns, e.g. a whole
/// recording): the sys scalars, and each chassis row's fields as `chassis[<index>].<field>`.
pub fn facts_from(rows: &[(Vec<u32>, Val)]) -> FactMap {
    let mut facts = FactMap::new();
    for (oid, fact) in [
        (SYS_DESCR, key::SYS_DESCR),
        (SYS_OBJECT_ID, key::SYS_OBJECT_ID),
        (SYS_NAME, key::SYS_NAME),
    ] {
        if let Some(t) = rows
            .iter()
            .find(|(o, _)| o == oid)
            .and_then(|(_, v)| text(v))
        {
            facts.insert(fact.to_owned(), t);
        }
    }
    let class_col = column(ENT_PHYSICAL_CLASS);
    let classes: Vec<(Vec<u32>, Val)> = rows
        .iter()
        .filter(|(o, _)| o.starts_with(&class_col))
        .cloned()
        .collect();
    for index in chassis_indexes(&classes) {
        let name = format!("{}[{}]", key::CHASSIS, dotted(&index));
        for (col, field) in FIELDS {
            let mut oid = column(*col);
            oid.extend_from_slice(&index);
            if let Some(t) = rows
                .iter()
                .find(|(o, _)| *o == oid)
                .and_then(|(_, v)| text(v))
            {
                facts.insert(format!("{name}.{field}"), t);
            }
        }
    }
    facts
}

/// Reads one device; `None` when it does not answer (its facts are then left as they were).
async fn read(device: &DeviceSettings, max_repetitions: u32, max_rows: usize) -> Option<FactMap> {
    let session = match Session::open(device, max_repetitions, max_rows).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(device = %device.name, error = %e, "inventory: device not read");
            return None;
        }
    };
    let mut rows = match session
        .get(&[SYS_DESCR, SYS_OBJECT_ID, SYS_NAME, SYS_UPTIME])
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(device = %device.name, error = %e, "inventory: device not read");
            return None;
        }
    };
    // A device without ENTITY-MIB answers an empty walk; its sys facts still stand.
    let classes = match session.walk(&column(ENT_PHYSICAL_CLASS)).await {
        Ok((classes, _)) => classes,
        Err(e) => {
            tracing::debug!(device = %device.name, error = %e, "inventory: entPhysicalTable not read");
            Vec::new()
        }
    };
    for index in chassis_indexes(&classes) {
        let oids: Vec<Vec<u32>> = FIELDS
            .iter()
            .map(|(col, _)| {
                let mut oid = column(*col);
                oid.extend_from_slice(&index);
                oid
            })
            .collect();
        let refs: Vec<&[u32]> = oids.iter().map(Vec::as_slice).collect();
        if let Ok(got) = session.get(&refs).await {
            rows.extend(got);
        }
    }
    rows.extend(classes);
    Some(facts_from(&rows))
}

/// The facts of every device of an `snmp` section, read concurrently, each within its own
/// deadline: `(device, None)` for one that did not answer.
pub async fn device_facts(
    config: &SnmpConfig,
) -> Result<Vec<(String, Option<FactMap>)>, ProbeError> {
    let settings = config.validate()?;
    let reads = settings.devices.iter().map(|d| async {
        let facts = tokio::time::timeout(
            DEVICE_DEADLINE,
            read(d, settings.max_repetitions, settings.max_rows),
        )
        .await
        .unwrap_or(None);
        (d.name.clone(), facts)
    });
    Ok(join_all(reads).await)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// snmpsim's real Catalyst 3750 walk (the Debian package ships it).
    const CISCO: &str = "/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz";

    #[test]
    fn a_catalyst_3750_walk_gives_its_identity_and_chassis() {
        let out = std::process::Command::new("zcat")
            .arg(CISCO)
            .output()
            .unwrap_or_else(|e| panic!("zcat {CISCO}: {e}: install the Debian package snmpsim"));
        assert!(
            out.status.success(),
            "{CISCO} missing: install the Debian package snmpsim (scripts/setup.sh does it)"
        );
        let rows = super::super::parse_snmprec(&String::from_utf8_lossy(&out.stdout));
        let facts = facts_from(&rows);
        assert_eq!(facts["sys.name"], "Profiler3750");
        assert_eq!(facts["sys.object_id"], "1.3.6.1.4.1.9.1.516");
        assert!(
            facts["sys.descr"].starts_with(
                "Cisco IOS Software, C3750 Software (C3750-IPSERVICESK9-M), Version 12.2(55)SE10, RELEASE SOFTWARE (fc2) Technical Support:"
            ),
            "CR LF folded: {}",
            facts["sys.descr"]
        );
        // Row 1 is the stack (class 11), row 3001 its one switch (chassis).
        let chassis: FactMap = facts
            .iter()
            .filter(|(k, _)| k.starts_with("chassis"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want: FactMap = [
            ("chassis[3001].descr", "WS-C3750-48P"),
            ("chassis[3001].firmware", "12.2(55)SE10"),
            ("chassis[3001].hardware", "V05"),
            ("chassis[3001].model", "WS-C3750-48PS-S"),
            ("chassis[3001].name", "3"),
            ("chassis[3001].serial", "CAT0952N20R"),
            ("chassis[3001].software", "12.2(55)SE10"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(chassis, want, "an empty entPhysicalMfgName gives no vendor");
    }

    #[test]
    fn a_device_without_entity_mib_has_only_its_sys_facts() {
        let rows = super::super::parse_snmprec(
            "1.3.6.1.2.1.1.1.0|4|Linux nas01 5.10.0\n1.3.6.1.2.1.1.5.0|4|nas01\n",
        );
        let facts = facts_from(&rows);
        assert_eq!(facts.len(), 2, "{facts:?}");
        assert_eq!(facts["sys.descr"], "Linux nas01 5.10.0");
    }
}
