//! Profile files: parsing and its errors at file:line:column, loading from directories, and
//! every built-in profile evaluated on recordings (the snmpsim-shipped Cisco and Windows
//! walks, and the small recordings under `snmp/testdata/` written from the MIBs).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::snmp::rates::Counters;
use crate::snmp::table::{Poll, Val, parse_snmprec};

fn builtin_profile(name: &str) -> Arc<ProfileDef> {
    let registry = builtin().expect("built-in profiles parse");
    Arc::clone(&registry[name])
}

/// A poll holding what `profiles` would read from a recording.
fn poll_from(text: &str, profiles: &[&ProfileDef]) -> Poll {
    let rows = parse_snmprec(text);
    let mut poll = Poll::default();
    for p in profiles {
        for c in p.columns() {
            poll.add_rows(c, rows.iter().cloned());
        }
        for s in p.scalar_oids() {
            if let Some((_, v)) = rows.iter().find(|(o, _)| o == s) {
                poll.scalars.insert(s.clone(), v.clone());
            }
        }
    }
    poll
}

/// `name{labels} value` lines, in emission order.
fn run(profile: &ProfileDef, poll: &Poll, counters: &mut Counters) -> Vec<String> {
    let mut samples = Vec::new();
    let mut out = Out {
        out: &mut samples,
        device: "d",
        now_ms: 0,
    };
    emit(profile, poll, counters, &mut out);
    samples
        .iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect()
}

fn lines(profile: &str, recording: &str) -> Vec<String> {
    let p = builtin_profile(profile);
    let poll = poll_from(recording, &[&p]);
    run(&p, &poll, &mut Counters::default())
}

/// `metric` samples by the value of `label`.
fn by(lines: &[String], metric: &str, label: &str) -> BTreeMap<String, String> {
    let prefix = format!("{metric}{{");
    lines
        .iter()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| {
            let (labels, value) = l.rsplit_once(' ').unwrap();
            let needle = format!("{label}=\"");
            let start = labels
                .find(&needle)
                .unwrap_or_else(|| panic!("{l}: no {label}"))
                + needle.len();
            let end = start + labels[start..].find('"').unwrap();
            (labels[start..end].to_owned(), value.to_owned())
        })
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---- the files themselves --------------------------------------------------------------

#[test]
fn every_builtin_profile_parses_and_is_named_after_its_file() {
    let registry = builtin().expect("built-in profiles parse");
    for (file, _) in BUILTIN {
        let name = file.trim_end_matches(".toml");
        assert!(registry.contains_key(name), "{file} is not named {name}");
    }
    for name in DEFAULT_PROFILES {
        assert!(registry.contains_key(*name), "default {name} is built in");
    }
}

#[test]
fn unknown_oid_syntax_is_reported_at_its_line_and_column() {
    let src = "name = \"crac\"\n\
               [oids]\n\
               supplyAir = \"1.3.6.1.4.1.476.1.42.3.4.1.2.3.1.3\"\n\
               [[metric]]\n\
               name = \"crac_supply_celsius\"\n\
               oid = \"LIEBERT-GP-ENVIRONMENTAL-MIB::lgpEnvTemperatureMeasurementDegC.1\"\n";
    let errors = parse(src).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].column), (6, 7));
    assert!(
        errors[0].message.starts_with(
            "unknown OID syntax \"LIEBERT-GP-ENVIRONMENTAL-MIB::lgpEnvTemperatureMeasurementDegC.1\""
        ),
        "{}",
        errors[0].message
    );
    assert!(errors[0].message.contains("MIB names are not resolved"));
}

#[test]
fn every_problem_of_a_file_is_reported_at_once_in_file_order() {
    let src = "name = \"Bad-Name\"\n\
               [oids]\n\
               x = \"1.3.6.x\"\n\
               [[table]]\n\
               rows = \"1.3.6.1.2.1.2.2.1.8\"\n\
               [[table.metric]]\n\
               name = \"if_rate\"\n\
               type = \"rate\"\n\
               column = \"nosuch\"\n\
               when = { column = \"1.3.6.1.2.1.2.2.1.7\", in = [1], above = 3 }\n";
    let errors = parse(src).unwrap_err();
    let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        at,
        [(1, 8), (3, 5), (7, 8), (9, 10), (10, 19)],
        "{errors:?}"
    );
    assert!(errors[0].message.contains("snake_case"));
    assert!(
        errors[1]
            .message
            .contains("names in [oids] must be numeric")
    );
    assert!(errors[2].message.contains("must end in _per_second"));
    assert!(errors[3].message.contains("unknown OID syntax \"nosuch\""));
    assert!(
        errors[4]
            .message
            .contains("exactly one of in, not_in and above")
    );
}

#[test]
fn unknown_keys_and_toml_syntax_errors_carry_their_position() {
    let errors = parse("name = \"x\"\n[[metric]]\nname = \"a\"\noid = \"1.3.6.1\"\nscael = 2\n")
        .unwrap_err();
    assert_eq!((errors[0].line, errors[0].column), (5, 1), "{errors:?}");
    assert!(errors[0].message.contains("unknown field `scael`"));
    let errors = parse("name = \"x\"\n[[metric]\n").unwrap_err();
    assert_eq!(errors[0].line, 2, "{errors:?}");
}

#[test]
fn profiles_load_from_directories_and_bad_files_name_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = "name = \"crac\"\n[[metric]]\nname = \"crac_supply_air_celsius\"\n\
                oid = \"1.3.6.1.4.1.476.1.42.3.4.1.2.3.1.3.1\"\nscale = 0.1\n";
    std::fs::write(dir.path().join("crac.toml"), good).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a profile").unwrap();
    let registry = load(&[dir.path()]).expect("loads");
    assert!(registry.contains_key("crac") && registry.contains_key("if_mib"));

    let bad = dir.path().join("zz-array.toml");
    std::fs::write(
        &bad,
        "name = \"array\"\n[[metric]]\nname = \"a\"\noid = \"ifFoo\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("again.toml"),
        "name = \"if_mib\"\n[[metric]]\nname = \"a\"\nvalue = 1\n",
    )
    .unwrap();
    let errors = load(&[dir.path()]).unwrap_err();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].ends_with("again.toml:1:1: profile name \"if_mib\" is already taken (built-in or an earlier file): choose another"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with(&format!(
            "{}:4:7: unknown OID syntax \"ifFoo\"",
            bad.display()
        )),
        "{errors:?}"
    );

    let missing = dir.path().join("nope");
    let errors = load(&[&missing]).unwrap_err();
    assert!(errors[0].starts_with("profile_dirs: "), "{errors:?}");
}

// ---- system, IF-MIB, HOST-RESOURCES, CISCO-ENVMON (as before the profiles were files) --

#[test]
fn admin_shut_interface_is_not_down_but_admin_up_oper_down_is() {
    let out = lines(
        "if_mib",
        "1.3.6.1.2.1.2.2.1.7.1|2|1\n1.3.6.1.2.1.2.2.1.7.2|2|2\n1.3.6.1.2.1.2.2.1.7.3|2|1\n\
         1.3.6.1.2.1.2.2.1.8.1|2|2\n1.3.6.1.2.1.2.2.1.8.2|2|2\n1.3.6.1.2.1.2.2.1.8.3|2|5\n\
         1.3.6.1.2.1.31.1.1.1.1.1|4|Gi1/0/1\n1.3.6.1.2.1.31.1.1.1.1.2|4|Gi1/0/2\n\
         1.3.6.1.2.1.31.1.1.1.1.3|4|Di0\n1.3.6.1.2.1.31.1.1.1.18.1|4|uplink core\n",
    );
    let down: Vec<&String> = out
        .iter()
        .filter(|l| l.starts_with("snmp_if_down"))
        .collect();
    assert_eq!(
        down,
        [
            "snmp_if_down{device=\"d\",ifalias=\"uplink core\",ifname=\"Gi1/0/1\"} 1",
            "snmp_if_down{device=\"d\",ifname=\"Gi1/0/2\"} 0",
            "snmp_if_down{device=\"d\",ifname=\"Di0\"} 0",
        ],
        "admin down is not an incident, dormant is not down"
    );
}

#[test]
fn duplicate_interface_names_stay_apart() {
    let out = lines(
        "if_mib",
        "1.3.6.1.2.1.2.2.1.8.1|2|1\n1.3.6.1.2.1.2.2.1.8.2|2|1\n\
         1.3.6.1.2.1.31.1.1.1.1.1|4|Nu0\n1.3.6.1.2.1.31.1.1.1.1.2|4|Nu0\n",
    );
    assert_eq!(
        out,
        [
            "snmp_if_oper_up{device=\"d\",ifname=\"Nu0\"} 1",
            "snmp_if_oper_up{device=\"d\",ifname=\"Nu0#2\"} 1",
        ]
    );
}

#[test]
fn interface_speed_falls_back_to_if_speed_without_if_high_speed() {
    // ifHighSpeed 100 Mbit/s wins over a saturated ifSpeed; a 0 ifHighSpeed on a 256 kbit/s
    // serial link (under 0.5 Mbit/s it rounds to 0) and a device without ifXTable (index 3)
    // give ifSpeed in bit/s.
    let out = lines(
        "if_mib",
        "1.3.6.1.2.1.2.2.1.5.1|66|4294967295\n1.3.6.1.2.1.2.2.1.5.2|66|256000\n\
         1.3.6.1.2.1.2.2.1.5.3|66|54000000\n1.3.6.1.2.1.2.2.1.5.4|66|0\n\
         1.3.6.1.2.1.2.2.1.8.1|2|1\n1.3.6.1.2.1.2.2.1.8.2|2|1\n1.3.6.1.2.1.2.2.1.8.3|2|1\n\
         1.3.6.1.2.1.2.2.1.8.4|2|2\n\
         1.3.6.1.2.1.31.1.1.1.15.1|66|100000\n1.3.6.1.2.1.31.1.1.1.15.2|66|0\n\
         1.3.6.1.2.1.31.1.1.1.15.4|66|0\n",
    );
    assert_eq!(
        by(&out, "snmp_if_speed_bits_per_second", "ifname"),
        map(&[
            ("1", "100000000000"),
            ("2", "256000"),
            ("3", "54000000"),
            ("4", "0")
        ])
    );
}

/// The Windows XP walk snmpsim ships has no ifXTable: its speeds come from ifSpeed.
#[test]
fn windows_recording_without_if_x_table_keeps_its_interface_speeds() {
    let path = "/usr/share/doc/snmpsim/examples/data/recorded/winxp-full-walk.snmprec.gz";
    let output = std::process::Command::new("zcat").arg(path).output();
    let text = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!("{path} missing: install the Debian package snmpsim (scripts/setup.sh)"),
    };
    assert!(
        !text.contains("\n1.3.6.1.2.1.31.1.1.1.15."),
        "no ifHighSpeed in it"
    );
    let out = lines("if_mib", &text);
    let speeds = by(&out, "snmp_if_speed_bits_per_second", "ifname");
    assert_eq!(speeds.len(), 3, "{out:?}");
    assert_eq!(
        speeds.get("Intel(R) PRO/Wireless 2200BG Network Connection"),
        Some(&"54000000".to_owned()),
        "{speeds:?}"
    );
    assert_eq!(
        speeds.get("MS TCP Loopback interface"),
        Some(&"10000000".to_owned())
    );
}

#[test]
fn interface_rates_use_the_64_bit_counter_and_fall_back_to_32() {
    let p = builtin_profile("if_mib");
    let mut counters = Counters::default();
    let round = |hc: u64, low: u32| {
        format!(
            "1.3.6.1.2.1.2.2.1.8.1|2|1\n1.3.6.1.2.1.2.2.1.8.2|2|1\n\
             1.3.6.1.2.1.2.2.1.10.2|65|{low}\n1.3.6.1.2.1.31.1.1.1.6.1|70|{hc}\n"
        )
    };
    counters.begin(0.0, Some(100));
    let first = run(
        &p,
        &poll_from(&round(1_000, 4_294_967_000), &[&p]),
        &mut counters,
    );
    counters.finish();
    assert!(
        first
            .iter()
            .all(|l| !l.contains("bits_per_second{") || l.starts_with("snmp_if_speed"))
    );
    counters.begin(10.0, Some(1100));
    let second = run(&p, &poll_from(&round(11_000, 704), &[&p]), &mut counters);
    counters.finish();
    assert_eq!(
        by(&second, "snmp_if_in_bits_per_second", "ifname"),
        // 10 000 octets in 10 s; the 32-bit counter wrapped: 1000 octets in 10 s.
        map(&[("1", "8000"), ("2", "800")])
    );
}

#[test]
fn envmon_states_map_to_ok_and_not_present_is_skipped() {
    let out = lines(
        "cisco_envmon",
        "1.3.6.1.4.1.9.9.13.1.3.1.2.1|4|Inlet\n1.3.6.1.4.1.9.9.13.1.3.1.3.1|66|31\n\
         1.3.6.1.4.1.9.9.13.1.3.1.6.1|2|1\n\
         1.3.6.1.4.1.9.9.13.1.4.1.2.1|4|Fan 1\n1.3.6.1.4.1.9.9.13.1.4.1.2.2|4|Fan 2\n\
         1.3.6.1.4.1.9.9.13.1.4.1.3.1|2|1\n1.3.6.1.4.1.9.9.13.1.4.1.3.2|2|3\n\
         1.3.6.1.4.1.9.9.13.1.5.1.2.1|4|PS2\n1.3.6.1.4.1.9.9.13.1.5.1.3.1|2|5\n",
    );
    assert_eq!(
        out,
        [
            "hw_fan_ok{device=\"d\",fan=\"Fan 1\"} 1",
            "hw_fan_ok{device=\"d\",fan=\"Fan 2\"} 0",
            "hw_temperature_celsius{device=\"d\",sensor=\"Inlet\"} 31",
        ]
    );
}

#[test]
fn storage_percent_uses_allocation_units_and_skips_empty_entries() {
    let out = lines(
        "host_resources",
        "1.3.6.1.2.1.25.2.3.1.3.31|4|/\n1.3.6.1.2.1.25.2.3.1.3.32|4|/empty\n\
         1.3.6.1.2.1.25.2.3.1.4.31|2|4096\n1.3.6.1.2.1.25.2.3.1.4.32|2|4096\n\
         1.3.6.1.2.1.25.2.3.1.5.31|2|1000\n1.3.6.1.2.1.25.2.3.1.5.32|2|0\n\
         1.3.6.1.2.1.25.2.3.1.6.31|2|250\n1.3.6.1.2.1.25.2.3.1.6.32|2|0\n",
    );
    assert_eq!(
        out,
        [
            "snmp_storage_size_bytes{device=\"d\",storage=\"/\"} 4096000",
            "snmp_storage_used_bytes{device=\"d\",storage=\"/\"} 1024000",
            "snmp_storage_used_percent{device=\"d\",storage=\"/\"} 25",
        ]
    );
}

// ---- the gear profiles on recordings written from their MIBs ---------------------------

#[test]
fn ups_on_mains_reads_every_figure_in_its_unit() {
    let out = lines("ups_mib", include_str!("../testdata/ups_mains.snmprec"));
    assert_eq!(
        out,
        [
            "ups_on_battery{device=\"d\"} 0",
            "ups_on_bypass{device=\"d\"} 0",
            "ups_battery_low{device=\"d\"} 0",
            "ups_battery_remaining_percent{device=\"d\"} 100",
            "ups_battery_runtime_seconds{device=\"d\"} 2520",
            "ups_on_battery_seconds{device=\"d\"} 0",
            "ups_battery_voltage_volts{device=\"d\"} 54.6",
            "ups_battery_temperature_celsius{device=\"d\"} 24",
            "ups_input_line_bads_total{device=\"d\"} 3",
            "ups_output_frequency_hertz{device=\"d\"} 50",
            "ups_alarms_present{device=\"d\"} 0",
            "ups_input_voltage_volts{device=\"d\",line=\"1\"} 231",
            "ups_input_frequency_hertz{device=\"d\",line=\"1\"} 50",
            "ups_output_voltage_volts{device=\"d\",line=\"1\"} 230",
            "ups_output_current_amperes{device=\"d\",line=\"1\"} 8.7",
            "ups_output_power_watts{device=\"d\",line=\"1\"} 1850",
            "ups_load_percent{device=\"d\",line=\"1\"} 31",
        ]
    );
}

#[test]
fn ups_on_battery_three_phase_with_alarms() {
    let out = lines(
        "ups_mib",
        include_str!("../testdata/ups_on_battery.snmprec"),
    );
    let get = |prefix: &str| {
        out.iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} missing from {out:?}"))
            .rsplit_once(' ')
            .unwrap()
            .1
            .to_owned()
    };
    assert_eq!(get("ups_on_battery{"), "1");
    assert_eq!(get("ups_battery_low{"), "1");
    assert_eq!(get("ups_battery_runtime_seconds{"), "540");
    assert_eq!(get("ups_on_battery_seconds{"), "312");
    assert_eq!(get("ups_alarms_present{"), "2");
    assert_eq!(
        by(&out, "ups_load_percent", "line"),
        map(&[("1", "68"), ("2", "66"), ("3", "71")])
    );
    assert_eq!(
        by(&out, "ups_input_voltage_volts", "line"),
        map(&[("1", "0"), ("2", "0"), ("3", "0")])
    );
    assert_eq!(
        by(&out, "ups_alarm", "alarm"),
        map(&[("inputBad", "1"), ("onBattery", "1")])
    );
}

#[test]
fn entity_sensors_apply_scale_and_precision_and_report_status() {
    let out = lines(
        "entity_sensor",
        include_str!("../testdata/entity_sensor.snmprec"),
    );
    assert_eq!(
        by(&out, "entity_sensor_value", "sensor"),
        map(&[
            ("Inlet Temp", "23.5"),
            ("CPU Temp", "61"),
            ("PSU1 12V", "12.03"),
            ("Fan", "5400"),
            ("PSU1 Power", "245"),
            ("Fan#17", "5200"),
        ])
    );
    assert_eq!(
        by(&out, "entity_sensor_value", "type"),
        map(&[
            ("celsius", "61"),
            ("voltsDC", "12.03"),
            ("rpm", "5200"),
            ("watts", "245")
        ]),
        "the type label names EntitySensorDataType"
    );
    assert_eq!(
        by(&out, "entity_sensor_ok", "sensor"),
        map(&[
            ("Inlet Temp", "1"),
            ("CPU Temp", "1"),
            ("PSU1 12V", "1"),
            ("PSU2 12V", "0"),
            ("Fan", "1"),
            ("PSU1 Power", "1"),
            ("Exhaust temperature sensor", "0"),
            ("Fan#17", "1"),
        ]),
        "an empty entPhysicalName falls back to entPhysicalDescr"
    );
    assert_eq!(
        by(&out, "hw_temperature_celsius", "sensor"),
        map(&[("Inlet Temp", "23.5"), ("CPU Temp", "61")]),
        "only celsius sensors whose status is ok"
    );
}

#[test]
fn sensor_scales_follow_rfc_3433_including_exa_before_peta() {
    let row = |scale: u32, precision: i32, value: i64| {
        format!(
            "1.3.6.1.2.1.99.1.1.1.1.1|2|6\n1.3.6.1.2.1.99.1.1.1.2.1|2|{scale}\n\
             1.3.6.1.2.1.99.1.1.1.3.1|2|{precision}\n1.3.6.1.2.1.99.1.1.1.4.1|2|{value}\n\
             1.3.6.1.2.1.99.1.1.1.5.1|2|1\n"
        )
    };
    let value = |scale, precision, v| {
        by(
            &lines("entity_sensor", &row(scale, precision, v)),
            "entity_sensor_value",
            "sensor",
        )
        .remove("1")
    };
    assert_eq!(value(9, 1, 355).as_deref(), Some("35.5"));
    assert_eq!(value(8, 0, 41_000).as_deref(), Some("41"));
    assert_eq!(value(10, 0, 4).as_deref(), Some("4000"));
    assert_eq!(value(14, 0, 1).as_deref(), Some("1000000000000000000"));
    assert_eq!(value(15, 0, 1).as_deref(), Some("1000000000000000"));
    assert_eq!(value(99, 0, 1), None, "an unknown scale gives no value");
}

#[test]
fn fc_mgmt_ports_up_down_and_speed() {
    let out = lines("fc_mgmt", include_str!("../testdata/fc_mgmt.snmprec"));
    assert_eq!(
        by(&out, "fc_port_up", "port"),
        map(&[
            ("esx01-hba0", "1"),
            ("array-ctl-a-p0", "0"),
            ("3", "0"),
            ("backup-tape", "0")
        ])
    );
    assert_eq!(
        by(&out, "fc_port_down", "port"),
        map(&[
            ("esx01-hba0", "0"),
            ("array-ctl-a-p0", "1"),
            ("3", "0"),
            ("backup-tape", "1")
        ]),
        "a failed or offline-sequence port meant to be online is down; an unused one is not"
    );
    assert_eq!(
        by(&out, "fc_port_speed_bits_per_second", "port")["esx01-hba0"],
        "12800000000"
    );
}

#[test]
fn fc_ports_in_if_mib_are_the_fibre_channel_interfaces_only() {
    let out = lines("fc_if_mib", include_str!("../testdata/fc_if_mib.snmprec"));
    assert_eq!(
        by(&out, "fc_port_up", "port"),
        map(&[
            ("fc1/1", "1"),
            ("fc1/2", "0"),
            ("fc1/3", "0"),
            ("fc1/4", "1")
        ]),
        "mgmt0 (ethernetCsmacd) is not an FC port"
    );
    assert_eq!(
        by(&out, "fc_port_down", "port"),
        map(&[
            ("fc1/1", "0"),
            ("fc1/2", "1"),
            ("fc1/3", "0"),
            ("fc1/4", "0")
        ]),
        "admin-down fc1/3 is not down"
    );
    assert_eq!(
        by(&out, "fc_port_speed_bits_per_second", "port"),
        map(&[
            ("fc1/1", "16000000000"),
            ("fc1/2", "0"),
            ("fc1/3", "32000000000"),
            ("fc1/4", "2000000000")
        ])
    );
}

// ---- hostile values ----------------------------------------------------------------------

#[test]
fn strings_and_huge_numbers_where_numbers_belong_give_no_sample_and_no_panic() {
    let out = lines(
        "entity_sensor",
        "1.3.6.1.2.1.99.1.1.1.1.1|4|celsius\n1.3.6.1.2.1.99.1.1.1.2.1|2|9\n\
         1.3.6.1.2.1.99.1.1.1.3.1|2|2147483647\n1.3.6.1.2.1.99.1.1.1.4.1|2|1\n\
         1.3.6.1.2.1.99.1.1.1.5.1|2|1\n",
    );
    assert!(
        by(&out, "entity_sensor_value", "sensor").is_empty(),
        "{out:?}"
    );
    let out = lines(
        "host_resources",
        "1.3.6.1.2.1.25.2.3.1.3.1|4|/\n1.3.6.1.2.1.25.2.3.1.4.1|4|x\n\
         1.3.6.1.2.1.25.2.3.1.5.1|2|10\n1.3.6.1.2.1.25.2.3.1.6.1|2|5\n",
    );
    assert!(out.is_empty(), "{out:?}");
}

// ---- documentation ---------------------------------------------------------------------

#[test]
fn every_metric_of_a_builtin_profile_is_catalogued_and_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/metrics.md"))
        .expect("docs/metrics.md");
    let registry = builtin().unwrap();
    for profile in registry.values() {
        let names = profile.scalars.iter().map(|s| &s.name).chain(
            profile
                .tables
                .iter()
                .flat_map(|t| t.metrics.iter().map(|m| &m.name)),
        );
        for name in names {
            assert!(
                crate::catalog::help(name).is_some(),
                "{name} ({}) has no help text in catalog.rs",
                profile.name
            );
            assert!(
                doc.contains(&format!("`{name}`")),
                "{name} ({}) is not in docs/metrics.md",
                profile.name
            );
        }
    }
}

// ---- hostile input, generated ------------------------------------------------------------

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

    /// Any text as a profile file: a profile or located errors, never a panic; every error
    /// position lies inside the file.
    #[test]
    fn arbitrary_profile_text_never_panics(text in "(?s)[ -~\n]{0,300}") {
        if let Err(errors) = parse(&text) {
            let lines = text.split('\n').count().max(1);
            for e in errors {
                proptest::prop_assert!(e.line >= 1 && e.line <= lines, "{e:?}");
                proptest::prop_assert!(e.column >= 1);
            }
        }
    }

    /// Any values under the columns the built-in profiles read (wrong types, huge numbers,
    /// odd indexes): samples with finite values, never a panic.
    #[test]
    fn arbitrary_rows_through_every_builtin_never_panic(
        rows in proptest::collection::vec(
            (0usize..64, proptest::collection::vec(0u32..5, 1..4), 0u8..8, proptest::prelude::any::<i64>()),
            0..40,
        )
    ) {
        let registry = builtin().unwrap();
        let columns: Vec<Vec<u32>> = registry
            .values()
            .flat_map(|p| p.columns().cloned().collect::<Vec<_>>())
            .collect();
        let mut recording = Vec::new();
        for (column, index, tag, value) in rows {
            let mut oid = columns[column % columns.len()].clone();
            oid.extend(index);
            let val = match tag {
                0 => Val::Int(value),
                1 => Val::Unsigned(value.unsigned_abs()),
                2 => Val::Counter32(value as u32),
                3 => Val::Counter64(value.unsigned_abs()),
                4 => Val::Ticks(value as u32),
                5 => Val::Bytes(value.to_le_bytes().to_vec()),
                6 => Val::Oid(vec![1, 3, value.unsigned_abs() as u32]),
                _ => Val::Absent,
            };
            recording.push((oid, val));
        }
        let mut counters = Counters::default();
        for p in registry.values() {
            let mut poll = Poll::default();
            for c in p.columns() {
                poll.add_rows(c, recording.iter().cloned());
            }
            for round in 0..2 {
                counters.begin(f64::from(round) * 60.0, Some(100 + round as u32));
                let mut samples = Vec::new();
                let mut out = Out { out: &mut samples, device: "d", now_ms: 0 };
                emit(p, &poll, &mut counters, &mut out);
                counters.finish();
                proptest::prop_assert!(samples.iter().all(|s| s.value.is_finite()));
            }
        }
    }
}
