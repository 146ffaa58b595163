//! The gear profiles against a real SNMP agent: snmpsim serving the recordings under
//! `probes/src/snmp/testdata/` (written from UPS-MIB, ENTITY-SENSOR-MIB, FCMGMT-MIB, IF-MIB,
//! FIBRE-CHANNEL-FE-MIB and LIEBERT-GP-ENVIRONMENTAL-MIB, since snmpsim ships none for such
//! gear), one community
//! per device, read over the network with GETBULK like any switch; values checked against
//! net-snmp's snmpget/snmpbulkwalk on the same peer. The Liebert profile is the operator file
//! shipped in `packaging/examples/snmp-profiles/`, loaded through `profile_dirs`.

#[path = "support/snmp_peers.rs"]
mod peers;

use std::collections::BTreeMap;
use std::path::Path;

use patrol_probes::{CollectContext, ProbeConfig};
use patrol_proto::Sample;
use peers::net_snmp;

fn testdata(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/snmp/testdata")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn value(samples: &[Sample], name: &str, device: &str, pairs: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| {
            s.name == name
                && s.labels.get("device") == Some(device)
                && pairs.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{name}{{device={device},{pairs:?}}}: {found:?}"
    );
    found[0].value
}

fn by_label(samples: &[Sample], name: &str, device: &str, label: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("device") == Some(device))
        .map(|s| (s.labels.get(label).unwrap_or("?").to_owned(), s.value))
        .collect()
}

fn one_number(community: &str, address: &str, oid: &str) -> f64 {
    net_snmp("snmpget", &["-v2c", "-c", community], address, oid)[oid].number()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ups_entity_fc_and_a_vendor_profile_file_read_from_snmpsim() {
    let devices = [
        ("ups_mains", "ups_mains.snmprec"),
        ("ups_battery", "ups_on_battery.snmprec"),
        ("array", "entity_sensor.snmprec"),
        ("fcsw", "fc_mgmt.snmprec"),
        ("mds", "fc_if_mib.snmprec"),
        ("crac", "liebert_env.snmprec"),
        ("fcfe", "fc_fe.snmprec"),
    ];
    let recordings: Vec<(&str, String)> = devices
        .iter()
        .map(|(community, file)| (*community, testdata(file)))
        .collect();
    let sim = peers::start_snmpsim_serving(&recordings);
    let address = sim.address();
    let profiles_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging/examples/snmp-profiles")
        .canonicalize()
        .expect("packaging/examples/snmp-profiles exists");
    let device = |name: &str, profiles: &str| {
        format!(
            "[[device]]\nname = \"{name}\"\naddress = \"{address}\"\ncommunity = \"{name}\"\nprofiles = [{profiles}]\n"
        )
    };
    let section = format!(
        "type = \"snmp\"\ninterval = \"30s\"\ntimeout = \"2s\"\nprofile_dirs = [{:?}]\n{}{}{}{}{}{}{}",
        profiles_dir.display().to_string(),
        device("ups_mains", "\"system\", \"ups_mib\""),
        device("ups_battery", "\"ups_mib\""),
        device("array", "\"entity_sensor\""),
        device("fcsw", "\"fc_mgmt\""),
        device("mds", "\"if_mib\", \"fc_if_mib\""),
        device("crac", "\"liebert_env\""),
        device("fcfe", "\"fc_fe\""),
    );
    let config: ProbeConfig = toml::from_str(&section).expect("probe config parses");
    let mut probe = config
        .build(&patrol_probes::BuildContext::new(std::env::temp_dir()))
        .expect("probe builds");
    let mut samples = Vec::new();
    probe
        .collect(CollectContext { now_ms: 1_000 }, &mut samples)
        .await
        .expect("collect succeeds");
    for (name, _) in devices {
        assert_eq!(
            value(&samples, "snmp_up", name, &[]),
            1.0,
            "{name}: {samples:?}"
        );
    }

    // UPS-MIB, each figure in its unit, against net-snmp on the same peer.
    let ups = "1.3.6.1.2.1.33.1";
    let minutes = one_number("ups_battery", &address, &format!("{ups}.2.3.0"));
    assert_eq!(
        value(&samples, "ups_battery_runtime_seconds", "ups_battery", &[]),
        minutes * 60.0
    );
    assert_eq!(value(&samples, "ups_on_battery", "ups_battery", &[]), 1.0);
    assert_eq!(value(&samples, "ups_on_battery", "ups_mains", &[]), 0.0);
    assert_eq!(
        value(
            &samples,
            "ups_battery_remaining_percent",
            "ups_battery",
            &[]
        ),
        one_number("ups_battery", &address, &format!("{ups}.2.4.0"))
    );
    assert_eq!(
        value(&samples, "ups_alarms_present", "ups_battery", &[]),
        2.0
    );
    let loads = net_snmp(
        "snmpbulkwalk",
        &["-v2c", "-c", "ups_battery"],
        &address,
        &format!("{ups}.4.4.1.5"),
    );
    let want: BTreeMap<String, f64> = loads
        .iter()
        .map(|(oid, v)| {
            (
                peers::index_of(oid, &format!("{ups}.4.4.1.5")).to_owned(),
                v.number(),
            )
        })
        .collect();
    assert_eq!(
        by_label(&samples, "ups_load_percent", "ups_battery", "line"),
        want
    );
    assert_eq!(
        value(
            &samples,
            "ups_output_current_amperes",
            "ups_mains",
            &[("line", "1")]
        ),
        8.7
    );
    assert_eq!(
        by_label(&samples, "ups_alarm", "ups_battery", "alarm")
            .into_keys()
            .collect::<Vec<_>>(),
        ["inputBad", "onBattery"]
    );

    // ENTITY-SENSOR: scale and precision applied, status as ok.
    assert_eq!(
        value(
            &samples,
            "entity_sensor_value",
            "array",
            &[("sensor", "PSU1 12V")]
        ),
        12.03
    );
    assert_eq!(
        value(
            &samples,
            "entity_sensor_ok",
            "array",
            &[("sensor", "PSU2 12V")]
        ),
        0.0
    );
    assert_eq!(
        by_label(&samples, "hw_temperature_celsius", "array", "sensor"),
        BTreeMap::from([
            ("CPU Temp".to_owned(), 61.0),
            ("Inlet Temp".to_owned(), 23.5)
        ])
    );

    // FC ports from FCMGMT-MIB (16-arc connUnitId index) and from IF-MIB ifType 56.
    assert_eq!(
        by_label(&samples, "fc_port_down", "fcsw", "port"),
        BTreeMap::from([
            ("3".to_owned(), 0.0),
            ("array-ctl-a-p0".to_owned(), 1.0),
            ("backup-tape".to_owned(), 1.0),
            ("esx01-hba0".to_owned(), 0.0),
        ])
    );
    assert_eq!(
        value(
            &samples,
            "fc_port_speed_bits_per_second",
            "mds",
            &[("port", "fc1/1")]
        ),
        16e9
    );
    assert_eq!(
        value(&samples, "fc_port_down", "mds", &[("port", "fc1/2")]),
        1.0
    );
    // The same ports in if_mib: a 0 ifHighSpeed with a non-zero ifSpeed gives ifSpeed.
    assert_eq!(
        value(
            &samples,
            "snmp_if_speed_bits_per_second",
            "mds",
            &[("ifname", "fc1/4")]
        ),
        2e9
    );

    // FIBRE-CHANNEL-FE-MIB: ports named <module>.<port>, each state against net-snmp.
    let phys = "1.3.6.1.2.1.75.1.2.2.1";
    let v2c = ["-v2c", "-c", "fcfe"];
    let admin = net_snmp("snmpbulkwalk", &v2c, &address, &format!("{phys}.1"));
    let oper = net_snmp("snmpbulkwalk", &v2c, &address, &format!("{phys}.2"));
    let mode = net_snmp("snmpbulkwalk", &v2c, &address, "1.3.6.1.2.1.75.1.2.1.1.3");
    assert_eq!(oper.len(), 4, "{oper:?}");
    let mut want_up = BTreeMap::new();
    let mut want_down = BTreeMap::new();
    let mut want_admin = BTreeMap::new();
    let mut want_mode = BTreeMap::new();
    for (oid, v) in &oper {
        let port = peers::index_of(oid, &format!("{phys}.2")).to_owned();
        let admin_online = admin[&format!("{phys}.1.{port}")].number() == 1.0;
        let state = v.number();
        want_up.insert(port.clone(), if state == 1.0 { 1.0 } else { 0.0 });
        // Down: admin online and oper offline(2) or linkFailure(4).
        let down = admin_online && (state == 2.0 || state == 4.0);
        want_down.insert(port.clone(), if down { 1.0 } else { 0.0 });
        want_admin.insert(port.clone(), if admin_online { 1.0 } else { 0.0 });
        want_mode.insert(
            port.clone(),
            mode[&format!("1.3.6.1.2.1.75.1.2.1.1.3.{port}")].number(),
        );
    }
    assert_eq!(by_label(&samples, "fc_port_up", "fcfe", "port"), want_up);
    assert_eq!(
        by_label(&samples, "fc_port_down", "fcfe", "port"),
        want_down
    );
    assert_eq!(
        by_label(&samples, "fc_port_admin_up", "fcfe", "port"),
        want_admin
    );
    assert_eq!(
        by_label(&samples, "fc_port_oper_mode", "fcfe", "port"),
        want_mode
    );
    // The recording's cases, spelled out: 1.2 in link failure is down, 1.3 offline by the
    // operator's choice is not, 1.4 is up as an FL_Port.
    assert_eq!(
        by_label(&samples, "fc_port_down", "fcfe", "port"),
        BTreeMap::from([
            ("1.1".to_owned(), 0.0),
            ("1.2".to_owned(), 1.0),
            ("1.3".to_owned(), 0.0),
            ("1.4".to_owned(), 0.0),
        ])
    );
    assert_eq!(
        value(&samples, "fc_port_oper_mode", "fcfe", &[("port", "1.4")]),
        3.0
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.name == "fc_port_speed_bits_per_second"
                && s.labels.get("device") == Some("fcfe")),
        "FIBRE-CHANNEL-FE-MIB has no speed"
    );

    // The operator's profile file: a precision air conditioner.
    let tenths = one_number("crac", &address, "1.3.6.1.4.1.476.1.42.3.4.1.3.3.1.50.1");
    assert_eq!(
        value(
            &samples,
            "crac_temperature_celsius",
            "crac",
            &[("point", "return_air")]
        ),
        tenths / 10.0
    );
    assert_eq!(
        by_label(&samples, "crac_temperature_celsius", "crac", "point"),
        BTreeMap::from([
            ("1.3.6.1.4.1.476.1.42.3.4.1.1.19.1".to_owned(), 24.0),
            ("return_air".to_owned(), 26.8),
            ("supply_air".to_owned(), 17.6),
        ])
    );
    assert_eq!(
        value(
            &samples,
            "crac_humidity_percent",
            "crac",
            &[("point", "return_air")]
        ),
        45.2
    );
}

#[test]
fn a_broken_profile_file_stops_the_probe_at_its_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("array.toml");
    std::fs::write(
        &file,
        "name = \"array\"\n[oids]\ndiskState = \"1.3.6.1.4.1.789.1.6.4.1.1.3\"\n\
         [[table]]\nrows = \"diskState\"\n[[table.metric]]\nname = \"array_disk_ok\"\n\
         column = \"NETAPP-MIB::diskStatus\"\n",
    )
    .expect("write");
    let section = format!(
        "type = \"snmp\"\nprofile_dirs = [{:?}]\n[[device]]\nname = \"n1\"\naddress = \"192.0.2.1\"\ncommunity = \"c\"\nprofiles = [\"array\"]\n",
        dir.path().display().to_string()
    );
    let config: ProbeConfig = toml::from_str(&section).expect("parses");
    let error = config
        .build(&patrol_probes::BuildContext::new(dir.path()))
        .err()
        .expect("a broken profile is refused")
        .to_string();
    assert!(
        error.contains(&format!(
            "{}:8:10: unknown OID syntax \"NETAPP-MIB::diskStatus\"",
            file.display()
        )),
        "{error}"
    );
}

/// The inventory's device facts read over the network from snmpsim: the real Catalyst 3750
/// walk (sysDescr, sysObjectID, sysName, its chassis row) and the FC switch recording (no
/// ENTITY-MIB: sys facts only), each value against net-snmp's snmpget on the same peer; a
/// device that does not answer gives no facts (None), not an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_facts_are_read_like_net_snmp_reads_them() {
    let cisco = std::process::Command::new("zcat")
        .arg(peers::CISCO_RECORDING)
        .output()
        .expect("zcat runs");
    assert!(
        cisco.status.success(),
        "{} missing: install the Debian package snmpsim",
        peers::CISCO_RECORDING
    );
    let recordings = [
        ("c3750", String::from_utf8_lossy(&cisco.stdout).into_owned()),
        ("fcfe", testdata("fc_fe.snmprec")),
    ];
    let sim = peers::start_snmpsim_serving(&recordings);
    let address = sim.address();
    let silent = format!("127.0.0.1:{}", peers::free_udp_port());
    let section = format!(
        "interval = \"30s\"\ntimeout = \"500ms\"\nretries = 0\n\
         [[device]]\nname = \"c3750\"\naddress = \"{address}\"\ncommunity = \"c3750\"\n\
         [[device]]\nname = \"fcfe\"\naddress = \"{address}\"\ncommunity = \"fcfe\"\n\
         [[device]]\nname = \"gone\"\naddress = \"{silent}\"\ncommunity = \"x\"\n"
    );
    let config: patrol_probes::snmp::SnmpConfig = toml::from_str(&section).expect("parses");
    let got: BTreeMap<String, Option<BTreeMap<String, String>>> =
        patrol_probes::snmp::inventory::device_facts(&config)
            .await
            .expect("valid section")
            .into_iter()
            .collect();
    assert_eq!(got["gone"], None);
    let c3750 = got["c3750"].as_ref().expect("the switch answers");
    let get = |community: &str, oid: &str| {
        String::from_utf8_lossy(
            &net_snmp("snmpget", &["-v2c", "-c", community], &address, oid)[oid].bytes(),
        )
        .into_owned()
    };
    let chassis = "1.3.6.1.2.1.47.1.1.1.1";
    assert_eq!(c3750["sys.name"], get("c3750", "1.3.6.1.2.1.1.5.0"));
    assert_eq!(
        c3750["chassis[3001].model"],
        get("c3750", &format!("{chassis}.13.3001"))
    );
    assert_eq!(
        c3750["chassis[3001].serial"],
        get("c3750", &format!("{chassis}.11.3001"))
    );
    assert_eq!(
        c3750["chassis[3001].firmware"],
        get("c3750", &format!("{chassis}.9.3001"))
    );
    assert_eq!(c3750["chassis[3001].model"], "WS-C3750-48PS-S");
    assert_eq!(c3750["sys.object_id"], "1.3.6.1.4.1.9.1.516");
    assert!(
        c3750["sys.descr"].starts_with("Cisco IOS Software, C3750 Software"),
        "{c3750:?}"
    );
    let fcfe = got["fcfe"].as_ref().expect("the FC switch answers");
    assert_eq!(
        fcfe.keys().map(String::as_str).collect::<Vec<_>>(),
        ["sys.descr", "sys.name", "sys.object_id"]
    );
    assert_eq!(fcfe["sys.name"], "fabric-a-sw1");
}
