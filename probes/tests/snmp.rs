//! The SNMP probe against real peers: snmpsim serving the Cisco Catalyst 3750 recording
//! (values checked against net-snmp's snmpget/snmpbulkwalk on the same peer), net-snmp's
//! snmpd with a v3 authPriv user, and a UDP socket that never answers.

#[path = "support/snmp_peers.rs"]
mod peers;

use std::collections::BTreeMap;
use std::net::UdpSocket;

use patrol_probes::snmp::{DeviceError, clean_text};
use patrol_probes::{CollectContext, Probe, ProbeConfig};
use patrol_proto::Sample;
use peers::{CISCO_COMMUNITY, index_of, net_snmp};

fn build(toml_text: &str) -> Box<dyn Probe> {
    let config: ProbeConfig = toml::from_str(toml_text).expect("probe config parses");
    config
        .build(&patrol_probes::BuildContext::new(std::env::temp_dir()))
        .expect("probe builds")
}

fn build_snmp(toml_text: &str) -> patrol_probes::snmp::SnmpProbe {
    match toml::from_str::<ProbeConfig>(toml_text).expect("parses") {
        ProbeConfig::Snmp(c) => patrol_probes::snmp::SnmpProbe::new(c).expect("builds"),
        other => panic!("not snmp: {other:?}"),
    }
}

async fn collect(probe: &mut dyn Probe, now_ms: i64) -> Vec<Sample> {
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms }, &mut out)
        .await
        .expect("collect succeeds");
    out
}

/// `name` samples of `device`, keyed by the value of `label`.
fn by_label(samples: &[Sample], name: &str, device: &str, label: &str) -> BTreeMap<String, f64> {
    samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("device") == Some(device))
        .map(|s| {
            (
                s.labels
                    .get(label)
                    .unwrap_or_else(|| panic!("{name} without {label}: {s:?}"))
                    .to_owned(),
                s.value,
            )
        })
        .collect()
}

fn one<'a>(samples: &'a [Sample], name: &str, device: &str) -> &'a Sample {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && s.labels.get("device") == Some(device))
        .collect();
    assert_eq!(found.len(), 1, "{name}{{device={device}}}: {found:?}");
    found[0]
}

const IF_ADMIN: &str = "1.3.6.1.2.1.2.2.1.7";
const IF_OPER: &str = "1.3.6.1.2.1.2.2.1.8";
const IF_NAME: &str = "1.3.6.1.2.1.31.1.1.1.1";
const IF_HC_IN: &str = "1.3.6.1.2.1.31.1.1.1.6";
const IF_IN_OCTETS: &str = "1.3.6.1.2.1.2.2.1.10";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cisco_recording_matches_net_snmp() {
    let sim = peers::start_snmpsim();
    let address = sim.address();
    let v2c = ["-v2c", "-c", CISCO_COMMUNITY];
    let mut probe = build(&format!(
        "type = \"snmp\"\ninterval = \"30s\"\n[[device]]\nname = \"c3750\"\naddress = \"{address}\"\ncommunity = \"{CISCO_COMMUNITY}\"\n"
    ));
    let first = collect(probe.as_mut(), 1_000).await;
    let second = collect(probe.as_mut(), 2_000).await;
    let d = "c3750";
    assert_eq!(one(&first, "snmp_up", d).value, 1.0, "{first:?}");

    // system
    let sys = net_snmp("snmpget", &v2c, &address, "1.3.6.1.2.1.1.1.0");
    let descr = clean_text(&sys["1.3.6.1.2.1.1.1.0"].bytes());
    let sys = net_snmp("snmpget", &v2c, &address, "1.3.6.1.2.1.1.5.0");
    let name = clean_text(&sys["1.3.6.1.2.1.1.5.0"].bytes());
    let info = one(&first, "snmp_info", d);
    assert_eq!(info.labels.get("sys_descr"), Some(descr.as_str()));
    assert_eq!(info.labels.get("sys_name"), Some(name.as_str()));
    assert!(descr.starts_with("Cisco IOS Software, C3750"), "{descr}");
    let uptime = net_snmp("snmpget", &v2c, &address, "1.3.6.1.2.1.1.3.0");
    assert_eq!(
        one(&first, "snmp_uptime_seconds", d).value,
        uptime["1.3.6.1.2.1.1.3.0"].number() / 100.0
    );

    // IF-MIB: every interface, its name, admin/oper state and the derived down flag.
    let names = net_snmp("snmpbulkwalk", &v2c, &address, IF_NAME);
    let admin = net_snmp("snmpbulkwalk", &v2c, &address, IF_ADMIN);
    let oper = net_snmp("snmpbulkwalk", &v2c, &address, IF_OPER);
    let name_of = |index: &str| clean_text(&names[&format!("{IF_NAME}.{index}")].bytes());
    let mut want_oper = BTreeMap::new();
    let mut want_admin = BTreeMap::new();
    let mut want_down = BTreeMap::new();
    for (oid, v) in &oper {
        let index = index_of(oid, IF_OPER);
        let a = admin[&format!("{IF_ADMIN}.{index}")].number();
        want_oper.insert(name_of(index), f64::from(v.number() == 1.0));
        want_admin.insert(name_of(index), f64::from(a == 1.0));
        let down = a == 1.0 && [2.0, 4.0, 6.0, 7.0].contains(&v.number());
        want_down.insert(name_of(index), f64::from(down));
    }
    assert_eq!(want_oper.len(), 59, "the recording has 59 interfaces");
    assert_eq!(by_label(&first, "snmp_if_oper_up", d, "ifname"), want_oper);
    assert_eq!(
        by_label(&first, "snmp_if_admin_up", d, "ifname"),
        want_admin
    );
    assert_eq!(by_label(&first, "snmp_if_down", d, "ifname"), want_down);
    assert!(
        want_down.values().any(|v| *v == 1.0),
        "the recording has admin-up, oper-down ports"
    );

    // Rates: none on the first poll; on the second, (HC counter now − before) × 8 ÷ seconds.
    // snmpsim replays the recording, so net-snmp sees the same counters twice: the rate is 0.
    assert!(by_label(&first, "snmp_if_in_bits_per_second", d, "ifname").is_empty());
    // Interfaces without 64-bit counters (Nu0, StackPort3 here) fall back to ifInOctets.
    let hc_in = net_snmp("snmpbulkwalk", &v2c, &address, IF_HC_IN);
    let hc_in_again = net_snmp("snmpbulkwalk", &v2c, &address, IF_HC_IN);
    assert_eq!(hc_in, hc_in_again, "snmpsim replays static counters");
    let in_octets = net_snmp("snmpbulkwalk", &v2c, &address, IF_IN_OCTETS);
    let rates = by_label(&second, "snmp_if_in_bits_per_second", d, "ifname");
    let mut with_counter: BTreeMap<String, f64> = in_octets
        .keys()
        .map(|oid| (name_of(index_of(oid, IF_IN_OCTETS)), 0.0))
        .collect();
    with_counter.extend(
        hc_in
            .keys()
            .map(|oid| (name_of(index_of(oid, IF_HC_IN)), 0.0)),
    );
    assert!(with_counter.len() > hc_in.len());
    assert_eq!(rates, with_counter);

    // CISCO-ENVMON fans and supplies.
    for (state_col, descr_col, metric, label) in [
        (
            "1.3.6.1.4.1.9.9.13.1.4.1.3",
            "1.3.6.1.4.1.9.9.13.1.4.1.2",
            "hw_fan_ok",
            "fan",
        ),
        (
            "1.3.6.1.4.1.9.9.13.1.5.1.3",
            "1.3.6.1.4.1.9.9.13.1.5.1.2",
            "hw_psu_ok",
            "psu",
        ),
    ] {
        let states = net_snmp("snmpbulkwalk", &v2c, &address, state_col);
        let descrs = net_snmp("snmpbulkwalk", &v2c, &address, descr_col);
        let want: BTreeMap<String, f64> = states
            .iter()
            .map(|(oid, v)| {
                let index = index_of(oid, state_col);
                let descr = clean_text(&descrs[&format!("{descr_col}.{index}")].bytes());
                (descr, f64::from(v.number() == 1.0))
            })
            .collect();
        assert!(!want.is_empty(), "{metric}: the recording has rows");
        assert_eq!(by_label(&first, metric, d, label), want, "{metric}");
    }

    // CISCO-PROCESS 5-minute CPU.
    let cpu_col = "1.3.6.1.4.1.9.9.109.1.1.1.1.8";
    let cpu = net_snmp("snmpbulkwalk", &v2c, &address, cpu_col);
    let want: BTreeMap<String, f64> = cpu
        .iter()
        .map(|(oid, v)| (index_of(oid, cpu_col).to_owned(), v.number()))
        .collect();
    assert_eq!(by_label(&first, "snmp_cpu_5min_percent", d, "cpu"), want);
}

const USER: &str = "patrol";
const AUTH: &str = "authpass123";
const PRIV: &str = "privpass123";

fn v3_section(address: &str, user: &str, auth: &str, privacy: &str) -> String {
    format!(
        "type = \"snmp\"\ninterval = \"30s\"\ntimeout = \"1s\"\nretries = 0\n\
         profiles = [\"system\", \"if_mib\", \"host_resources\"]\n\
         [[device]]\nname = \"linux\"\naddress = \"{address}\"\nversion = \"3\"\nuser = \"{user}\"\n\
         auth_protocol = \"sha\"\nauth_password = \"{auth}\"\npriv_protocol = \"aes\"\npriv_password = \"{privacy}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snmpd_v3_auth_priv_is_read_like_net_snmp_reads_it() {
    let snmpd = peers::start_snmpd(USER, AUTH, PRIV);
    let address = snmpd.address();
    let v3 = [
        "-v3", "-l", "authPriv", "-u", USER, "-a", "SHA", "-A", AUTH, "-x", "AES", "-X", PRIV,
    ];

    let mut probe = build_snmp(&v3_section(&address, USER, AUTH, PRIV));
    let samples = collect(&mut probe, 1_000).await;
    assert_eq!(
        one(&samples, "snmp_up", "linux").value,
        1.0,
        "errors: {:?}\nsnmpd log:\n{}",
        probe.device_errors(),
        snmpd.log()
    );
    let name = net_snmp("snmpget", &v3, &address, "1.3.6.1.2.1.1.5.0");
    let name = clean_text(&name["1.3.6.1.2.1.1.5.0"].bytes());
    assert_eq!(
        one(&samples, "snmp_info", "linux").labels.get("sys_name"),
        Some(name.as_str())
    );

    // Interfaces (names and states are stable on a live host) match net-snmp over v3 too.
    let descrs = net_snmp("snmpbulkwalk", &v3, &address, "1.3.6.1.2.1.31.1.1.1.1");
    let want: Vec<String> = descrs.values().map(|v| clean_text(&v.bytes())).collect();
    let got: Vec<String> = by_label(&samples, "snmp_if_oper_up", "linux", "ifname")
        .into_keys()
        .collect();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);

    // HOST-RESOURCES storage: same entries as net-snmp; percentages within 0..=100.
    let storage = net_snmp("snmpbulkwalk", &v3, &address, "1.3.6.1.2.1.25.2.3.1.3");
    let sizes = net_snmp("snmpbulkwalk", &v3, &address, "1.3.6.1.2.1.25.2.3.1.5");
    let mut want: Vec<String> = storage
        .iter()
        .filter(|(oid, _)| {
            let index = index_of(oid, "1.3.6.1.2.1.25.2.3.1.3");
            sizes[&format!("1.3.6.1.2.1.25.2.3.1.5.{index}")].number() > 0.0
        })
        .map(|(_, v)| clean_text(&v.bytes()))
        .collect();
    want.sort();
    let used = by_label(&samples, "snmp_storage_used_percent", "linux", "storage");
    assert_eq!(used.keys().cloned().collect::<Vec<_>>(), want);
    assert!(used.values().all(|p| (0.0..=100.0).contains(p)), "{used:?}");
}

/// One v3 device section with the given credential lines (`user = ...`, keys).
fn v3_device(address: &str, credentials: &str) -> String {
    format!(
        "type = \"snmp\"\ninterval = \"30s\"\ntimeout = \"1s\"\nretries = 0\n\
         profiles = [\"system\"]\n\
         [[device]]\nname = \"sw1\"\naddress = \"{address}\"\nversion = \"3\"\n{credentials}"
    )
}

/// Polls once and returns the device's error, after checking `snmp_up` 0.
async fn failing_error(toml_text: &str) -> DeviceError {
    let mut probe = build_snmp(toml_text);
    let samples = collect(&mut probe, 1_000).await;
    assert_eq!(one(&samples, "snmp_up", "sw1").value, 0.0);
    probe
        .device_errors()
        .remove(0)
        .1
        .expect("a failing device has an error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snmpd_v3_wrong_user_auth_key_and_priv_key_each_get_their_own_error() {
    let snmpd = peers::start_snmpd(USER, AUTH, PRIV);
    let address = snmpd.address();
    let creds = |user: &str, auth: &str, privacy: &str| {
        format!(
            "user = \"{user}\"\nauth_protocol = \"sha\"\nauth_password = \"{auth}\"\n\
             priv_protocol = \"aes\"\npriv_password = \"{privacy}\"\n"
        )
    };

    let error = failing_error(&v3_device(&address, &creds("nobody", AUTH, PRIV))).await;
    assert_eq!(
        error,
        DeviceError::UnknownUser {
            user: "nobody".into()
        }
    );
    assert_eq!(
        error.to_string(),
        "unknown user 'nobody' (usmStatsUnknownUserNames): check `user`, or create it on the device"
    );

    let error = failing_error(&v3_device(&address, &creds(USER, "wrongpass1", PRIV))).await;
    assert_eq!(error, DeviceError::WrongDigest { user: USER.into() });
    assert!(
        error
            .to_string()
            .starts_with("wrong authentication key for user 'patrol' (usmStatsWrongDigests)"),
        "{error}"
    );

    // net-snmp sends no Report when the scoped PDU does not decrypt: the probe words the
    // silence after a successful discovery and an accepted user and key.
    let error = failing_error(&v3_device(&address, &creds(USER, AUTH, "wrongpriv1"))).await;
    assert_eq!(error, DeviceError::Undecryptable { user: USER.into() });
    assert!(
        error
            .to_string()
            .starts_with("wrong privacy key or protocol for user 'patrol'"),
        "{error}"
    );

    // The authPriv-only user without its privacy key: authenticated, refused by the
    // device's access rule (`rouser patrol priv`).
    let no_priv =
        format!("user = \"{USER}\"\nauth_protocol = \"sha\"\nauth_password = \"{AUTH}\"\n");
    let error = failing_error(&v3_device(&address, &no_priv)).await;
    assert_eq!(error, DeviceError::NotAuthorized { user: USER.into() });
    assert!(error.to_string().contains("priv_protocol"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snmpd_v3_auth_no_priv_sha_user_is_read_with_its_key_from_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let snmpd = peers::start_snmpd(USER, AUTH, PRIV);
    let address = snmpd.address();
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("auth.key");
    std::fs::write(&key, format!("{AUTH}\n")).expect("write key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let section = v3_device(
        &address,
        &format!(
            "user = \"{}\"\nauth_protocol = \"sha\"\nauth_password_file = \"{}\"\n",
            peers::AUTH_ONLY_USER,
            key.display()
        ),
    );
    let mut probe = build_snmp(&section);
    let samples = collect(&mut probe, 1_000).await;
    assert_eq!(
        one(&samples, "snmp_up", "sw1").value,
        1.0,
        "errors: {:?}",
        probe.device_errors()
    );
    let v3 = [
        "-v3",
        "-l",
        "authNoPriv",
        "-u",
        peers::AUTH_ONLY_USER,
        "-a",
        "SHA",
        "-A",
        AUTH,
    ];
    let name = net_snmp("snmpget", &v3, &address, "1.3.6.1.2.1.1.5.0");
    let name = clean_text(&name["1.3.6.1.2.1.1.5.0"].bytes());
    assert_eq!(
        one(&samples, "snmp_info", "sw1").labels.get("sys_name"),
        Some(name.as_str())
    );

    // The same file readable by everyone is refused when the probe is built.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let config: ProbeConfig = toml::from_str(&section).expect("parses");
    let error = config
        .build(&patrol_probes::BuildContext::new(dir.path()))
        .err()
        .expect("a world-readable key file is refused")
        .to_string();
    assert!(
        error.contains("auth_password_file") && error.contains("chmod 600"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_device_is_down_while_the_other_is_polled() {
    let sim = peers::start_snmpsim();
    // Bound, so the port is taken, but never read: requests vanish like on a dead device.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let silent_address = silent.local_addr().expect("addr");
    let mut probe = build_snmp(&format!(
        "type = \"snmp\"\ninterval = \"10s\"\ntimeout = \"500ms\"\nretries = 1\n\
         profiles = [\"system\", \"cisco_envmon\"]\ncommunity = \"{CISCO_COMMUNITY}\"\n\
         [[device]]\nname = \"dead\"\naddress = \"{silent_address}\"\n\
         [[device]]\nname = \"live\"\naddress = \"{}\"\n",
        sim.address()
    ));
    for round in 0..2 {
        let samples = collect(&mut probe, 1_000 + round).await;
        assert_eq!(one(&samples, "snmp_up", "dead").value, 0.0);
        assert_eq!(one(&samples, "snmp_up", "live").value, 1.0);
        assert_eq!(by_label(&samples, "hw_fan_ok", "live", "fan").len(), 1);
        assert!(
            samples
                .iter()
                .all(|s| s.labels.get("device") != Some("dead")
                    || matches!(s.name.as_str(), "snmp_up" | "snmp_poll_duration_ms"))
        );
        let errors: BTreeMap<String, Option<DeviceError>> =
            probe.device_errors().into_iter().collect();
        assert!(
            matches!(
                errors["dead"],
                Some(DeviceError::Timeout { retries: 1, .. })
            ),
            "{errors:?}"
        );
        assert_eq!(errors["live"], None);
    }
}
