//! Device logs, traps, gear over SNMP and IPMI through the real binaries: the packaged
//! examples pass `patrol-agent --check`; `--once` shows the UPS, ENTITY-SENSOR, FC and
//! operator-profile metrics against snmpsim, the receivers bound, and IPMI's "no BMC" (real
//! ipmitool, no BMC here); and a collector on the shipped `rules/default/gear.toml` opens
//! incidents for a UPS on battery (polled from snmpsim) and a linkDown trap sent with net-snmp's
//! `snmptrap` to the running agent, while `logger` messages reach its syslog receiver.
#![allow(clippy::unwrap_used)]

mod support;

#[path = "../../probes/tests/support/snmp_peers.rs"]
mod peers;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::netns::sample;
use support::procs::{Proc, collector, eventually, http_get, run};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn testdata(file: &str) -> String {
    std::fs::read_to_string(repo("probes/src/snmp/testdata").join(file)).unwrap()
}

/// The gear example with its profile directory pointed at the repository's copy (the
/// package installs it in /etc/patrol/snmp-profiles).
fn gear_example(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo("packaging/examples/agent-snmp-gear.toml"))
        .unwrap()
        .replace(
            "/etc/patrol/snmp-profiles",
            repo("packaging/examples/snmp-profiles").to_str().unwrap(),
        );
    let path = dir.join("agent-snmp-gear.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn packaged_examples_pass_the_agent_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths: Vec<PathBuf> = ["syslog", "snmp_trap", "ipmi", "snmp"]
        .iter()
        .map(|p| repo(&format!("packaging/examples/agent-{p}.toml")))
        .collect();
    paths.push(gear_example(dir.path()));
    for path in paths {
        let path = path.to_str().unwrap();
        let (code, out, err) = run("patrol-agent", &["--config", path, "--check"]);
        assert_eq!(code, 0, "{path}: {out}{err}");
        assert!(out.contains(": ok ("), "{path}: {out}");
    }
}

#[test]
fn a_profile_file_with_an_unknown_oid_stops_the_check_at_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let profiles = dir.path().join("profiles");
    std::fs::create_dir(&profiles).unwrap();
    std::fs::write(
        profiles.join("pdu.toml"),
        "name = \"pdu\"\n[[metric]]\nname = \"pdu_load_amperes\"\n\
         oid = \"PowerNet-MIB::rPDULoadStatusLoad.1\"\nscale = 0.1\n",
    )
    .unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[collector]\naddress = \"http://127.0.0.1:1\"\n[[probe]]\ntype = \"snmp\"\n\
             profile_dirs = [{:?}]\n[[probe.device]]\nname = \"pdu1\"\naddress = \"192.0.2.7\"\n\
             community = \"public\"\nprofiles = [\"pdu\"]\n",
            profiles.to_str().unwrap()
        ),
    )
    .unwrap();
    let (code, _out, err) = run(
        "patrol-agent",
        &["--config", config.to_str().unwrap(), "--check"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains(&format!(
            "{}:4:7: unknown OID syntax \"PowerNet-MIB::rPDULoadStatusLoad.1\"",
            profiles.join("pdu.toml").display()
        )),
        "{err}"
    );
}

/// `patrol-agent --once` on `config`: (stdout, stderr), exit 0 required.
fn once(config: &Path) -> (String, String) {
    let (code, out, err) = run(
        "patrol-agent",
        &["--config", config.to_str().unwrap(), "--once"],
    );
    assert_eq!(code, 0, "{out}{err}");
    (out, err)
}

#[test]
fn once_shows_ups_sensors_fc_ports_and_an_operator_profile_from_snmpsim() {
    let recordings = [
        ("ups_battery", testdata("ups_on_battery.snmprec")),
        ("array", testdata("entity_sensor.snmprec")),
        ("fcsw", testdata("fc_mgmt.snmprec")),
        ("crac", testdata("liebert_env.snmprec")),
    ];
    let sim = peers::start_snmpsim_serving(&recordings);
    let dir = tempfile::tempdir().unwrap();
    let device = |name: &str, profiles: &str| {
        format!(
            "[[probe.device]]\nname = \"{name}\"\naddress = \"{}\"\ncommunity = \"{name}\"\nprofiles = [{profiles}]\n",
            sim.address()
        )
    };
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "host = \"poller\"\nstate_dir = {:?}\n[collector]\naddress = \"http://127.0.0.1:1\"\n\
             [[probe]]\ntype = \"snmp\"\nprofile_dirs = [{:?}]\n{}{}{}{}",
            dir.path().join("state").to_str().unwrap(),
            repo("packaging/examples/snmp-profiles").to_str().unwrap(),
            device("ups_battery", "\"system\", \"ups_mib\""),
            device("array", "\"entity_sensor\""),
            device("fcsw", "\"fc_mgmt\""),
            device("crac", "\"liebert_env\""),
        ),
    )
    .unwrap();
    let (out, err) = once(&config);
    let v = |name: &str, want: &[(&str, &str)]| {
        sample(&out, name, want).unwrap_or_else(|| panic!("{name} {want:?} missing:\n{out}\n{err}"))
    };
    assert_eq!(v("ups_on_battery", &[("device", "ups_battery")]), 1.0);
    assert_eq!(
        v("ups_battery_runtime_seconds", &[("device", "ups_battery")]),
        540.0
    );
    assert_eq!(
        v(
            "ups_load_percent",
            &[("device", "ups_battery"), ("line", "3")]
        ),
        71.0
    );
    assert_eq!(
        v(
            "entity_sensor_value",
            &[("device", "array"), ("sensor", "PSU1 12V")]
        ),
        12.03
    );
    assert_eq!(
        v(
            "entity_sensor_ok",
            &[("device", "array"), ("sensor", "PSU2 12V")]
        ),
        0.0
    );
    assert_eq!(
        v(
            "fc_port_down",
            &[("device", "fcsw"), ("port", "array-ctl-a-p0")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "crac_temperature_celsius",
            &[("device", "crac"), ("point", "supply_air")]
        ),
        17.6
    );
    // The catalogue gives every built-in metric its help line.
    assert!(out.contains("# HELP ups_on_battery "), "{out}");
}

#[test]
fn once_shows_the_receivers_bound_and_ipmi_without_a_bmc() {
    let dir = tempfile::tempdir().unwrap();
    let udp = peers::free_udp_port();
    let trap = peers::free_udp_port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "host = \"box\"\nstate_dir = {:?}\n[collector]\naddress = \"http://127.0.0.1:1\"\n\
             [[probe]]\ntype = \"syslog\"\nlisten_udp = \"127.0.0.1:{udp}\"\n\
             [[probe]]\ntype = \"snmp_trap\"\nlisten = \"127.0.0.1:{trap}\"\ncommunities = [\"public\"]\n\
             [[probe]]\ntype = \"ipmi\"\nsel = false\n",
            dir.path().join("state").to_str().unwrap(),
        ),
    )
    .unwrap();
    let (out, err) = once(&config);
    assert_eq!(
        sample(&out, "syslog_up", &[("transport", "udp")]),
        Some(1.0),
        "{out}"
    );
    assert_eq!(sample(&out, "snmp_trap_up", &[]), Some(1.0), "{out}");
    assert_eq!(
        sample(&out, "ipmi_up", &[("bmc", "local")]),
        Some(0.0),
        "{out}"
    );
    assert!(
        err.contains("no BMC on this host (Could not open device at /dev/ipmi0"),
        "ipmitool (Debian package ipmitool) must say there is no BMC: {err}"
    );
}

/// Runs a net-snmp or util-linux tool; a missing one fails with the package to install.
fn tool(program: &str, package: &str, args: &[&str]) {
    let found = ["/usr/bin", "/bin", "/usr/sbin"]
        .iter()
        .any(|d| Path::new(d).join(program).is_file());
    assert!(
        found,
        "{program} not found: install the Debian package {package} (scripts/setup.sh)"
    );
    let home = tempfile::tempdir().unwrap();
    let status = Command::new(program)
        .args(args)
        .env("HOME", home.path())
        .env("MIBS", "")
        .status()
        .unwrap();
    assert!(status.success(), "{program} {args:?} failed");
}

#[test]
fn a_ups_on_battery_and_a_link_down_trap_open_incidents() {
    let sim = peers::start_snmpsim_serving(&[("ups", testdata("ups_on_battery.snmprec"))]);
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::copy(repo("rules/default/gear.toml"), rules.join("gear.toml")).unwrap();
    let (_collector, grpc, http) = collector(&rules, &dir.path().join("data"));

    let syslog_port = peers::free_udp_port();
    let trap_port = peers::free_udp_port();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "agent_id = \"gear-e2e\"\nhost = \"poller\"\nstate_dir = {state:?}\n\
             [collector]\naddress = \"http://{grpc}\"\n\
             [[probe]]\ntype = \"snmp\"\ninterval = \"2s\"\ntimeout = \"500ms\"\nretries = 1\n\
             profiles = [\"ups_mib\"]\n\
             [[probe.device]]\nname = \"ups-dc1-b\"\naddress = \"{ups}\"\ncommunity = \"ups\"\n\
             [[probe]]\ntype = \"snmp_trap\"\ninterval = \"1s\"\nlisten = \"127.0.0.1:{trap_port}\"\n\
             communities = [\"public\"]\n[probe.device_names]\n\"127.0.0.1\" = \"core-sw1\"\n\
             [[probe]]\ntype = \"syslog\"\ninterval = \"1s\"\nlisten_udp = \"127.0.0.1:{syslog_port}\"\n\
             [[probe.pattern]]\nname = \"link_down\"\nregex = 'changed state to down'\n",
            state = dir.path().join("state").to_str().unwrap(),
            ups = sim.address(),
        ),
    )
    .unwrap();
    let _agent = Proc::agent(&config);
    let tail = Proc::tail_json(&grpc);

    // The UPS recording is on battery: P2 at once.
    let opened = tail.wait_line(Duration::from_secs(60), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["kind"] == "opened" && v["incident"]["rule"] == "ups_on_battery").then_some(v)
    });
    assert_eq!(opened["incident"]["severity"], "P2");
    assert_eq!(opened["incident"]["labels"]["device"], "ups-dc1-b");

    // The receivers listen once the agent's first round has run.
    let bound = eventually(Duration::from_secs(30), || {
        let (_, body) = http_get(&http, "/metrics");
        body.lines()
            .any(|l| l.starts_with("snmp_trap_up{") && l.ends_with(" 1"))
            && body
                .lines()
                .any(|l| l.starts_with("syslog_up{") && l.ends_with(" 1"))
    });
    assert!(bound, "the agent's receivers did not report up");

    // A switch port goes down: linkDown (v2c) for ifIndex 12, as a Cisco switch sends it.
    let to = format!("127.0.0.1:{trap_port}");
    tool(
        "snmptrap",
        "snmp",
        &[
            "-m",
            "",
            "-v",
            "2c",
            "-c",
            "public",
            &to,
            "",
            "1.3.6.1.6.3.1.1.5.3",
            "1.3.6.1.2.1.2.2.1.1.12",
            "i",
            "12",
            "1.3.6.1.2.1.2.2.1.7.12",
            "i",
            "1",
            "1.3.6.1.2.1.2.2.1.8.12",
            "i",
            "2",
        ],
    );
    let opened = tail.wait_line(Duration::from_secs(30), |l| {
        let v: Value = serde_json::from_str(l).ok()?;
        (v["kind"] == "opened" && v["incident"]["rule"] == "trap_link_down").then_some(v)
    });
    assert_eq!(opened["incident"]["labels"]["device"], "core-sw1");
    assert_eq!(opened["incident"]["labels"]["ifindex"], "12");

    // The same switch logs it over syslog (RFC 3164, as IOS does): counted by pattern.
    tool(
        "logger",
        "util-linux",
        &[
            "--server",
            "127.0.0.1",
            "--port",
            &syslog_port.to_string(),
            "--udp",
            "--rfc3164",
            "-p",
            "local7.err",
            "-t",
            "LINK",
            "%LINK-3-UPDOWN: Interface GigabitEthernet1/0/12, changed state to down",
        ],
    );
    let counted = eventually(Duration::from_secs(30), || {
        let (_, body) = http_get(&http, "/metrics");
        body.lines().any(|l| {
            l.starts_with("syslog_pattern_matches_total{")
                && l.contains("pattern=\"link_down\"")
                && l.ends_with(" 1")
        })
    });
    assert!(counted, "the logger message was not counted by the agent");
}
