//! A daemon under test whose stderr (its log) and stdout are both read line by line, which can
//! be sent signals (SIGHUP to reload, SIGTERM to stop gracefully) and waited for.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::procs::binary;

pub struct Daemon {
    pub name: String,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far (stdout and stderr interleaved as they arrived).
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts workspace binary `name` with `args`; `PATROL_LOG` sets its log filter.
    pub fn spawn(name: &str, args: &[&str], log_filter: &str) -> Daemon {
        let mut child = Command::new(binary(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .env("PATROL_LOG", log_filter)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("stdout piped");
        let err = child.stderr.take().expect("stderr piped");
        for pipe in [
            Box::new(out) as Box<dyn std::io::Read + Send>,
            Box::new(err),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Daemon {
            name: name.to_owned(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// `patrol-agent --config FILE` logging every queued batch (debug) so a test can account
    /// for each one.
    pub fn agent(config: &Path) -> Daemon {
        Self::spawn(
            "patrol-agent",
            &["--config", config.to_str().expect("utf-8 path")],
            "info,patrol_agent=debug",
        )
    }

    /// Waits for the first new line `pick` accepts, failing after `within` with what was seen.
    pub fn wait_line<T>(&mut self, within: Duration, mut pick: impl FnMut(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let v = pick(&line);
                    self.seen.push(line);
                    if let Some(v) = v {
                        return v;
                    }
                }
                Err(_) => panic!(
                    "{}: no matching line within {within:?}; last lines:\n{}",
                    self.name,
                    self.tail(40)
                ),
            }
        }
    }

    /// Reads whatever lines have arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
    }

    pub fn tail(&self, n: usize) -> String {
        let from = self.seen.len().saturating_sub(n);
        self.seen[from..].join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`HUP`, `TERM`, ...) with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -s {signal} {} failed", self.pid());
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits (up to `within`) for the exit; returns the status with every line
    /// read to the end.
    pub fn stop(&mut self, within: Duration) -> ExitStatus {
        self.signal("TERM");
        self.wait_exit(within)
    }

    /// Waits (up to `within`) for the process to exit by itself; returns the status with
    /// every line read to the end.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                // The pipes close with the process: read them to the end.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {within:?}; last lines:\n{}",
                self.name,
                self.tail(40)
            );
            // Waiting on the exit of a child has no event to wait on without a signal handler
            // of our own; the lines it prints are read meanwhile.
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(50)) {
                self.seen.push(line);
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of `key=value` in a log line (tracing's text format), unquoted.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))?;
    let rest = &line[at + key.len() + 2..];
    let end = rest.find(' ').unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

/// `field` parsed as a number.
pub fn num(line: &str, key: &str) -> Option<u64> {
    field(line, key)?.parse().ok()
}

/// Every `batch queued seq=N points=P` line in `lines`: (seq, points).
pub fn queued_batches(lines: &[String]) -> Vec<(u64, u64)> {
    lines
        .iter()
        .filter(|l| l.contains("batch queued"))
        .filter_map(|l| Some((num(l, "seq")?, num(l, "points")?)))
        .collect()
}
