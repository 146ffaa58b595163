//! The ping, trace and sockets probes against real peers: hosts in network namespaces this
//! test creates (veth links, routers, induced loss), the real `patrol-agent` run inside the
//! source namespace with `ip netns exec`. Needs root and iproute2 (+ nftables where the
//! kernel has no netem): `scripts/setup.sh` installs them.

mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use support::netns::{Loss, Netns, sample};
use support::procs::{Proc, binary};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.to_str().expect("utf-8 path").to_owned()
}

/// `patrol-agent --once` inside `ns`; fails the test with the agent's stderr if it fails.
fn agent_once(net: &Netns, ns: &str, config: &str) -> String {
    let (code, out, err) = net.run(ns, &binary("patrol-agent"), &["--config", config, "--once"]);
    assert_eq!(code, 0, "patrol-agent --once failed:\n{err}");
    out
}

/// `patrol-collector` on loopback ports inside `ns`; returns it with its gRPC address.
fn collector_in(net: &Netns, ns: &str, rules: &Path, data: &Path) -> (Proc, String) {
    let mut command = net.command(ns, &binary("patrol-collector"));
    command.args([
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--rules",
    ]);
    command.arg(rules).arg("--data").arg(data);
    let collector = Proc::spawn_command("patrol-collector", command);
    let grpc = collector.wait_line(Duration::from_secs(30), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|p| p.strip_prefix("grpc=").map(str::to_owned))
    });
    (collector, grpc)
}

#[test]
fn ping_measures_loopback_namespaced_hosts_induced_loss_and_a_dead_address() {
    let mut net = Netns::new("ping");
    let src = net.add("src");
    let good = net.add("good");
    let lossy = net.add("lossy");
    net.link(
        &src,
        "v-good",
        &["10.231.1.1/24", "fd00:231:1::1/64"],
        &good,
        "v-src",
        &["10.231.1.2/24", "fd00:231:1::2/64"],
    );
    net.link(
        &src,
        "v-lossy",
        &["10.231.2.1/24"],
        &lossy,
        "v-src",
        &["10.231.2.2/24"],
    );
    let loss = net.induce_loss(&lossy, "v-src");

    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "agent.toml",
        r#"host = "net-test"
[[probe]]
type = "ping"
interval = "10s"
count = 20
spacing = "20ms"
timeout = "500ms"
targets = ["127.0.0.1", "::1", "10.231.1.2", "fd00:231:1::2", "10.231.2.2", "10.231.1.99"]
"#,
    );
    // The first packet to a new IPv6 neighbour waits for neighbour discovery (about 1 s
    // here, as with ping(8)): one slow round first, so the measured one sees the link.
    let warm_up = write(
        dir.path(),
        "warm.toml",
        "[[probe]]\ntype = \"ping\"\ncount = 1\ntimeout = \"3s\"\ntargets = [\"fd00:231:1::2\"]\n",
    );
    agent_once(&net, &src, &warm_up);
    let out = agent_once(&net, &src, &config);
    let v = |name: &str, target: &str| sample(&out, name, &[("target", target)]);

    for target in ["127.0.0.1", "::1", "10.231.1.2", "fd00:231:1::2"] {
        assert_eq!(v("ping_up", target), Some(1.0), "{target}\n{out}");
        assert_eq!(v("ping_loss_percent", target), Some(0.0), "{target}\n{out}");
        let (min, avg, max) = (
            v("ping_rtt_min_ms", target).expect("min"),
            v("ping_rtt_ms", target).expect("avg"),
            v("ping_rtt_max_ms", target).expect("max"),
        );
        assert!(
            0.0 <= min && min <= avg && avg <= max && max < 500.0,
            "{target}: {out}"
        );
        assert!(
            v("ping_jitter_ms", target).is_some_and(|j| j >= 0.0),
            "{out}"
        );
    }
    let lost = v("ping_loss_percent", "10.231.2.2").expect("lossy target reported");
    match loss {
        Loss::NftEverySecond => assert_eq!(lost, 50.0, "{out}"),
        // 20 requests at 50 %: all or none lost has a probability of 2 in a million.
        Loss::Netem => assert!(0.0 < lost && lost < 100.0, "{out}"),
    }
    assert_eq!(v("ping_up", "10.231.2.2"), Some(1.0));
    // On the link but nobody there: no reply at all, no round-trip figures.
    assert_eq!(v("ping_up", "10.231.1.99"), Some(0.0), "{out}");
    assert_eq!(v("ping_loss_percent", "10.231.1.99"), Some(100.0));
    assert_eq!(v("ping_rtt_ms", "10.231.1.99"), None);
}

/// A ─ R1 ─ B and A ─ R2 ─ B, IPv4 and IPv6; B's addresses 10.232.9.9 and fd00:232:9::9 are
/// reached through R1 or R2 depending on A's routes. Returns (namespaces, A's name).
fn routed_topology(tag: &str) -> (Netns, String) {
    let mut net = Netns::new(tag);
    let a = net.add("a");
    let r1 = net.add("r1");
    let r2 = net.add("r2");
    let b = net.add("b");
    // (left ns, left if, right ns, right if, subnet number)
    for (left, left_if, right, right_if, n) in [
        (&a, "v-r1", &r1, "v-a", 1),
        (&r1, "v-b", &b, "v-r1", 2),
        (&a, "v-r2", &r2, "v-a", 3),
        (&r2, "v-b", &b, "v-r2", 4),
    ] {
        net.link(
            left,
            left_if,
            &[&format!("10.232.{n}.1/24"), &format!("fd00:232:{n}::1/64")],
            right,
            right_if,
            &[&format!("10.232.{n}.2/24"), &format!("fd00:232:{n}::2/64")],
        );
    }
    net.exec(&b, &["ip", "addr", "add", "10.232.9.9/32", "dev", "lo"]);
    net.exec(&b, &["ip", "addr", "add", "fd00:232:9::9/128", "dev", "lo"]);
    for r in [&r1, &r2] {
        net.forward(r);
    }
    let routes: [(&str, &[&str]); 8] = [
        (&r1, &["10.232.9.9/32", "via", "10.232.2.2"]),
        (&r2, &["10.232.9.9/32", "via", "10.232.4.2"]),
        (&b, &["10.232.1.0/24", "via", "10.232.2.1"]),
        (&b, &["10.232.3.0/24", "via", "10.232.4.1"]),
        (&r1, &["fd00:232:9::9/128", "via", "fd00:232:2::2"]),
        (&r2, &["fd00:232:9::9/128", "via", "fd00:232:4::2"]),
        (&b, &["fd00:232:1::/64", "via", "fd00:232:2::1"]),
        (&b, &["fd00:232:3::/64", "via", "fd00:232:4::1"]),
    ];
    for (ns, route) in routes {
        let mut args = vec!["ip", "route", "add"];
        args.extend_from_slice(route);
        net.exec(ns, &args);
    }
    set_route(&net, &a, 1);
    (net, a)
}

/// Points A's routes to B through router `n` (1 or 2).
fn set_route(net: &Netns, a: &str, n: u8) {
    let (v4, v6) = if n == 1 {
        ("10.232.1.2", "fd00:232:1::2")
    } else {
        ("10.232.3.2", "fd00:232:3::2")
    };
    net.exec(a, &["ip", "route", "replace", "10.232.9.9/32", "via", v4]);
    net.exec(
        a,
        &[
            "ip",
            "-6",
            "route",
            "replace",
            "fd00:232:9::9/128",
            "via",
            v6,
        ],
    );
}

/// The responders of `target`'s hops in hop order, from `trace_hop_info` lines.
fn route_of(out: &str, target: &str) -> Vec<String> {
    let label = |line: &str, k: &str| -> String {
        line.split(&format!("{k}=\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    let mut hops: Vec<(u32, String)> = out
        .lines()
        .filter(|l| l.starts_with("trace_hop_info{") && label(l, "target") == target)
        .map(|l| (label(l, "hop").parse().unwrap_or(0), label(l, "responder")))
        .collect();
    hops.sort();
    hops.into_iter().map(|(_, r)| r).collect()
}

#[test]
fn trace_shows_each_hop_and_the_new_route_after_a_change() {
    let (net, a) = routed_topology("trace");
    let dir = tempfile::tempdir().expect("tempdir");
    // 3 s per hop: the first packet to a new IPv6 neighbour waits about 1 s for neighbour
    // discovery, at every router.
    let config = write(
        dir.path(),
        "agent.toml",
        "host = \"net-test\"\n[[probe]]\ntype = \"trace\"\ninterval = \"10s\"\nmax_hops = 8\n\
         timeout = \"3s\"\ntargets = [\"10.232.9.9\", \"fd00:232:9::9\", \"10.232.1.2\"]\n",
    );
    let out = agent_once(&net, &a, &config);
    for target in ["10.232.9.9", "fd00:232:9::9"] {
        assert_eq!(
            sample(&out, "trace_reached", &[("target", target)]),
            Some(1.0),
            "{out}"
        );
        // R1, then B itself.
        assert_eq!(
            sample(&out, "trace_hops", &[("target", target)]),
            Some(2.0),
            "{out}"
        );
        assert_eq!(
            sample(&out, "trace_path_changed", &[("target", target)]),
            Some(0.0)
        );
    }
    assert_eq!(
        route_of(&out, "10.232.9.9"),
        ["10.232.1.2", "10.232.9.9"],
        "{out}"
    );
    assert_eq!(
        route_of(&out, "fd00:232:9::9"),
        ["fd00:232:1::2", "fd00:232:9::9"],
        "{out}"
    );
    // The directly connected router is one hop away.
    assert_eq!(route_of(&out, "10.232.1.2"), ["10.232.1.2"], "{out}");

    set_route(&net, &a, 2);
    let out = agent_once(&net, &a, &config);
    assert_eq!(
        route_of(&out, "10.232.9.9"),
        ["10.232.3.2", "10.232.9.9"],
        "{out}"
    );
    assert_eq!(
        route_of(&out, "fd00:232:9::9"),
        ["fd00:232:3::2", "fd00:232:9::9"],
        "{out}"
    );
}

#[test]
fn shipped_rules_open_incidents_for_a_dead_target_loss_and_a_route_change() {
    let (mut net, a) = routed_topology("rules");
    let lossy = net.add("lossy");
    net.link(
        &a,
        "v-lossy",
        &["10.232.5.1/24"],
        &lossy,
        "v-a",
        &["10.232.5.2/24"],
    );
    net.induce_loss(&lossy, "v-a");

    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/default");
    for entry in std::fs::read_dir(&shipped).expect("rules/default") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, rules.join(path.file_name().expect("name"))).expect("copy rule");
    }
    // Test-only rule: its incident says the agent's first trace reached the collector, so the
    // probe holds a first path to compare the moved route with.
    std::fs::write(
        rules.join("test-trace-seen.toml"),
        "[[rule]]\nname = \"test_trace_reached\"\nexpr = 'trace_reached == 1'\nseverity = \"P4\"\nsummary = \"traced {{target}}\"\n",
    )
    .expect("write test rule");
    let (_collector, grpc) = collector_in(&net, &a, &rules, &dir.path().join("data"));
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            r#"agent_id = "net-agent"
state_dir = {state:?}
host = "net-host"
[collector]
address = "http://{grpc}"
[[probe]]
type = "ping"
interval = "2s"
count = 10
spacing = "50ms"
timeout = "500ms"
targets = ["10.232.9.9", "10.232.5.2", "10.232.1.99"]
[[probe]]
type = "trace"
interval = "2s"
max_hops = 8
timeout = "500ms"
targets = ["10.232.9.9"]
"#,
            state = dir.path().join("agent-state"),
        ),
    );
    let mut agent_cmd = net.command(&a, &binary("patrol-agent"));
    agent_cmd.args(["--config", &config]);
    let _agent = Proc::spawn_command("patrol-agent", agent_cmd);
    let mut tail_cmd = net.command(&a, &binary("patrolctl"));
    tail_cmd.args(["--collector", &format!("http://{grpc}"), "tail", "--json"]);
    let tail = Proc::spawn_command("patrolctl", tail_cmd);

    // Incidents as (rule, target, severity), gathered from the stream in any order.
    let incident = |l: &str| -> Option<(String, String, String)> {
        let v: Value = serde_json::from_str(l).ok()?;
        if !matches!(v["kind"].as_str(), Some("opened" | "snapshot")) {
            return None;
        }
        let i = &v["incident"];
        Some((
            i["rule"].as_str()?.to_owned(),
            i["labels"]["target"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            i["severity"].as_str()?.to_owned(),
        ))
    };
    let mut seen = Vec::new();
    let wanted = [
        ("ping_target_unreachable", "10.232.1.99", "P1"),
        ("ping_loss_high", "10.232.5.2", "P2"),
        ("test_trace_reached", "10.232.9.9", "P4"),
    ];
    tail.wait_line(Duration::from_secs(60), |l| {
        seen.extend(incident(l));
        wanted
            .iter()
            .all(|(r, t, sev)| {
                seen.iter()
                    .any(|s| (s.0.as_str(), s.1.as_str(), s.2.as_str()) == (*r, *t, *sev))
            })
            .then_some(())
    });
    assert!(
        !seen.iter().any(|s| s.0 == "trace_path_changed"),
        "before any change: {seen:?}"
    );
    // A reachable target without loss opens nothing.
    assert!(
        !seen
            .iter()
            .any(|s| s.1 == "10.232.9.9" && s.0.starts_with("ping_")),
        "{seen:?}"
    );

    // The first route has been traced (test_trace_reached opened): move the route.
    net.exec(
        &a,
        &[
            "ip",
            "route",
            "replace",
            "10.232.9.9/32",
            "via",
            "10.232.3.2",
        ],
    );
    tail.wait_line(Duration::from_secs(60), |l| {
        incident(l).filter(|i| {
            (i.0.as_str(), i.1.as_str(), i.2.as_str()) == ("trace_path_changed", "10.232.9.9", "P4")
        })
    });
}

#[test]
fn sockets_probe_sees_a_listener_and_its_connection_in_a_namespace() {
    let mut net = Netns::new("sock");
    let ns = net.add("host");
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    // The collector is the listener: a real server with a port the kernel picked.
    let (_collector, grpc) = collector_in(&net, &ns, &rules, &dir.path().join("data"));
    let port = grpc.rsplit(':').next().expect("port").to_owned();
    // One client connection held open.
    let mut tail_cmd = net.command(&ns, &binary("patrolctl"));
    tail_cmd.args(["--collector", &format!("http://{grpc}"), "tail", "--json"]);
    let _tail = Proc::spawn_command("patrolctl", tail_cmd);

    let config = write(
        dir.path(),
        "agent.toml",
        &format!("[[probe]]\ntype = \"sockets\"\nlisten_ports = [{port}, 1521]\n"),
    );
    // patrolctl connects shortly after it starts; until then there is no connection to see.
    // A sock_diag dump is not a snapshot: one taken during the handshake can see the server
    // side established and the client side still in syn-sent, so wait for both ends.
    let mut out = String::new();
    let connected = support::procs::eventually(Duration::from_secs(20), || {
        out = agent_once(&net, &ns, &config);
        sample(&out, "tcp_established_connections", &[("port", &port)]) == Some(1.0)
            && sample(&out, "tcp_connections", &[("state", "established")])
                .is_some_and(|n| n >= 2.0)
    });
    assert!(connected, "patrolctl's connection never showed:\n{out}");
    assert_eq!(
        sample(&out, "tcp_listen_up", &[("port", &port)]),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "tcp_listen_up", &[("port", "1521")]),
        Some(0.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "tcp_established_connections", &[("port", &port)]),
        Some(1.0),
        "{out}"
    );
    // Both ends of the connection are in this namespace.
    assert!(
        sample(&out, "tcp_connections", &[("state", "established")]).is_some_and(|n| n >= 2.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "tcp_connections", &[("state", "listen")]),
        Some(2.0),
        "{out}"
    );
}

#[test]
fn ping_without_the_capability_names_the_fix() {
    let mut net = Netns::new("cap");
    let ns = net.add("host");
    // A fresh namespace allows no group unprivileged ICMP sockets (ping_group_range "1 0"),
    // so an unprivileged agent has neither a datagram nor a raw ICMP socket.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "agent.toml",
        "[[probe]]\ntype = \"ping\"\ncount = 1\ntargets = [\"127.0.0.1\"]\n",
    );
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    // A copy the unprivileged user can reach, whatever the permissions of the build tree.
    let agent = dir.path().join("patrol-agent");
    std::fs::copy(binary("patrol-agent"), &agent).expect("copy the agent");
    let agent = agent.to_str().expect("utf-8");
    let (code, out, err) = net.run(
        &ns,
        Path::new("setpriv"),
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            agent,
            "--config",
            &config,
            "--once",
        ],
    );
    let all = format!("{out}{err}");
    assert!(all.contains("setcap cap_net_raw+ep"), "exit {code}: {all}");
    assert!(all.contains("AmbientCapabilities=CAP_NET_RAW"), "{all}");
    assert_eq!(
        sample(&out, "patrol_probe_up", &[("probe", "ping")]),
        Some(0.0),
        "{all}"
    );
}

#[test]
fn packaged_examples_pass_the_agent_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/examples");
    for probe in ["ping", "trace", "sockets", "hwmon", "mdstat"] {
        let path = dir.join(format!("agent-{probe}.toml"));
        let path = path.to_str().expect("utf-8");
        let (code, out, err) = support::procs::run("patrol-agent", &["--config", path, "--check"]);
        assert_eq!(code, 0, "{path}: {out}{err}");
        assert!(out.contains("ok (1 probes)"), "{path}: {out}");
    }
    // A section that parses but fails the probe's own checks is refused by --check too.
    let bad = tempfile::tempdir().expect("tempdir");
    let config = write(
        bad.path(),
        "agent.toml",
        "[[probe]]\ntype = \"trace\"\ntargets = [\"bad name\"]\nmax_hops = 0\n",
    );
    let (code, _, err) = support::procs::run("patrol-agent", &["--config", &config, "--check"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("targets[0]") && err.contains("max_hops"),
        "{err}"
    );
}

#[test]
fn hwmon_and_mdstat_read_fixture_trees_through_the_agent() {
    let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../probes");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "agent.toml",
        &format!(
            "[[probe]]\ntype = \"hwmon\"\nroot = \"{}\"\n[[probe]]\ntype = \"mdstat\"\npath = \"{}\"\n",
            probes.join("tests/fixtures/hwmon/machine").display(),
            probes.join("src/mdstat/testdata/mixed.txt").display()
        ),
    );
    let (code, out, err) = support::procs::run("patrol-agent", &["--config", &config, "--once"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        sample(
            &out,
            "hw_temperature_critical",
            &[("sensor", "coretemp/Core 0")]
        ),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "hw_fan_ok", &[("fan", "nct6775/fan1")]),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "hw_fan_ok", &[("fan", "nct6775/fan2")]),
        Some(0.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "raid_degraded", &[("array", "md2")]),
        Some(1.0),
        "{out}"
    );
    assert_eq!(
        sample(&out, "raid_degraded", &[("array", "md4")]),
        Some(0.0),
        "{out}"
    );
    // The agent adds the catalog's help text for every new metric.
    assert!(out.contains("# HELP hw_fan_ok "), "{out}");
    assert!(out.contains("# HELP raid_degraded "), "{out}");
}
