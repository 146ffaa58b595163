//! SNMP end to end with the real binaries: snmpsim serves the Cisco Catalyst 3750 recording,
//! `patrol-agent` polls it with the snmp probe, `patrol-collector` evaluates the shipped
//! `rules/default/snmp.toml`, and `patrolctl tail --json` sees the interface-down incident.

mod support;

#[path = "../../probes/tests/support/snmp_peers.rs"]
mod peers;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::procs::{Proc, collector, http_get};

#[test]
fn interface_down_in_the_recording_opens_an_incident() {
    let sim = peers::start_snmpsim();
    let v2c = ["-v2c", "-c", peers::CISCO_COMMUNITY];
    // The oracle: interfaces net-snmp sees administratively up and operationally down.
    let admin = peers::net_snmp("snmpbulkwalk", &v2c, &sim.address(), "1.3.6.1.2.1.2.2.1.7");
    let oper = peers::net_snmp("snmpbulkwalk", &v2c, &sim.address(), "1.3.6.1.2.1.2.2.1.8");
    let names = peers::net_snmp(
        "snmpbulkwalk",
        &v2c,
        &sim.address(),
        "1.3.6.1.2.1.31.1.1.1.1",
    );
    let down: BTreeSet<String> = oper
        .iter()
        .filter(|(_, v)| v.number() == 2.0)
        .map(|(oid, _)| peers::index_of(oid, "1.3.6.1.2.1.2.2.1.8").to_owned())
        .filter(|i| admin[&format!("1.3.6.1.2.1.2.2.1.7.{i}")].number() == 1.0)
        .map(|i| {
            String::from_utf8_lossy(&names[&format!("1.3.6.1.2.1.31.1.1.1.1.{i}")].bytes())
                .into_owned()
        })
        .collect();
    assert!(
        !down.is_empty(),
        "the recording has admin-up, oper-down ports"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules/default/snmp.toml");
    std::fs::copy(shipped, rules.join("snmp.toml")).expect("copy shipped snmp rules");
    let (_collector, grpc, http) = collector(&rules, &dir.path().join("data"));

    let agent_cfg = dir.path().join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "agent_id = \"e2e-agent\"\nhost = \"poller\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://{grpc}\"\n\
             [[probe]]\ntype = \"snmp\"\ninterval = \"2s\"\ntimeout = \"500ms\"\nretries = 1\n\
             profiles = [\"system\", \"if_mib\"]\n\
             [[probe.device]]\nname = \"c3750\"\naddress = \"{}\"\ncommunity = \"{}\"\n",
            sim.address(),
            peers::CISCO_COMMUNITY,
            state = dir.path().join("agent-state"),
        ),
    )
    .expect("agent config");
    let _agent = Proc::agent(&agent_cfg);

    let tail = Proc::tail_json(&grpc.to_string());
    let opened = tail.wait_line(Duration::from_secs(60), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["kind"] == "opened" && v["incident"]["rule"] == "interface_down").then_some(v)
    });
    let incident = &opened["incident"];
    assert_eq!(incident["severity"], "P2");
    assert_eq!(incident["labels"]["device"], "c3750");
    let ifname = incident["labels"]["ifname"].as_str().expect("ifname label");
    assert!(
        down.contains(ifname),
        "{ifname} is not down per net-snmp: {down:?}"
    );
    assert_eq!(
        incident["summary"],
        format!("Interface {ifname} on c3750 is down while administratively up (polled by poller)")
    );

    let (status, body) = http_get(&http, "/metrics");
    assert_eq!(status, 200);
    assert!(
        body.lines().any(|l| l.starts_with("snmp_up{")
            && l.contains("device=\"c3750\"")
            && l.ends_with(" 1")),
        "{body}"
    );
    assert!(body.contains("sys_name=\"Profiler3750\""), "{body}");
}

#[test]
fn shipped_snmp_example_config_checks_cleanly() {
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../packaging/examples/agent-snmp.toml"
    );
    let (code, _out, err) = support::procs::run("patrol-agent", &["--config", example, "--check"]);
    assert_eq!(code, 0, "{err}");

    // A typo in a device table is reported at its line and column.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(example)
        .expect("read example")
        .replace("user = \"patrol\"", "usr = \"patrol\"");
    std::fs::write(&bad, text).expect("write");
    let (code, _out, err) = support::procs::run(
        "patrol-agent",
        &["--config", bad.to_str().expect("utf-8"), "--check"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("bad.toml:") && err.contains("usr"), "{err}");
}
