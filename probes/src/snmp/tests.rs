//! Config parsing and whole-recording checks of the SNMP probe (no network; the tests
//! against real snmpsim and snmpd are in `probes/tests/snmp.rs`).

use super::*;

use crate::sample_out::parse_section as parse;

fn snmp(text: &str) -> SnmpConfig {
    match parse(text).expect("parses") {
        crate::ProbeConfig::Snmp(c) => c,
        other => panic!("not snmp: {other:?}"),
    }
}

const MINIMAL: &str = "type = \"snmp\"\n[[device]]\nname = \"sw1\"\naddress = \"192.0.2.1\"\ncommunity = \"public\"\n";

#[test]
fn minimal_section_gets_defaults() {
    let c = snmp(MINIMAL);
    assert_eq!(c.interval, Duration::from_secs(60));
    assert_eq!(c.profiles, profile::DEFAULT_PROFILES);
    let s = c.validate().expect("valid");
    assert_eq!(s.devices[0].timeout, Duration::from_secs(2));
    assert_eq!(s.devices[0].retries, 1);
}

#[test]
fn sample_toml_is_valid() {
    // The sample is the operator's starting point: it must parse and validate as shipped.
    for config in crate::sample_out::sample_probes(include_str!("sample.toml")) {
        crate::sample_out::build_sample(&config);
    }
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    let err = parse(&format!("{MINIMAL}comunity = \"x\"\n")).expect_err("typo");
    assert!(err.to_string().contains("comunity"), "{err}");
    let err =
        parse("type = \"snmp\"\n[[device]]\nname = \"a\"\naddress = \"b\"\nauth_proto = \"sha\"\n")
            .expect_err("typo");
    assert!(err.to_string().contains("auth_proto"), "{err}");
}

#[test]
fn validation_reports_every_problem_with_its_field() {
    let c = snmp(
        "type = \"snmp\"\ninterval = \"5s\"\ntimeout = \"3s\"\n\
         [[device]]\nname = \"a\"\naddress = \"192.0.2.1\"\n\
         [[device]]\nname = \"a\"\naddress = \"192.0.2.2\"\nversion = \"3\"\nuser = \"u\"\n\
         auth_protocol = \"sha\"\nauth_password = \"short\"\npriv_protocol = \"aes\"\n\
         [[custom]]\nname = \"Bad-Name\"\noid = \"ifInOctets\"\ntype = \"counter\"\n",
    );
    let message = match c.validate() {
        Err(ProbeError::Config(m)) => m,
        other => panic!("expected config error, got {other:?}"),
    };
    for needle in [
        "device[0].community",
        "device[0].timeout",
        "device[1].name",
        "device[1].auth_password: must be at least 8",
        "device[1].priv_password: missing",
        "custom[0].name",
        "custom[0].oid",
    ] {
        assert!(message.contains(needle), "{needle} missing from {message}");
    }
}

#[test]
fn v3_credentials_are_assembled() {
    let c = snmp(
        "type = \"snmp\"\n[[device]]\nname = \"r\"\naddress = \"[::1]:1161\"\nversion = \"3\"\n\
         user = \"patrol\"\nauth_protocol = \"sha256\"\nauth_password = \"authpass123\"\n\
         priv_protocol = \"aes256\"\npriv_password = \"privpass123\"\n",
    );
    let s = c.validate().expect("valid");
    assert!(matches!(
        &s.devices[0].credentials,
        config::Credentials::V3 { user, auth: Some((AuthProto::Sha256, _)), privacy: Some((PrivProto::Aes256, _)), .. } if user == "patrol"
    ));
    assert_eq!(
        config::split_address("[::1]:1161"),
        ("::1".to_owned(), 1161)
    );
    assert_eq!(
        config::split_address("sw1.example"),
        ("sw1.example".to_owned(), 161)
    );
    assert_eq!(
        config::split_address("10.0.0.1:16100"),
        ("10.0.0.1".to_owned(), 16100)
    );
}

/// The Cisco Catalyst 3750 walk that snmpsim ships, turned into samples without a network.
#[test]
fn cisco_recording_rows_become_the_expected_samples() {
    let path = "/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz";
    let output = std::process::Command::new("zcat").arg(path).output();
    let text = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => panic!("{path} missing: install the Debian package snmpsim (scripts/setup.sh)"),
    };
    let rows = parse_snmprec(&text);
    let builtin = profile::builtin().expect("built-in profiles parse");
    let device = config::DeviceSettings {
        name: "sw".into(),
        address: "x".into(),
        credentials: config::Credentials::V2c {
            community: crate::secret::Secret::Inline("c".into()),
        },
        timeout: Duration::from_secs(1),
        retries: 0,
        // The three profiles whose samples this test checks in full.
        profiles: ["system", "cisco_envmon", "cisco_process"]
            .iter()
            .map(|name| std::sync::Arc::clone(&builtin[*name]))
            .collect(),
    };
    let (scalars, columns) = plan(&device, &[]);
    let mut poll = Poll::default();
    for s in &scalars {
        if let Some((_, v)) = rows.iter().find(|(o, _)| o == s) {
            poll.scalars.insert(s.clone(), v.clone());
        }
    }
    for c in &columns {
        poll.add_rows(c, rows.iter().cloned());
    }
    let mut samples = Vec::new();
    let mut out = Out {
        out: &mut samples,
        device: "sw",
        now_ms: 0,
    };
    let mut counters = Counters::default();
    for p in &device.profiles {
        profile::emit(p, &poll, &mut counters, &mut out);
    }
    let text: Vec<String> = samples
        .iter()
        .map(|s| format!("{}{} {}", s.name, s.labels, s.value))
        .collect();
    assert!(
        text[0]
            .starts_with("snmp_info{device=\"sw\",sys_descr=\"Cisco IOS Software, C3750 Software"),
        "{text:?}"
    );
    assert!(text[0].contains("sys_name=\"Profiler3750\""));
    assert_eq!(text[1], "snmp_uptime_seconds{device=\"sw\"} 6972022.57");
    assert_eq!(
        text[2],
        "hw_fan_ok{device=\"sw\",fan=\"Switch#3, Fan#1\"} 1"
    );
    assert_eq!(
        text[3],
        "hw_psu_ok{device=\"sw\",psu=\"Sw3, PS1 Normal, RPS NotExist\"} 1"
    );
    assert_eq!(text[4], "snmp_cpu_5min_percent{cpu=\"1\",device=\"sw\"} 25");
    assert_eq!(text.len(), 5);
}

#[test]
fn secrets_come_from_private_files_or_the_environment() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("community");
    std::fs::write(&file, "s3cret-community\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let device = "type = \"snmp\"\n[[device]]\nname = \"sw1\"\naddress = \"192.0.2.1\"\n";

    // A private file is read (first line) when the session is built.
    let c = snmp(&format!(
        "{device}community_file = {:?}\n",
        file.display().to_string()
    ));
    let s = c.validate().expect("a private file is accepted");
    let config::Credentials::V2c { community } = &s.devices[0].credentials else {
        panic!("v2c expected")
    };
    assert_eq!(community.read().as_deref(), Ok("s3cret-community"));

    // The section's community_env serves a device without its own.
    let c = snmp(&format!("community_env = \"PATH\"\n{device}"));
    c.validate().expect("an environment variable is accepted");

    // Readable by everyone: refused at start-up with the fix, the secret not shown.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let c = snmp(&format!(
        "{device}community_file = {:?}\n",
        file.display().to_string()
    ));
    let err = c.validate().expect_err("world-readable").to_string();
    assert!(
        err.contains("device[0].community_file") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");

    // Two forms of one secret, or a v3 key too short in its file: named errors.
    let c = snmp(&format!(
        "{device}community = \"x\"\ncommunity_env = \"PATH\"\n"
    ));
    let err = c.validate().expect_err("two forms").to_string();
    assert!(
        err.contains("community and community_env: set only one"),
        "{err}"
    );
    std::fs::write(&file, "short\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let c = snmp(&format!(
        "type = \"snmp\"\n[[device]]\nname = \"r1\"\naddress = \"192.0.2.1\"\nversion = \"3\"\n\
         user = \"u\"\nauth_protocol = \"sha\"\nauth_password_file = {:?}\n",
        file.display().to_string()
    ));
    let err = c.validate().expect_err("short key").to_string();
    assert!(
        err.contains("device[0].auth_password: must be at least 8 characters"),
        "{err}"
    );
}
