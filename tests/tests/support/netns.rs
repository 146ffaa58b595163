//! Network namespaces for the network-probe tests: uniquely named, wired with veth pairs,
//! always deleted when the guard drops. Needs root and iproute2 (`ip`, `tc`); nftables (`nft`)
//! when the kernel has no netem. Missing tools or privileges fail the test with the fix.

use std::path::Path;
use std::process::Command;

/// Runs a command and returns its stdout, failing the test with its stderr when it fails.
pub fn sh(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}. Install it with scripts/setup.sh \
             (Debian packages iproute2 and nftables)"
            )
        });
    assert!(
        out.status.success(),
        "{program} {} failed: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr),
        if String::from_utf8_lossy(&out.stderr).contains("Operation not permitted") {
            " (network namespace tests need root: run the tests as root, as CI does)"
        } else {
            ""
        }
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How loss was induced on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// `tc qdisc ... netem loss 50%`: random, half the packets on average.
    Netem,
    /// nftables dropping every second echo request: exactly half.
    NftEverySecond,
}

/// A set of namespaces belonging to one test.
pub struct Netns {
    prefix: String,
    created: Vec<String>,
}

impl Netns {
    /// `tag` keeps the namespaces of tests running at the same time apart.
    pub fn new(tag: &str) -> Self {
        Self {
            prefix: format!("patrol-{}-{tag}", std::process::id()),
            created: Vec::new(),
        }
    }

    /// Creates namespace `short` with its loopback up and returns its full name.
    pub fn add(&mut self, short: &str) -> String {
        let name = format!("{}-{short}", self.prefix);
        sh("ip", &["netns", "add", &name]);
        self.created.push(name.clone());
        self.exec(&name, &["ip", "link", "set", "lo", "up"]);
        // Without duplicate address detection a new interface's IPv6 addresses (link-local
        // ones included) work at once; with it, the first second of traffic waits on it.
        for key in ["all", "default"] {
            let setting = format!("net.ipv6.conf.{key}.accept_dad=0");
            self.exec(&name, &["sysctl", "-q", "-w", &setting]);
        }
        name
    }

    /// Runs a command inside namespace `ns`.
    pub fn exec(&self, ns: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        sh("ip", &full)
    }

    /// A veth pair: `a_if` in `a` with addresses `a_addrs`, `b_if` in `b` with `b_addrs`
    /// (CIDR, IPv4 or IPv6; IPv6 without duplicate address detection so it works at once).
    pub fn link(
        &self,
        a: &str,
        a_if: &str,
        a_addrs: &[&str],
        b: &str,
        b_if: &str,
        b_addrs: &[&str],
    ) {
        sh(
            "ip",
            &[
                "link", "add", a_if, "netns", a, "type", "veth", "peer", "name", b_if, "netns", b,
            ],
        );
        for (ns, ifname, addrs) in [(a, a_if, a_addrs), (b, b_if, b_addrs)] {
            for addr in addrs {
                if addr.contains(':') {
                    self.exec(ns, &["ip", "addr", "add", addr, "dev", ifname, "nodad"]);
                } else {
                    self.exec(ns, &["ip", "addr", "add", addr, "dev", ifname]);
                }
            }
            self.exec(ns, &["ip", "link", "set", ifname, "up"]);
        }
    }

    /// Lets `ns` forward packets between its interfaces (a router).
    pub fn forward(&self, ns: &str) {
        self.exec(ns, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
        self.exec(
            ns,
            &["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"],
        );
    }

    /// Drops about half the packets leaving `ns` through `ifname` with netem; where the
    /// kernel has no netem, drops every second echo request arriving in `ns` with nftables.
    pub fn induce_loss(&self, ns: &str, ifname: &str) -> Loss {
        let netem = Command::new("ip")
            .args([
                "netns", "exec", ns, "tc", "qdisc", "add", "dev", ifname, "root", "netem",
            ])
            .args(["loss", "50%"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run tc: {e}; install iproute2 (scripts/setup.sh)"));
        if netem.status.success() {
            return Loss::Netem;
        }
        eprintln!(
            "NOTE: tc netem is not available here ({}); this kernel lacks sch_netem \
             (CONFIG_NET_SCH_NETEM). Inducing loss with nftables instead (every second echo \
             request dropped).",
            String::from_utf8_lossy(&netem.stderr).trim()
        );
        self.exec(ns, &["nft", "add", "table", "inet", "patrol_loss"]);
        self.exec(
            ns,
            &[
                "nft",
                "add",
                "chain",
                "inet",
                "patrol_loss",
                "input",
                "{ type filter hook input priority 0 ; }",
            ],
        );
        self.exec(
            ns,
            &[
                "nft",
                "add",
                "rule",
                "inet",
                "patrol_loss",
                "input",
                "meta",
                "l4proto",
                "{ icmp, ipv6-icmp }",
                "numgen",
                "inc",
                "mod",
                "2",
                "==",
                "1",
                "drop",
            ],
        );
        Loss::NftEverySecond
    }

    /// Runs `binary args...` inside `ns` to completion: (exit code, stdout, stderr).
    pub fn run(&self, ns: &str, binary: &Path, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(binary)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap_or_else(|e| panic!("cannot run ip netns exec: {e}; install iproute2"));
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// A command that runs `binary` inside `ns`, for [`super::procs::Proc::spawn_command`].
    pub fn command(&self, ns: &str, binary: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns])
            .arg(binary)
            .env("NO_COLOR", "1");
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace removes its veth ends, and with them their peers.
        for ns in self.created.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// The value of the sample `name` whose labels include every `(label, value)` in `want`, in
/// Prometheus text output (`patrol-agent --once`).
pub fn sample(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .find(|l| {
            want.iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}
