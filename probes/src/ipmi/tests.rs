//! The IPMI probe on recorded ipmitool output (`testdata/`, written in ipmitool's layout:
//! see its README), the probe end to end with a stand-in ipmitool script, and hostile output.
//! The real ipmitool (no BMC here) is exercised in `probes/tests/ipmi.rs`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::parse::{Severity, Status, parse_sdr, parse_sel, state_severity};
use super::*;
use crate::sample_out::{assert_cataloged, build_sample, parse_section, round, sample_probes};

const DELL: &str = include_str!("testdata/dell_sdr_elist_all.txt");
const SUPERMICRO: &str = include_str!("testdata/supermicro_sdr_elist_all.txt");
const HPE: &str = include_str!("testdata/hpe_sdr_elist_all.txt");
const SEL: &str = include_str!("testdata/sel_list.txt");

fn config(text: &str) -> IpmiConfig {
    match parse_section(&format!("type = \"ipmi\"\n{text}")).unwrap() {
        crate::ProbeConfig::Ipmi(c) => c,
        other => panic!("not ipmi: {other:?}"),
    }
}

#[test]
fn dell_sensors_parse_with_values_units_and_states() {
    let sdr = parse_sdr(DELL);
    assert_eq!((sdr.malformed, sdr.locators), (0, 1));
    assert_eq!(sdr.sensors.len(), 21);
    let fan3 = &sdr.sensors[2];
    assert_eq!(fan3.name, "Fan3A");
    assert_eq!(fan3.status, Status::Read(Severity::Critical));
    assert_eq!(fan3.value, Some((0.0, "rpm".to_owned())));
    assert_eq!(fan3.kind(), "fan");
    let inlet = &sdr.sensors[4];
    assert_eq!(inlet.value, Some((23.0, "celsius".to_owned())));
    assert_eq!(inlet.kind(), "temperature");
    assert_eq!(sdr.sensors[8].value, Some((0.6, "amperes".to_owned())));
    let psu2 = &sdr.sensors[16];
    assert_eq!(
        (psu2.name.as_str(), psu2.entity.as_str()),
        ("Status", "10.2")
    );
    assert_eq!(psu2.value, None);
    assert_eq!(psu2.states, "Presence detected, Power Supply AC lost");
    assert_eq!(psu2.kind(), "power_supply");
    assert_eq!(psu2.severity(), Some(Severity::Critical));
    let sel = &sdr.sensors[18];
    assert_eq!((sel.status, sel.severity()), (Status::NoReading, None));
}

#[test]
fn vendor_layouts_parse_without_errors() {
    let sm = parse_sdr(SUPERMICRO);
    assert_eq!((sm.sensors.len(), sm.malformed), (17, 0));
    let dimm = sm
        .sensors
        .iter()
        .find(|s| s.name == "P1-DIMMA1 Temp")
        .unwrap();
    assert_eq!(dimm.entity, "32.64", "instances above 9 print more digits");
    let fan3 = sm.sensors.iter().find(|s| s.name == "FAN3").unwrap();
    assert_eq!(fan3.severity(), Some(Severity::Critical), "old-style `cr`");
    let ps2 = sm.sensors.iter().find(|s| s.name == "PS2 Status").unwrap();
    assert_eq!(ps2.severity(), Some(Severity::Critical));

    let hpe = parse_sdr(HPE);
    assert_eq!((hpe.sensors.len(), hpe.malformed), (13, 0));
    let fan = hpe.sensors.iter().find(|s| s.name == "Fan 1").unwrap();
    assert_eq!(fan.value, Some((19.6, "percent".to_owned())));
    assert_eq!(
        fan.kind(),
        "fan",
        "a percent fan is a fan by its entity (29)"
    );
    let ps2 = hpe
        .sensors
        .iter()
        .find(|s| s.name == "Power Supply 2")
        .unwrap();
    assert_eq!(ps2.value, Some((0.0, "watts".to_owned())));
    assert_eq!(ps2.states, "Presence detected, Predictive failure");
    assert_eq!(ps2.severity(), Some(Severity::NonCritical));
    let disabled = hpe
        .sensors
        .iter()
        .find(|s| s.name == "04-P1 DIMM 1-6")
        .unwrap();
    assert_eq!(disabled.severity(), None);
}

#[test]
fn discrete_state_texts_map_to_severities() {
    for (text, want) in [
        ("Presence detected", Severity::Ok),
        ("Fully Redundant", Severity::Ok),
        ("Transition to OK", Severity::Ok),
        ("Correctable ECC", Severity::Ok),
        ("Presence detected, Failure detected", Severity::Critical),
        ("Power Supply AC lost", Severity::Critical),
        ("Redundancy Lost", Severity::Critical),
        (
            "Transition to Critical from less severe",
            Severity::Critical,
        ),
        ("Drive Fault", Severity::Critical),
        ("Transition to Non-Critical from OK", Severity::NonCritical),
        ("Redundancy Degraded", Severity::NonCritical),
        ("Predictive failure", Severity::NonCritical),
        ("Transition to Non-recoverable", Severity::NonRecoverable),
    ] {
        assert_eq!(state_severity(text), want, "{text}");
    }
}

#[test]
fn sel_records_are_counted_and_an_empty_log_is_zero() {
    let sel = parse_sel(SEL);
    assert_eq!((sel.entries.len(), sel.malformed), (10, 0));
    assert_eq!(sel.entries[1].event, "Power Supply AC lost");
    assert_eq!(sel.entries[1].direction, "Asserted");
    assert_eq!(sel.entries[9].id, "a");
    let empty = parse_sel(include_str!("testdata/sel_empty.txt"));
    assert_eq!((empty.entries.len(), empty.malformed), (0, 0));
}

#[test]
fn garbage_lines_are_counted_not_taken() {
    let sdr = parse_sdr(
        "Fan1 | 30h | ok | 7.1 | 100 RPM\nnot a sensor line\nA | zz | ok | 7.1 | 1 Volts\n\
         B | 30h | weird | 7.1 | 1 Volts\nC | 30h | ok | x | 1 Volts\n\u{0}\u{ff}|||||\n",
    );
    assert_eq!((sdr.sensors.len(), sdr.malformed), (1, 5));
    let sel = parse_sel("   1 | a | b | c | d | e\nfoo\nzzzz | a | b | c | d\n");
    assert_eq!((sel.entries.len(), sel.malformed), (1, 2));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]
    /// Any text: sensors or errors, never a panic; values are finite.
    #[test]
    fn arbitrary_text_never_panics(text in "(?s).{0,400}") {
        let sdr = parse_sdr(&text);
        for s in &sdr.sensors {
            proptest::prop_assert!(s.value.as_ref().is_none_or(|(v, _)| v.is_finite()));
            let _ = (s.kind(), s.severity());
        }
        let _ = parse_sel(&text);
    }

    /// Lines shaped like `sdr elist` reach the field checks.
    #[test]
    fn sdr_shaped_lines_never_panic(
        name in "[ -~]{0,20}", num in "[0-9A-Fa-fh]{0,4}", status in "(ok|ns|lcr|unc|nr|x)",
        entity in "[0-9.]{0,6}", reading in "[ -~]{0,30}",
    ) {
        let line = format!("{name} | {num} | {status} | {entity} | {reading}\n");
        let sdr = parse_sdr(&line);
        proptest::prop_assert_eq!(sdr.sensors.len() + sdr.malformed + sdr.locators, 1);
    }
}

#[test]
fn sample_toml_parses_and_builds() {
    for config in sample_probes(include_str!("sample.toml")) {
        build_sample(&config);
    }
}

#[test]
fn config_errors_name_their_fields() {
    let err = |text: &str| match IpmiProbe::new(&config(text)) {
        Err(ProbeError::Config(m)) => m,
        other => panic!("expected a config error, got {other:?}"),
    };
    let m = err("interval = \"30s\"\ntimeout = \"20s\"\nuser = \"x\"\n");
    assert!(m.contains("timeout: 20000ms × 2 (sdr and sel)"), "{m}");
    assert!(m.contains("user: only for a remote BMC"), "{m}");
    let m = err("host = \"192.0.2.9\"\n");
    assert!(m.contains("user: the BMC user is needed"), "{m}");
    assert!(m.contains("password: a remote BMC needs"), "{m}");
    let m = err("host = \"192.0.2.9\"\nuser = \"u\"\npassword = \"p\"\npassword_env = \"V\"\n");
    assert!(m.contains("password and password_env: set only one"), "{m}");
    let m = err("host = \"b\"\nuser = \"u\"\npassword = \"p\"\ninterface = \"open\"\n");
    assert!(m.contains("interface: \"open\""), "{m}");
    let e = parse_section("type = \"ipmi\"\nprivilege = \"root\"\n").unwrap_err();
    assert!(e.to_string().contains("root"), "{e}");
}

/// A stand-in for ipmitool: prints a recording per subcommand and writes its arguments and
/// IPMI_PASSWORD where the test can read them.
fn fake_ipmitool(dir: &Path, sdr: &str, sel: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("sdr.txt"), sdr).unwrap();
    std::fs::write(dir.join("sel.txt"), sel).unwrap();
    let script = dir.join("ipmitool");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> {d}/args\necho \"$IPMI_PASSWORD\" >> {d}/env\n\
             case \"$*\" in\n*sdr*) cat {d}/sdr.txt ;;\n*sel*) cat {d}/sel.txt ;;\nesac\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn values(out: &[Sample], name: &str, label: &str) -> BTreeMap<String, f64> {
    out.iter()
        .filter(|s| s.name == name)
        .map(|s| (s.labels.get(label).unwrap_or("?").to_owned(), s.value))
        .collect()
}

#[tokio::test]
async fn a_remote_bmc_is_read_with_the_password_in_the_environment_only() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_ipmitool(dir.path(), DELL, SEL);
    let password = dir.path().join("bmc.pass");
    std::fs::write(&password, "s3cret-bmc\n").unwrap();
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).unwrap();
    let section = format!(
        "[[probe]]\ntype = \"ipmi\"\nipmitool = {:?}\nhost = \"192.0.2.9\"\nname = \"r740-01\"\n\
         user = \"monitor\"\npassword_file = {:?}\n",
        script.display().to_string(),
        password.display().to_string()
    );
    let config = sample_probes(&section).remove(0);
    let mut probe = config.build(&crate::BuildContext::new(dir.path())).unwrap();
    let out = round(&mut probe).await;
    assert_cataloged(&out);

    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(
        args,
        "-I lanplus -H 192.0.2.9 -U monitor -L USER -E sdr elist all\n\
         -I lanplus -H 192.0.2.9 -U monitor -L USER -E sel list\n"
    );
    assert!(!args.contains("s3cret"), "the password is not an argument");
    let env = std::fs::read_to_string(dir.path().join("env")).unwrap();
    assert_eq!(env, "s3cret-bmc\ns3cret-bmc\n");

    assert_eq!(
        values(&out, "ipmi_up", "bmc"),
        BTreeMap::from([("r740-01".into(), 1.0)])
    );
    let temps: BTreeMap<String, f64> = out
        .iter()
        .filter(|s| s.name == "ipmi_sensor_value" && s.labels.get("type") == Some("temperature"))
        .map(|s| {
            let key = format!(
                "{}@{}",
                s.labels.get("sensor").unwrap(),
                s.labels.get("entity").unwrap()
            );
            (key, s.value)
        })
        .collect();
    assert_eq!(
        temps,
        BTreeMap::from([
            ("Exhaust Temp@7.1".into(), 34.0),
            ("Inlet Temp@7.1".into(), 23.0),
            ("Temp@3.1".into(), 45.0),
            ("Temp@3.2".into(), 88.0),
        ])
    );
    let severity = values(&out, "ipmi_sensor_severity", "sensor");
    assert_eq!(severity["Fan3A"], 2.0);
    assert_eq!(severity["PS Redundancy"], 2.0);
    assert_eq!(severity["Fan1A"], 0.0);
    assert!(!severity.contains_key("SEL"), "no reading: no state");
    assert!(
        !severity.contains_key("iDRAC"),
        "an MC locator is not a sensor"
    );
    let ok: Vec<(String, String, f64)> = out
        .iter()
        .filter(|s| s.name == "ipmi_sensor_ok" && s.labels.get("type") == Some("power_supply"))
        .map(|s| {
            (
                s.labels.get("sensor").unwrap().to_owned(),
                s.labels.get("entity").unwrap().to_owned(),
                s.value,
            )
        })
        .collect();
    assert_eq!(
        ok,
        [
            ("Status".into(), "10.1".into(), 1.0),
            ("Status".into(), "10.2".into(), 0.0)
        ]
    );
    assert_eq!(values(&out, "ipmi_sel_entries", "bmc")["r740-01"], 10.0);
    assert_eq!(values(&out, "ipmi_sel_new_entries", "bmc")["r740-01"], 0.0);
    assert_eq!(values(&out, "ipmi_parse_errors", "command")["sdr"], 0.0);

    // Two more records: counted as new at the next round.
    std::fs::write(
        dir.path().join("sel.txt"),
        format!("{SEL}   b | 05/01/2024 | 01:00:00 | Fan #0x32 | Lower Critical going low | Deasserted\n   c | 05/01/2024 | 01:00:01 | Power Supply #0x63 | Failure detected | Asserted\n"),
    )
    .unwrap();
    let out = round(&mut probe).await;
    assert_eq!(values(&out, "ipmi_sel_new_entries", "bmc")["r740-01"], 2.0);
    assert_eq!(values(&out, "ipmi_sel_entries", "bmc")["r740-01"], 12.0);
}

#[tokio::test]
async fn a_local_bmc_runs_ipmitool_without_session_options() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_ipmitool(dir.path(), SUPERMICRO, "SEL has no entries\n");
    let section = format!(
        "[[probe]]\ntype = \"ipmi\"\nipmitool = {:?}\nsdr_records = \"full\"\n",
        script.display().to_string()
    );
    let mut probe = sample_probes(&section)
        .remove(0)
        .build(&crate::BuildContext::new(dir.path()))
        .unwrap();
    let out = round(&mut probe).await;
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert_eq!(args, "sdr elist full\nsel list\n");
    assert_eq!(
        values(&out, "ipmi_up", "bmc"),
        BTreeMap::from([("local".into(), 1.0)])
    );
    assert_eq!(values(&out, "ipmi_sel_entries", "bmc")["local"], 0.0);
    let fans = values(&out, "ipmi_sensor_value", "sensor");
    assert_eq!(fans["FAN1"], 3500.0);
    assert!(!fans.contains_key("FAN2"), "no reading, no value");
}

#[tokio::test]
async fn output_that_is_not_a_sensor_list_is_ipmi_up_0() {
    let dir = tempfile::tempdir().unwrap();
    let script = fake_ipmitool(dir.path(), "<html>login</html>\n", "");
    let section = format!(
        "[[probe]]\ntype = \"ipmi\"\nipmitool = {:?}\n",
        script.display().to_string()
    );
    let mut probe = sample_probes(&section)
        .remove(0)
        .build(&crate::BuildContext::new(dir.path()))
        .unwrap();
    let out = round(&mut probe).await;
    assert_eq!(values(&out, "ipmi_up", "bmc")["local"], 0.0);
    assert!(out.iter().all(|s| !s.name.starts_with("ipmi_sensor")));
}
