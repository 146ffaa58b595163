//! The built-in profiles: which OIDs each reads and how rows become samples. Pure functions
//! over a [`Poll`], so they are tested on real recordings without a network.
//!
//! OIDs are from the MIBs named on each constant (RFC 3418 SNMPv2-MIB, RFC 2863 IF-MIB,
//! RFC 2790 HOST-RESOURCES-MIB, RFC 3433 ENTITY-SENSOR-MIB, RFC 6933 ENTITY-MIB,
//! CISCO-ENVMON-MIB, CISCO-PROCESS-MIB).

use patrol_proto::{Labels, Sample};

use super::config::Profile;
use super::rates::{Counters, Width};
use super::table::{Poll, Val};

/// SNMPv2-MIB sysDescr.0, sysUpTime.0, sysName.0.
pub const SYS_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 1, 0];
pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];
pub const SYS_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 5, 0];

/// IF-MIB ifTable columns.
pub const IF_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 2];
pub const IF_ADMIN_STATUS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 7];
pub const IF_OPER_STATUS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 8];
pub const IF_IN_OCTETS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 10];
pub const IF_IN_DISCARDS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 13];
pub const IF_IN_ERRORS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 14];
pub const IF_OUT_OCTETS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 16];
pub const IF_OUT_DISCARDS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 19];
pub const IF_OUT_ERRORS: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1, 20];
/// IF-MIB ifXTable columns.
pub const IF_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1];
pub const IF_HC_IN_OCTETS: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 6];
pub const IF_HC_OUT_OCTETS: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 10];
pub const IF_HIGH_SPEED: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 15];
pub const IF_ALIAS: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 18];
pub const IF_COUNTER_DISCONTINUITY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 19];

/// HOST-RESOURCES-MIB hrProcessorLoad and hrStorageTable columns.
pub const HR_PROCESSOR_LOAD: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
pub const HR_STORAGE_DESCR: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 3];
pub const HR_STORAGE_UNITS: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 4];
pub const HR_STORAGE_SIZE: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 5];
pub const HR_STORAGE_USED: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1, 6];

/// ENTITY-SENSOR-MIB entPhySensorTable columns and ENTITY-MIB entPhysicalName.
pub const ENT_SENSOR_TYPE: &[u32] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 1];
pub const ENT_SENSOR_SCALE: &[u32] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 2];
pub const ENT_SENSOR_PRECISION: &[u32] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 3];
pub const ENT_SENSOR_VALUE: &[u32] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 4];
pub const ENT_SENSOR_OPER_STATUS: &[u32] = &[1, 3, 6, 1, 2, 1, 99, 1, 1, 1, 5];
pub const ENT_PHYSICAL_NAME: &[u32] = &[1, 3, 6, 1, 2, 1, 47, 1, 1, 1, 1, 7];

/// CISCO-ENVMON-MIB status tables.
pub const ENVMON_TEMP_DESCR: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 3, 1, 2];
pub const ENVMON_TEMP_VALUE: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 3, 1, 3];
pub const ENVMON_TEMP_STATE: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 3, 1, 6];
pub const ENVMON_FAN_DESCR: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 4, 1, 2];
pub const ENVMON_FAN_STATE: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 4, 1, 3];
pub const ENVMON_SUPPLY_DESCR: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 5, 1, 2];
pub const ENVMON_SUPPLY_STATE: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 13, 1, 5, 1, 3];

/// CISCO-PROCESS-MIB cpmCPUTotal5minRev (0..100, preferred) and the deprecated
/// cpmCPUTotal5min of older IOS.
pub const CPM_CPU_5MIN_REV: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1, 8];
pub const CPM_CPU_5MIN: &[u32] = &[1, 3, 6, 1, 4, 1, 9, 9, 109, 1, 1, 1, 1, 5];

/// Scalars read with one GET per poll. sysUpTime is always read: it tells whether the
/// device answers and whether it restarted.
pub fn scalars(profiles: &[Profile]) -> Vec<&'static [u32]> {
    let mut out = vec![SYS_UPTIME];
    if profiles.contains(&Profile::System) {
        out.extend([SYS_DESCR, SYS_NAME]);
    }
    out
}

/// Table columns walked for `profile`.
pub fn columns(profile: Profile) -> &'static [&'static [u32]] {
    match profile {
        Profile::System => &[],
        Profile::IfMib => &[
            IF_DESCR,
            IF_ADMIN_STATUS,
            IF_OPER_STATUS,
            IF_IN_OCTETS,
            IF_IN_DISCARDS,
            IF_IN_ERRORS,
            IF_OUT_OCTETS,
            IF_OUT_DISCARDS,
            IF_OUT_ERRORS,
            IF_NAME,
            IF_HC_IN_OCTETS,
            IF_HC_OUT_OCTETS,
            IF_HIGH_SPEED,
            IF_ALIAS,
            IF_COUNTER_DISCONTINUITY,
        ],
        Profile::HostResources => &[
            HR_PROCESSOR_LOAD,
            HR_STORAGE_DESCR,
            HR_STORAGE_UNITS,
            HR_STORAGE_SIZE,
            HR_STORAGE_USED,
        ],
        Profile::EntitySensor => &[
            ENT_SENSOR_TYPE,
            ENT_SENSOR_SCALE,
            ENT_SENSOR_PRECISION,
            ENT_SENSOR_VALUE,
            ENT_SENSOR_OPER_STATUS,
            ENT_PHYSICAL_NAME,
        ],
        Profile::CiscoEnvmon => &[
            ENVMON_TEMP_DESCR,
            ENVMON_TEMP_VALUE,
            ENVMON_TEMP_STATE,
            ENVMON_FAN_DESCR,
            ENVMON_FAN_STATE,
            ENVMON_SUPPLY_DESCR,
            ENVMON_SUPPLY_STATE,
        ],
        Profile::CiscoProcess => &[CPM_CPU_5MIN_REV, CPM_CPU_5MIN],
    }
}

/// Appends samples of one device, each labelled `device` and stamped with the round's time.
pub struct Out<'a> {
    pub out: &'a mut Vec<Sample>,
    pub device: &'a str,
    pub now_ms: i64,
}

impl Out<'_> {
    pub fn push(&mut self, name: &str, pairs: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels = Labels::from_pairs([("device", self.device)]);
        for (k, v) in pairs {
            labels.insert(*k, *v);
        }
        self.out.push(Sample::new(name, labels, value, self.now_ms));
    }
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `snmp_info{sys_name,sys_descr} 1` and `snmp_uptime_seconds`.
pub fn system(poll: &Poll, out: &mut Out<'_>) {
    let name = poll
        .scalar(SYS_NAME)
        .and_then(Val::text)
        .unwrap_or_default();
    let descr = poll
        .scalar(SYS_DESCR)
        .and_then(Val::text)
        .unwrap_or_default();
    out.push(
        "snmp_info",
        &[("sys_name", &name), ("sys_descr", &descr)],
        1.0,
    );
    if let Some(Val::Ticks(t)) = poll.scalar(SYS_UPTIME) {
        out.push("snmp_uptime_seconds", &[], f64::from(*t) / 100.0);
    }
}

/// IF-MIB ifOperStatus values that make an admin-up interface count as down: down(2),
/// unknown(4), notPresent(6), lowerLayerDown(7). up(1), testing(3) and dormant(5, waiting
/// for an external event such as a dial-up call) are not failures.
fn oper_is_down(oper: i64) -> bool {
    matches!(oper, 2 | 4 | 6 | 7)
}

/// Interface name label: ifName, else ifDescr, else the ifIndex. A name used by two
/// indexes gets `#<ifIndex>` appended on the later ones so series never merge.
fn interface_names(poll: &Poll) -> Vec<(Vec<u32>, String)> {
    let Some(status) = poll.column(IF_OPER_STATUS) else {
        return Vec::new();
    };
    let mut seen = std::collections::HashSet::new();
    status
        .keys()
        .map(|index| {
            let base = [IF_NAME, IF_DESCR]
                .iter()
                .filter_map(|c| poll.get(c, index).and_then(Val::text))
                .find(|s| !s.is_empty())
                .unwrap_or_else(|| super::table::dotted(index));
            let name = if seen.insert(base.clone()) {
                base
            } else {
                format!("{base}#{}", super::table::dotted(index))
            };
            (index.clone(), name)
        })
        .collect()
}

/// The `snmp_if_*` metrics.
pub fn if_mib(poll: &Poll, counters: &mut Counters, out: &mut Out<'_>) {
    for (index, ifname) in interface_names(poll) {
        let alias = poll
            .get(IF_ALIAS, &index)
            .and_then(Val::text)
            .unwrap_or_default();
        let mut labels: Vec<(&str, &str)> = vec![("ifname", &ifname)];
        if !alias.is_empty() {
            labels.push(("ifalias", &alias));
        }
        let admin = poll.get(IF_ADMIN_STATUS, &index).and_then(Val::int);
        let oper = poll.get(IF_OPER_STATUS, &index).and_then(Val::int);
        if let Some(admin) = admin {
            out.push("snmp_if_admin_up", &labels, flag(admin == 1));
        }
        if let Some(oper) = oper {
            out.push("snmp_if_oper_up", &labels, flag(oper == 1));
        }
        if let (Some(admin), Some(oper)) = (admin, oper) {
            out.push(
                "snmp_if_down",
                &labels,
                flag(admin == 1 && oper_is_down(oper)),
            );
        }
        if let Some(speed) = poll.get(IF_HIGH_SPEED, &index).and_then(Val::number) {
            out.push("snmp_if_speed_bits_per_second", &labels, speed * 1e6);
        }
        let discontinuity = match poll.get(IF_COUNTER_DISCONTINUITY, &index) {
            Some(Val::Ticks(t)) => Some(*t),
            _ => None,
        };
        let key = super::table::dotted(&index);
        let mut rate = |name: &str, columns: &[&[u32]], scale: f64, out: &mut Out<'_>| {
            // The first column present wins: 64-bit HC counters before the 32-bit ones.
            let reading = columns.iter().find_map(|c| match poll.get(c, &index) {
                Some(Val::Counter64(v)) => Some((*v, Width::Bits64)),
                Some(Val::Counter32(v)) => Some((u64::from(*v), Width::Bits32)),
                _ => None,
            });
            if let Some((value, width)) = reading {
                let id = format!("{name}/{key}");
                if let Some(r) = counters.rate(id, value, width, discontinuity) {
                    out.push(name, &labels, r * scale);
                }
            }
        };
        rate(
            "snmp_if_in_bits_per_second",
            &[IF_HC_IN_OCTETS, IF_IN_OCTETS],
            8.0,
            out,
        );
        rate(
            "snmp_if_out_bits_per_second",
            &[IF_HC_OUT_OCTETS, IF_OUT_OCTETS],
            8.0,
            out,
        );
        rate("snmp_if_in_errors_per_second", &[IF_IN_ERRORS], 1.0, out);
        rate("snmp_if_out_errors_per_second", &[IF_OUT_ERRORS], 1.0, out);
        rate(
            "snmp_if_in_discards_per_second",
            &[IF_IN_DISCARDS],
            1.0,
            out,
        );
        rate(
            "snmp_if_out_discards_per_second",
            &[IF_OUT_DISCARDS],
            1.0,
            out,
        );
    }
}

/// `snmp_processor_load_percent{cpu}` and `snmp_storage_*{storage}`.
pub fn host_resources(poll: &Poll, out: &mut Out<'_>) {
    if let Some(loads) = poll.column(HR_PROCESSOR_LOAD) {
        for (index, load) in loads {
            if let Some(v) = load.number() {
                let cpu = super::table::dotted(index);
                out.push("snmp_processor_load_percent", &[("cpu", &cpu)], v);
            }
        }
    }
    let Some(descrs) = poll.column(HR_STORAGE_DESCR) else {
        return;
    };
    for (index, descr) in descrs {
        let storage = descr.text().unwrap_or_else(|| super::table::dotted(index));
        let units = poll.get(HR_STORAGE_UNITS, index).and_then(Val::number);
        let size = poll.get(HR_STORAGE_SIZE, index).and_then(Val::number);
        let used = poll.get(HR_STORAGE_USED, index).and_then(Val::number);
        let (Some(units), Some(size), Some(used)) = (units, size, used) else {
            continue;
        };
        // Entries of size 0 (empty drives, some memory pools) have no meaningful percentage.
        if size <= 0.0 || units <= 0.0 {
            continue;
        }
        let labels = [("storage", storage.as_str())];
        out.push("snmp_storage_size_bytes", &labels, size * units);
        out.push("snmp_storage_used_bytes", &labels, used * units);
        out.push("snmp_storage_used_percent", &labels, used / size * 100.0);
    }
}

/// ENTITY-SENSOR-MIB EntitySensorDataScale (RFC 3433) as a power of ten. Note exa(14) is
/// listed before peta(15) in the RFC.
fn sensor_scale_exponent(scale: i64) -> Option<i32> {
    Some(match scale {
        1 => -24,
        2 => -21,
        3 => -18,
        4 => -15,
        5 => -12,
        6 => -9,
        7 => -6,
        8 => -3,
        9 => 0,
        10 => 3,
        11 => 6,
        12 => 9,
        13 => 12,
        14 => 18,
        15 => 15,
        16 => 21,
        17 => 24,
        _ => return None,
    })
}

/// Temperature in °C of one ENTITY-SENSOR row: value × 10^scale ÷ 10^precision.
pub fn sensor_celsius(value: i64, scale: i64, precision: i64) -> Option<f64> {
    let exponent = sensor_scale_exponent(scale)?;
    if !(-8..=9).contains(&precision) {
        return None;
    }
    Some(value as f64 * 10f64.powi(exponent) / 10f64.powi(precision as i32))
}

/// `hw_temperature_celsius{sensor}` from ENTITY-SENSOR-MIB rows of type celsius(8) whose
/// operStatus is ok(1); the sensor label is entPhysicalName, else the index.
pub fn entity_sensor(poll: &Poll, out: &mut Out<'_>) {
    let Some(types) = poll.column(ENT_SENSOR_TYPE) else {
        return;
    };
    for (index, kind) in types {
        if kind.int() != Some(8) {
            continue;
        }
        if poll.get(ENT_SENSOR_OPER_STATUS, index).and_then(Val::int) != Some(1) {
            continue;
        }
        let value = poll.get(ENT_SENSOR_VALUE, index).and_then(Val::int);
        let scale = poll.get(ENT_SENSOR_SCALE, index).and_then(Val::int);
        let precision = poll.get(ENT_SENSOR_PRECISION, index).and_then(Val::int);
        let (Some(value), Some(scale), Some(precision)) = (value, scale, precision) else {
            continue;
        };
        let Some(celsius) = sensor_celsius(value, scale, precision) else {
            continue;
        };
        let sensor = poll
            .get(ENT_PHYSICAL_NAME, index)
            .and_then(Val::text)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| super::table::dotted(index));
        out.push("hw_temperature_celsius", &[("sensor", &sensor)], celsius);
    }
}

/// CiscoEnvMonState: normal(1), warning(2), critical(3), shutdown(4), notPresent(5),
/// notFunctioning(6). Only normal is OK; a part that is not present gives no sample.
fn envmon_ok(state: i64) -> Option<bool> {
    match state {
        5 => None,
        s => Some(s == 1),
    }
}

/// `hw_fan_ok{fan}`, `hw_psu_ok{psu}`, `hw_temperature_celsius{sensor}` from CISCO-ENVMON.
pub fn cisco_envmon(poll: &Poll, out: &mut Out<'_>) {
    let name = |column: &[u32], index: &Vec<u32>| {
        poll.get(column, index)
            .and_then(Val::text)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| super::table::dotted(index))
    };
    for (state_col, descr_col, metric, label) in [
        (ENVMON_FAN_STATE, ENVMON_FAN_DESCR, "hw_fan_ok", "fan"),
        (ENVMON_SUPPLY_STATE, ENVMON_SUPPLY_DESCR, "hw_psu_ok", "psu"),
    ] {
        for (index, state) in poll.column(state_col).into_iter().flatten() {
            if let Some(ok) = state.int().and_then(envmon_ok) {
                let part = name(descr_col, index);
                out.push(metric, &[(label, &part)], flag(ok));
            }
        }
    }
    for (index, value) in poll.column(ENVMON_TEMP_VALUE).into_iter().flatten() {
        let state = poll.get(ENVMON_TEMP_STATE, index).and_then(Val::int);
        if state == Some(5) {
            continue;
        }
        if let Some(v) = value.number() {
            let sensor = name(ENVMON_TEMP_DESCR, index);
            out.push("hw_temperature_celsius", &[("sensor", &sensor)], v);
        }
    }
}

/// `snmp_cpu_5min_percent{cpu}` from CISCO-PROCESS-MIB, one per cpmCPUTotalIndex.
pub fn cisco_process(poll: &Poll, out: &mut Out<'_>) {
    let column = poll
        .column(CPM_CPU_5MIN_REV)
        .or_else(|| poll.column(CPM_CPU_5MIN));
    for (index, v) in column.into_iter().flatten() {
        if let Some(v) = v.number() {
            let cpu = super::table::dotted(index);
            out.push("snmp_cpu_5min_percent", &[("cpu", &cpu)], v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snmp::table::parse_snmprec;

    fn poll_from(text: &str, profiles: &[Profile]) -> Poll {
        let rows = parse_snmprec(text);
        let mut poll = Poll::default();
        for p in profiles {
            for c in columns(*p) {
                poll.add_rows(c, rows.iter().cloned());
            }
        }
        for s in scalars(profiles) {
            if let Some((_, v)) = rows.iter().find(|(o, _)| o == s) {
                poll.scalars.insert(s.to_vec(), v.clone());
            }
        }
        poll
    }

    fn run(poll: &Poll, f: impl FnOnce(&Poll, &mut Out<'_>)) -> Vec<(String, String, f64)> {
        let mut samples = Vec::new();
        let mut out = Out {
            out: &mut samples,
            device: "sw",
            now_ms: 0,
        };
        f(poll, &mut out);
        samples
            .into_iter()
            .map(|s| (s.name.clone(), s.labels.to_string(), s.value))
            .collect()
    }

    #[test]
    fn sensor_scale_and_precision_are_applied() {
        assert_eq!(sensor_celsius(355, 9, 1), Some(35.5));
        assert_eq!(sensor_celsius(41_000, 8, 0), Some(41.0));
        assert_eq!(sensor_celsius(4, 10, 0), Some(4000.0));
        assert_eq!(sensor_celsius(1, 99, 0), None);
    }

    #[test]
    fn admin_shut_interface_is_not_down_but_admin_up_oper_down_is() {
        let poll = poll_from(
            "1.3.6.1.2.1.2.2.1.7.1|2|1\n1.3.6.1.2.1.2.2.1.7.2|2|2\n1.3.6.1.2.1.2.2.1.7.3|2|1\n\
             1.3.6.1.2.1.2.2.1.8.1|2|2\n1.3.6.1.2.1.2.2.1.8.2|2|2\n1.3.6.1.2.1.2.2.1.8.3|2|5\n\
             1.3.6.1.2.1.31.1.1.1.1.1|4|Gi1/0/1\n1.3.6.1.2.1.31.1.1.1.1.2|4|Gi1/0/2\n\
             1.3.6.1.2.1.31.1.1.1.1.3|4|Di0\n1.3.6.1.2.1.31.1.1.1.18.1|4|uplink core\n",
            &[Profile::IfMib],
        );
        let mut counters = Counters::default();
        let samples = run(&poll, |p, o| if_mib(p, &mut counters, o));
        let down: Vec<_> = samples.iter().filter(|s| s.0 == "snmp_if_down").collect();
        assert_eq!(down.len(), 3);
        assert!(
            down[0].1.contains("ifname=\"Gi1/0/1\"")
                && down[0].1.contains("ifalias=\"uplink core\"")
        );
        assert_eq!(down[0].2, 1.0);
        assert_eq!(down[1].2, 0.0, "admin down is not an incident");
        assert_eq!(down[2].2, 0.0, "dormant is not down");
    }

    #[test]
    fn duplicate_interface_names_stay_apart() {
        let poll = poll_from(
            "1.3.6.1.2.1.2.2.1.8.1|2|1\n1.3.6.1.2.1.2.2.1.8.2|2|1\n\
             1.3.6.1.2.1.31.1.1.1.1.1|4|Nu0\n1.3.6.1.2.1.31.1.1.1.1.2|4|Nu0\n",
            &[Profile::IfMib],
        );
        let mut counters = Counters::default();
        let samples = run(&poll, |p, o| if_mib(p, &mut counters, o));
        assert!(samples[1].1.contains("ifname=\"Nu0#2\""), "{samples:?}");
    }

    #[test]
    fn envmon_states_map_to_ok_and_not_present_is_skipped() {
        let poll = poll_from(
            "1.3.6.1.4.1.9.9.13.1.4.1.2.1|4|Fan 1\n1.3.6.1.4.1.9.9.13.1.4.1.3.1|2|1\n\
             1.3.6.1.4.1.9.9.13.1.4.1.2.2|4|Fan 2\n1.3.6.1.4.1.9.9.13.1.4.1.3.2|2|3\n\
             1.3.6.1.4.1.9.9.13.1.5.1.2.1|4|PS2\n1.3.6.1.4.1.9.9.13.1.5.1.3.1|2|5\n\
             1.3.6.1.4.1.9.9.13.1.3.1.2.1|4|Inlet\n1.3.6.1.4.1.9.9.13.1.3.1.3.1|66|31\n\
             1.3.6.1.4.1.9.9.13.1.3.1.6.1|2|1\n",
            &[Profile::CiscoEnvmon],
        );
        let samples = run(&poll, cisco_envmon);
        let names: Vec<_> = samples.iter().map(|s| (s.0.as_str(), s.2)).collect();
        assert_eq!(
            names,
            [
                ("hw_fan_ok", 1.0),
                ("hw_fan_ok", 0.0),
                ("hw_temperature_celsius", 31.0)
            ]
        );
    }

    #[test]
    fn storage_percent_uses_allocation_units() {
        let poll = poll_from(
            "1.3.6.1.2.1.25.2.3.1.3.31|4|/\n1.3.6.1.2.1.25.2.3.1.4.31|2|4096\n\
             1.3.6.1.2.1.25.2.3.1.5.31|2|1000\n1.3.6.1.2.1.25.2.3.1.6.31|2|250\n\
             1.3.6.1.2.1.25.2.3.1.3.32|4|/empty\n1.3.6.1.2.1.25.2.3.1.4.32|2|4096\n\
             1.3.6.1.2.1.25.2.3.1.5.32|2|0\n1.3.6.1.2.1.25.2.3.1.6.32|2|0\n",
            &[Profile::HostResources],
        );
        let samples = run(&poll, host_resources);
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].2, 4_096_000.0);
        assert_eq!(samples[2].2, 25.0);
    }
}
