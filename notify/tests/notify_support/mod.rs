//! Shared by the notification channel tests: real peers (mosquitto, aiosmtpd) started on free
//! loopback ports and stopped when dropped, and sample messages.
//!
//! A missing peer is a test failure that says how to install it (scripts/setup.sh does).

#![allow(dead_code)] // each test file uses a part

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use patrol_notify::{Message, Payload};

/// A port that was free a moment ago.
/// Writes a secret file only its owner can read, as every binary requires of secret files.
pub fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write secret");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod secret");
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// The first of `candidates` that exists, or a failure naming the package to install.
pub fn tool(candidates: &[&str], package: &str) -> PathBuf {
    for c in candidates {
        let p = Path::new(c);
        if p.exists() {
            return p.to_path_buf();
        }
    }
    panic!(
        "{} is not installed: run `apt-get install {package}` (scripts/setup.sh installs it)",
        candidates[0]
    );
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_listening(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited ({status}) before listening on port {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on port {port} within 20 s");
}

/// A child process killed when dropped.
pub struct Peer {
    pub child: Child,
    pub port: u16,
    pub name: &'static str,
}

impl Peer {
    /// Sends `signal` (`-STOP`, `-CONT`) to the peer.
    pub fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {signal} {} failed", self.name);
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // A test that failed while the peer was frozen (SIGSTOP) must not leave it frozen.
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .args(["-CONT", &self.child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// mosquitto on `port` (anonymous, no persistence).
pub fn mosquitto(dir: &Path, port: u16) -> Peer {
    mosquitto_with(dir, port, "allow_anonymous true\n")
}

/// mosquitto on `port` with `extra` configuration lines for its listener (TLS files,
/// password file, anonymous access).
pub fn mosquitto_with(dir: &Path, port: u16, extra: &str) -> Peer {
    let bin = tool(
        &["/usr/sbin/mosquitto", "/usr/bin/mosquitto"],
        "mosquitto mosquitto-clients",
    );
    let conf = dir.join(format!("mosquitto-{port}.conf"));
    std::fs::write(
        &conf,
        // `user root`: started as root (CI), mosquitto would otherwise switch to its own user
        // and lose access to the test's private temporary files; ignored when not root.
        format!("user root\npersistence false\nlistener {port} 127.0.0.1\n{extra}"),
    )
    .expect("write mosquitto.conf");
    let mut child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mosquitto");
    wait_listening(port, "mosquitto", &mut child);
    Peer {
        child,
        port,
        name: "mosquitto",
    }
}

/// Runs `mosquitto_sub` on `topic` until it has `count` messages or `secs` seconds pass;
/// returns the `(topic, payload)` pairs it printed.
pub fn mosquitto_sub(port: u16, topic: &str, count: usize, secs: u32) -> Vec<(String, String)> {
    Subscriber::start(port, topic, count, secs).collect()
}

/// A subscriber started now, collected later. `start` returns once the broker has confirmed
/// the subscription (its SUBACK, seen in mosquitto_sub's debug output), so everything
/// published after it is seen, with no guessing at a delay.
pub struct Subscriber {
    child: Child,
    lines: std::thread::JoinHandle<Vec<String>>,
}

impl Subscriber {
    pub fn start(port: u16, topic: &str, count: usize, secs: u32) -> Subscriber {
        let bin = tool(&["/usr/bin/mosquitto_sub"], "mosquitto-clients");
        // Line-buffered (coreutils' stdbuf): mosquitto_sub's stdio would hold the SUBACK line
        // in its pipe buffer until it exits.
        let mut child = Command::new(tool(&["/usr/bin/stdbuf"], "coreutils"))
            .arg("-oL")
            .arg(bin)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-q",
                "1",
                "-t",
                topic,
                // Debug lines on stdout: the SUBACK tells when the subscription is in place.
                "-d",
            ])
            .args(["-C", &count.to_string(), "-W", &secs.to_string()])
            // Topic, a tab, the payload, one per line (our payloads are single-line JSON; the
            // debug lines have no tab).
            .args(["-F", "%t\t%p"])
            .stdout(Stdio::piped())
            // `-W` ending the wait prints "Timed out": expected, not worth showing.
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto_sub");
        let stdout = child.stdout.take().expect("stdout piped");
        let (subscribed, wait) = std::sync::mpsc::channel();
        let lines = std::thread::spawn(move || {
            let mut out = Vec::new();
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if line.contains('\t') {
                    out.push(line);
                } else if line.contains("SUBACK") {
                    let _ = subscribed.send(());
                }
            }
            out
        });
        wait.recv_timeout(Duration::from_secs(20))
            .expect("mosquitto_sub subscribed (SUBACK) within 20 s");
        Subscriber { child, lines }
    }

    pub fn collect(mut self) -> Vec<(String, String)> {
        let _ = self.child.wait();
        self.lines
            .join()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let (t, p) = l.split_once('\t').unwrap_or((l, ""));
                (t.to_owned(), p.to_owned())
            })
            .collect()
    }
}

/// How an aiosmtpd test server speaks TLS: `(cert, key)` files for STARTTLS or for implicit
/// TLS (SMTPS, port 465 style).
#[derive(Clone, Copy)]
pub enum SmtpTls<'a> {
    None,
    StartTls(&'a Path, &'a Path),
    Implicit(&'a Path, &'a Path),
}

/// The system interpreter with python3-aiosmtpd, or a failure saying how to install it.
fn python_with_aiosmtpd() -> PathBuf {
    // Debian's module lives in the system interpreter, not in a user's pyenv or venv.
    let python = tool(&["/usr/bin/python3"], "python3 python3-aiosmtpd");
    let probe = Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        probe,
        "python3-aiosmtpd is not installed: run `apt-get install python3-aiosmtpd` (scripts/setup.sh installs it)"
    );
    python
}

/// aiosmtpd (Debian python3-aiosmtpd) on `port`, storing each message in `maildir`/new.
pub fn aiosmtpd(maildir: &Path, port: u16, tls: SmtpTls<'_>) -> Peer {
    let mut cmd = Command::new(python_with_aiosmtpd());
    cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
    match tls {
        SmtpTls::None => {}
        SmtpTls::StartTls(cert, key) => {
            cmd.arg("--tlscert").arg(cert).arg("--tlskey").arg(key);
        }
        SmtpTls::Implicit(cert, key) => {
            cmd.arg("--smtpscert").arg(cert).arg("--smtpskey").arg(key);
        }
    }
    cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(maildir);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    wait_listening(port, "aiosmtpd", &mut child);
    Peer {
        child,
        port,
        name: "aiosmtpd",
    }
}

/// aiosmtpd requiring AUTH as `user`/`password` (notify_support/smtp_auth.py).
pub fn aiosmtpd_auth(maildir: &Path, port: u16, user: &str, password: &str) -> Peer {
    let python = python_with_aiosmtpd();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify_support/smtp_auth.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .arg(maildir)
        .args([user, password])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // It warns (rightly, but this is a loopback test peer) that AUTH without TLS is unsafe.
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd (smtp_auth.py)");
    wait_listening(port, "aiosmtpd with AUTH", &mut child);
    Peer {
        child,
        port,
        name: "aiosmtpd",
    }
}

/// A private CA and a server certificate for 127.0.0.1 signed by it, written to `dir` as
/// `ca.crt`, `server.crt`, `server.key`; returns those paths.
pub fn private_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Patrol test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    params.distinguished_name.push(DnType::CommonName, "server");
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server cert");
    let paths = (
        dir.join("ca.crt"),
        dir.join("server.crt"),
        dir.join("server.key"),
    );
    std::fs::write(&paths.0, ca.pem()).expect("write ca.crt");
    std::fs::write(&paths.1, cert.pem()).expect("write server.crt");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write server.key");
    paths
}

/// The sample message, with an incident id and state of our choosing.
pub fn message(event_id: u64, incident_id: u64, kind: &str, state: &str) -> Message {
    let mut p = Payload::sample("hq");
    p.event_id = event_id;
    p.incident_id = incident_id;
    p.kind = kind.to_owned();
    p.state = state.to_owned();
    Message::new(p)
}

/// The checked channel `name` of a site file.
pub fn channel_config(site_toml: &str, name: &str) -> patrol_notify::ChannelConfig {
    let site = patrol_site::parse_site("site.toml", site_toml)
        .unwrap_or_else(|e| panic!("site file: {e:#?}"));
    site.notify
        .channels
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("no channel {name}"))
}

/// An HTTPS webhook receiver requiring basic auth as `user`/`password`
/// (notify_support/https_receiver.py, on the system python3), appending each accepted request
/// to `log` as a JSON line.
pub fn https_receiver(
    port: u16,
    (cert, key): (&Path, &Path),
    (user, password): (&str, &str),
    log: &Path,
) -> Peer {
    let python = tool(&["/usr/bin/python3"], "python3");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notify_support/https_receiver.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .args([cert, key])
        .args([user, password])
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start https_receiver.py");
    wait_listening(port, "the HTTPS receiver", &mut child);
    Peer {
        child,
        port,
        name: "https_receiver",
    }
}
