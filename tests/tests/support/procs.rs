//! Spawning the real binaries and reading their output line by line with deadlines.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of a workspace binary. The binaries are built by the test command
/// (`cargo build --workspace --bins` before `cargo test`); a missing one is a failure that says so.
pub fn binary(name: &str) -> PathBuf {
    // tests run from target/<profile>/deps/<test>-<hash>
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target profile dir")
        .to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins` \
         (the README's test command does this)",
        path.display()
    );
    path
}

/// A child process killed when dropped, with its stdout delivered line by line.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        let mut command = Command::new(binary(name));
        command.args(args);
        Self::spawn_command(name, command)
    }

    /// `patrol-agent --config <config>`.
    pub fn agent(config: &std::path::Path) -> Proc {
        Self::spawn(
            "patrol-agent",
            &["--config", config.to_str().expect("utf-8 config path")],
        )
    }

    /// `patrolctl --collector http://<grpc> tail --json`: the NOC's live incident stream.
    pub fn tail_json(grpc: &str) -> Proc {
        let url = format!("http://{grpc}");
        Self::spawn("patrolctl", &["--collector", &url, "tail", "--json"])
    }

    /// Starts a prepared command (e.g. a binary under `ip netns exec`), named `name` in
    /// failure messages.
    pub fn spawn_command(name: &str, mut command: Command) -> Proc {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("NO_COLOR", "1")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().expect("stdout piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// Waits for the first line that `pick` accepts, failing after `within`.
    pub fn wait_line<T>(&self, within: Duration, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(v) = pick(&line) {
                        return v;
                    }
                    seen.push(line);
                }
                Err(_) => panic!(
                    "{}: no matching line within {within:?}; saw:\n{}",
                    self.name,
                    seen.join("\n")
                ),
            }
        }
    }

    /// The next line if one arrives within `within`.
    pub fn try_line(&self, within: Duration) -> Option<String> {
        self.lines.recv_timeout(within).ok()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a command to completion, returning (status code, stdout, stderr).
pub fn run(name: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary(name))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `patrol-collector` on free loopback ports and returns it with its (grpc, http)
/// addresses.
pub fn collector(rules: &std::path::Path, data: &std::path::Path) -> (Proc, String, String) {
    let p = Proc::spawn(
        "patrol-collector",
        &[
            "--listen",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--rules",
            rules.to_str().expect("utf-8 path"),
            "--data",
            data.to_str().expect("utf-8 path"),
        ],
    );
    let (grpc, http) = p.wait_line(Duration::from_secs(30), |l| {
        let rest = l.strip_prefix("patrol-collector listening ")?;
        let mut grpc = None;
        let mut http = None;
        for part in rest.split_whitespace() {
            if let Some(v) = part.strip_prefix("grpc=") {
                grpc = Some(v.to_owned());
            }
            if let Some(v) = part.strip_prefix("http=") {
                http = Some(v.to_owned());
            }
        }
        Some((grpc?, http?))
    });
    (p, grpc, http)
}

/// Runs `patrolctl --collector URL ARGS...` (a `--json` command) and returns its JSON output;
/// a non-zero exit or output that is not JSON fails the test with what patrolctl said.
pub fn patrolctl_json(url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--collector", url];
    all.extend_from_slice(args);
    let (code, out, err) = run("patrolctl", &all);
    assert_eq!(code, 0, "patrolctl {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("patrolctl {args:?}: {e}: {out}"))
}

/// A free loopback TCP port (bound and released: a fixed port lets a restarted collector
/// keep its address).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Starts `patrol-collector` on gRPC `port` with `dir`/rules, `dir`/data and the site file
/// `dir`/site.toml; returns it with its HTTP address once it listens.
pub fn collector_with_site(dir: &std::path::Path, port: u16) -> (Proc, String) {
    let s = |p: std::path::PathBuf| p.to_str().expect("utf-8 path").to_owned();
    let listen = format!("127.0.0.1:{port}");
    let p = Proc::spawn(
        "patrol-collector",
        &[
            "--listen",
            &listen,
            "--http",
            "127.0.0.1:0",
            "--rules",
            &s(dir.join("rules")),
            "--data",
            &s(dir.join("data")),
            "--site",
            &s(dir.join("site.toml")),
        ],
    );
    let http = p.wait_line(Duration::from_secs(30), |l| {
        l.strip_prefix("patrol-collector listening ")?
            .split_whitespace()
            .find_map(|part| part.strip_prefix("http="))
            .map(str::to_owned)
    });
    (p, http)
}

/// A plain HTTP/1.1 GET on loopback, returning (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

/// The body of an HTTP/1.1 chunked response (servers such as Prometheus send large answers
/// that way).
pub fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` until it returns true or `within` passes. For conditions only visible by
/// asking (a counter on `/metrics`), where there is no event to wait on; the pause between
/// polls keeps the loop from starving the processes under test on a 2-core machine.
pub fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::park_timeout(Duration::from_millis(20));
    }
    check()
}
