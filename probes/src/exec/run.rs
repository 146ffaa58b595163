//! Runs one plugin: its own process group, stdin closed, stdout and stderr read into bounded
//! buffers, the whole group killed when the timeout passes or the output overflows its bound,
//! so a hung or flooding plugin (and whatever it started) never outlives its round.

use std::collections::BTreeMap;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// How a run ended, before the output is interpreted.
#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
}

/// Why the run stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// The plugin exited on its own with this status.
    Exited(ExitStatus),
    /// It could not be started (no such file, not executable ...).
    SpawnFailed(String),
    /// Still running at the timeout: its process group was killed.
    TimedOut,
    /// Wrote more than the bound to stdout or stderr: its process group was killed.
    OutputLimit,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub max_output_bytes: usize,
}

/// Reads until EOF or until more than `limit` bytes came; `true` when the limit was passed.
async fn read_bounded(mut from: impl AsyncRead + Unpin, buf: &mut Vec<u8>, limit: usize) -> bool {
    let mut chunk = [0u8; 8192];
    loop {
        match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                let room = limit.saturating_sub(buf.len());
                buf.extend_from_slice(&chunk[..n.min(room)]);
                if n > room {
                    return true;
                }
            }
        }
    }
}

/// Runs the plugin to its end, its timeout or its output limit.
pub async fn run(spec: &Spec) -> Finished {
    let started = Instant::now();
    let mut finished = Finished {
        ended: Ended::TimedOut,
        stdout: Vec::new(),
        stderr: Vec::new(),
        duration: Duration::ZERO,
    };
    let Some((program, args)) = spec.argv.split_first() else {
        finished.ended = Ended::SpawnFailed("empty command".into());
        return finished;
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so the kill reaches the shell's children too; and a child that
        // outlives an agent shutdown is killed with it.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            finished.ended = Ended::SpawnFailed(format!("{program}: {e}"));
            finished.duration = started.elapsed();
            return finished;
        }
    };
    let group = child.id();
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        finished.ended = Ended::SpawnFailed("no pipes to the plugin".into());
        return finished;
    };
    let limit = spec.max_output_bytes;
    let (stdout, stderr) = (&mut finished.stdout, &mut finished.stderr);
    let work = async {
        // Both pipes at once (a plugin blocked writing stderr must not stall stdout), and the
        // first one over its bound ends the run without waiting for the other.
        let out_read = read_bounded(out, stdout, limit);
        let err_read = read_bounded(err, stderr, limit);
        tokio::pin!(out_read, err_read);
        let (mut out_done, mut err_done) = (false, false);
        while !(out_done && err_done) {
            let over = tokio::select! {
                over = &mut out_read, if !out_done => { out_done = true; over }
                over = &mut err_read, if !err_done => { err_done = true; over }
            };
            if over {
                return Ended::OutputLimit;
            }
        }
        match child.wait().await {
            Ok(status) => Ended::Exited(status),
            Err(e) => Ended::SpawnFailed(format!("waiting for the plugin: {e}")),
        }
    };
    // With a limit passed the readers return at once; kill then, not at the timeout.
    let ended = tokio::time::timeout(spec.timeout, work)
        .await
        .unwrap_or(Ended::TimedOut);
    if matches!(ended, Ended::TimedOut | Ended::OutputLimit) {
        kill_group(group);
        // Reap it so no zombie is left; SIGKILL cannot be ignored, so this is quick.
        let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
    }
    finished.ended = ended;
    finished.duration = started.elapsed();
    finished
}

fn kill_group(group: Option<u32>) {
    let pid = group
        .and_then(|g| i32::try_from(g).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        // ESRCH (all gone already) is the only expected error and needs nothing.
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}
