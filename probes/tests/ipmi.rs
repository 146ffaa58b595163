//! The IPMI probe with the real ipmitool (Debian package `ipmitool`) where no BMC exists: this
//! host's missing /dev/ipmi0, a remote BMC that does not answer, and no ipmitool at all must
//! each give `ipmi_up 0` and a sentence saying which. Sensor parsing is tested on recorded
//! output in `probes/src/ipmi/tests.rs`.

use std::net::UdpSocket;

use patrol_probes::ipmi::{IpmiConfig, IpmiProbe};
use patrol_probes::{CollectContext, Probe, ProbeConfig};

fn require_ipmitool() {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("ipmitool").is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "ipmitool not found: install the Debian package ipmitool (scripts/setup.sh does it)"
    );
}

fn probe(section: &str) -> IpmiProbe {
    match toml::from_str::<ProbeConfig>(&format!("type = \"ipmi\"\n{section}")).expect("parses") {
        ProbeConfig::Ipmi(c) => IpmiProbe::new(&c as &IpmiConfig).expect("builds"),
        other => panic!("not ipmi: {other:?}"),
    }
}

async fn up(probe: &mut IpmiProbe) -> f64 {
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .expect("a failing BMC is a sample, not an error");
    let up: Vec<f64> = out
        .iter()
        .filter(|s| s.name == "ipmi_up")
        .map(|s| s.value)
        .collect();
    assert_eq!(up.len(), 1, "{out:?}");
    assert!(out.iter().all(|s| !s.name.starts_with("ipmi_sensor")));
    up[0]
}

#[tokio::test]
async fn no_bmc_on_this_host_is_said_plainly() {
    require_ipmitool();
    assert!(
        !std::path::Path::new("/dev/ipmi0").exists(),
        "this test expects a machine without a BMC"
    );
    let mut p = probe("sel = false\n");
    assert_eq!(up(&mut p).await, 0.0);
    let why = p.last_error().expect("an error is kept");
    assert!(
        why.starts_with("no BMC on this host (Could not open device at /dev/ipmi0"),
        "{why}"
    );
    assert!(why.contains("ipmi_si and ipmi_devintf"), "{why}");
}

#[tokio::test]
async fn a_remote_bmc_that_does_not_answer_is_named_with_the_command_to_try() {
    require_ipmitool();
    // Bound and never read: the RMCP+ session request goes unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let mut p = probe(&format!(
        "sel = false\ntimeout = \"8s\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"monitor\"\n\
         password = \"not-sent-anywhere\"\noptions = [\"-N\", \"1\", \"-R\", \"1\"]\n"
    ));
    assert_eq!(up(&mut p).await, 0.0);
    let why = p.last_error().expect("an error is kept");
    assert!(
        why.starts_with(
            "127.0.0.1 did not accept an IPMI session (Error: Unable to establish IPMI v2 / RMCP+ session)"
        ),
        "{why}"
    );
    assert!(why.contains("ipmitool -I lanplus -H 127.0.0.1"), "{why}");
}

#[tokio::test]
async fn a_bmc_slower_than_the_timeout_is_killed_and_said_so() {
    require_ipmitool();
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("addr").port();
    // ipmitool's own retries take 20 s; the probe's timeout ends it first.
    let mut p = probe(&format!(
        "sel = false\ntimeout = \"1s\"\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"monitor\"\n\
         password = \"x\"\n"
    ));
    assert_eq!(up(&mut p).await, 0.0);
    let why = p.last_error().expect("an error is kept");
    assert!(
        why.starts_with("ipmitool still running after 1s: killed"),
        "{why}"
    );
}

#[tokio::test]
async fn a_missing_ipmitool_says_which_package_to_install() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("ipmitool");
    let mut p = probe(&format!(
        "sel = false\nipmitool = {:?}\n",
        missing.display().to_string()
    ));
    assert_eq!(up(&mut p).await, 0.0);
    let why = p.last_error().expect("an error is kept");
    assert!(
        why.starts_with("ipmitool not found (") && why.contains("Debian package ipmitool"),
        "{why}"
    );
}
