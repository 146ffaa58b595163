//! Real SNMP peers for tests: snmpsim serving a recording, net-snmp's snmpd with a v3 user,
//! and net-snmp's command-line tools as the oracle. Each peer runs on a free loopback port
//! with its own temp directory and is killed when dropped. A missing tool is a failure that
//! says how to install it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CISCO_RECORDING: &str = "/usr/share/doc/snmpsim/examples/data/cisco_16_switch.snmprec.gz";
/// snmpsim serves a recording under the community named after its file.
pub const CISCO_COMMUNITY: &str = "cisco_16_switch";

fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
        || Path::new("/usr/sbin").join(tool).is_file();
    assert!(
        found,
        "{tool} not found: install the Debian package {package} (scripts/setup.sh does it)"
    );
}

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback UDP port")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A child process killed (and reaped) on drop.
pub struct Peer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    log: PathBuf,
}

impl Peer {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// snmpsim serving the Cisco Catalyst 3750 recording it ships, on a free port.
pub fn start_snmpsim() -> Peer {
    assert!(
        Path::new(CISCO_RECORDING).is_file(),
        "{CISCO_RECORDING} missing: install the Debian package snmpsim"
    );
    let unzipped = Command::new("zcat")
        .arg(CISCO_RECORDING)
        .output()
        .expect("zcat runs");
    assert!(unzipped.status.success(), "zcat {CISCO_RECORDING} failed");
    let text = String::from_utf8(unzipped.stdout).expect("the recording is text");
    start_snmpsim_serving(&[(CISCO_COMMUNITY, text)])
}

/// snmpsim serving each `(community, .snmprec text)` on one free port: a device per
/// community, as snmpsim names a recording's community after its file.
pub fn start_snmpsim_serving(recordings: &[(&str, String)]) -> Peer {
    require("snmpsimd", "snmpsim");
    require("snmpget", "snmp");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::create_dir_all(&cache).expect("cache dir");
    // snmpsimd refuses to run as root and drops to nobody, who must read the data and
    // write the index cache.
    chmod(dir.path(), 0o755);
    chmod(&data, 0o755);
    chmod(&cache, 0o777);
    for (community, text) in recordings {
        let file = data.join(format!("{community}.snmprec"));
        std::fs::write(&file, text).expect("write recording");
        chmod(&file, 0o644);
    }
    let port = free_udp_port();
    let log = dir.path().join("snmpsim.log");
    let mut cmd = Command::new("snmpsimd");
    cmd.arg(format!("--data-dir={}", data.display()))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg(format!("--agent-udpv4-endpoint=127.0.0.1:{port}"))
        .arg("--logging-method=null");
    if is_root() {
        cmd.args(["--process-user=nobody", "--process-group=nogroup"]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("snmpsimd starts");
    let peer = Peer {
        child,
        port,
        dir,
        log,
    };
    for (community, _) in recordings {
        wait_until_answers(&peer, &["-v2c", "-c", community]);
    }
    peer
}

/// The authNoPriv (SHA) user [`start_snmpd`] creates beside the authPriv one; it has the
/// same authentication password.
pub const AUTH_ONLY_USER: &str = "patrolauth";

/// net-snmp's snmpd on a free port with a v3 authPriv user (SHA + AES), an authNoPriv user
/// ([`AUTH_ONLY_USER`], SHA) and a v2c community, configured and persisted entirely in a
/// temp directory.
pub fn start_snmpd(user: &str, auth: &str, privacy: &str) -> Peer {
    require("snmpd", "snmpd");
    require("snmpget", "snmp");
    let dir = tempfile::tempdir().expect("temp dir");
    let persist = dir.path().join("persist");
    std::fs::create_dir_all(&persist).expect("persist dir");
    let port = free_udp_port();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!(
            "agentAddress udp:127.0.0.1:{port}\n\
             createUser {user} SHA \"{auth}\" AES \"{privacy}\"\n\
             rouser {user} priv\n\
             createUser {AUTH_ONLY_USER} SHA \"{auth}\"\n\
             rouser {AUTH_ONLY_USER} auth\n\
             rocommunity patrolro 127.0.0.1\n"
        ),
    )
    .expect("write snmpd.conf");
    let log = dir.path().join("snmpd.log");
    let child = Command::new("snmpd")
        .args(["-f", "-Lf"])
        .arg(&log)
        .args(["-C", "-c"])
        .arg(&conf)
        .arg("-p")
        .arg(dir.path().join("snmpd.pid"))
        .env("SNMP_PERSISTENT_DIR", &persist)
        .env("MIBS", "")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("snmpd starts");
    let peer = Peer {
        child,
        port,
        dir,
        log,
    };
    wait_until_answers(&peer, &["-v2c", "-c", "patrolro"]);
    peer
}

fn wait_until_answers(peer: &Peer, auth: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let ok = Command::new("snmpget")
            .args(auth)
            .args(["-m", "", "-On", "-t", "1", "-r", "0"])
            .arg(peer.address())
            .arg("1.3.6.1.2.1.1.3.0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "SNMP peer on {} did not answer within 90 s; its log:\n{}",
            peer.address(),
            peer.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A value as net-snmp prints it with `-On -Ox`, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum NetSnmpValue {
    Number(f64),
    Bytes(Vec<u8>),
    Other(String),
}

impl NetSnmpValue {
    pub fn number(&self) -> f64 {
        match self {
            Self::Number(n) => *n,
            other => panic!("not a number: {other:?}"),
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Self::Bytes(b) => b.clone(),
            Self::Other(s) => s.clone().into_bytes(),
            other => panic!("not a string: {other:?}"),
        }
    }
}

fn decode(kind: &str, text: &str) -> NetSnmpValue {
    let text = text.trim();
    match kind {
        "INTEGER" | "Counter32" | "Counter64" | "Gauge32" | "Unsigned32" => {
            NetSnmpValue::Number(text.parse().unwrap_or_else(|_| panic!("number {text:?}")))
        }
        "Timeticks" => {
            let ticks = text
                .trim_start_matches('(')
                .split(')')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("timeticks {text:?}"));
            NetSnmpValue::Number(ticks)
        }
        "Hex-STRING" => NetSnmpValue::Bytes(
            text.split_whitespace()
                .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
                .collect(),
        ),
        "STRING" => NetSnmpValue::Bytes(text.trim_matches('"').as_bytes().to_vec()),
        _ => NetSnmpValue::Other(text.to_owned()),
    }
}

/// Parses `snmpbulkwalk -On -Ox` output (values can span lines) into OID → value.
pub fn parse_net_snmp(output: &str) -> BTreeMap<String, NetSnmpValue> {
    let mut entries: Vec<(String, String, String)> = Vec::new();
    for line in output.lines() {
        if let Some((oid, rest)) = line.split_once(" = ").filter(|(o, _)| o.starts_with('.')) {
            let (kind, value) = rest.split_once(": ").unwrap_or((rest, ""));
            entries.push((oid[1..].to_owned(), kind.to_owned(), value.to_owned()));
        } else if let Some(last) = entries.last_mut() {
            last.2.push('\n');
            last.2.push_str(line);
        }
    }
    entries
        .into_iter()
        .filter(|(_, kind, _)| !kind.starts_with("No Such") && !kind.starts_with("No more"))
        .map(|(oid, kind, value)| (oid, decode(&kind, &value)))
        .collect()
}

/// Runs `snmpbulkwalk` (or `snmpget` for a `.0` scalar) numerically, MIBs off, octet strings
/// in hex.
pub fn net_snmp(
    tool: &str,
    auth: &[&str],
    address: &str,
    oid: &str,
) -> BTreeMap<String, NetSnmpValue> {
    let output = Command::new(tool)
        .args(auth)
        .args(["-m", "", "-On", "-Ox", "-t", "2", "-r", "1"])
        .arg(address)
        .arg(oid)
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
    assert!(
        output.status.success(),
        "{tool} {oid} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    parse_net_snmp(&String::from_utf8_lossy(&output.stdout))
}

/// Index suffix of `oid` under `column` (`"1.3.6.1.2.1.2.2.1.8.10101"` → `"10101"`).
pub fn index_of<'a>(oid: &'a str, column: &str) -> &'a str {
    oid.strip_prefix(column)
        .and_then(|s| s.strip_prefix('.'))
        .unwrap_or_else(|| panic!("{oid} is not under {column}"))
}
