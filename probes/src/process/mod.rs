//! Process probe (`type = "process"`): processes found by exact name, by a regular expression
//! on the command line, or by a pid file — Oracle's `ora_pmon_<SID>` and friends, the WebLogic
//! JVM. Emits, per `process` (the configured name): `process_up`, `process_count`,
//! `process_cpu_percent`, `process_resident_bytes`, `process_open_fds`,
//! `process_start_time_seconds`, `process_uptime_seconds`. See `README.md` beside this file.
//!
//! Reads `/proc` itself (`procfs.rs`): one pass over the process list per round for all the
//! section's entries, `fd` directories only of the matched processes.

mod procfs;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use patrol_proto::Sample;
use regex::Regex;
use serde::Deserialize;

use crate::sample_out::{Failing, Out, interval_duration};
use crate::{CollectContext, Probe, ProbeError};
use procfs::Proc;

/// Longest `comm` the kernel keeps (TASK_COMM_LEN − 1).
const MAX_COMM: usize = 15;

/// Configuration of one `[[probe]] type = "process"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// How often the processes are looked at. Default `"30s"`; CPU is averaged over it.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The processes to watch, each a `[[probe.process]]`.
    #[serde(rename = "process")]
    pub processes: Vec<MatchConfig>,
    /// Where the proc file system is mounted. Default `"/proc"` (in a container, the host's
    /// proc mounted elsewhere).
    #[serde(default = "default_root")]
    pub proc_root: PathBuf,
}

/// One `[[probe.process]]`: a name and exactly one of `comm`, `cmdline`, `pid_file`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// The `process` label, e.g. `"pmon_ORCL"`.
    pub name: String,
    /// Exact process name as the kernel keeps it (`/proc/PID/comm`, at most 15 bytes; what
    /// `ps -e` and `pgrep -x` show): `"ora_pmon_ORCL"`.
    #[serde(default)]
    pub comm: Option<String>,
    /// Regular expression searched in the command line, arguments joined by spaces (what
    /// `pgrep -f` matches): `'weblogic\.Name=AdminServer'`.
    #[serde(default)]
    pub cmdline: Option<String>,
    /// File holding the process id (`/var/run/httpd.pid`); a missing file is "not running".
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// Fewest processes for `process_up` 1. Default 1.
    #[serde(default = "default_min_count")]
    pub min_count: u32,
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_root() -> PathBuf {
    PathBuf::from("/proc")
}
fn default_min_count() -> u32 {
    1
}

/// How one entry finds its processes.
#[derive(Debug, Clone)]
enum Matcher {
    Comm(String),
    Cmdline(Regex),
    PidFile(PathBuf),
}

#[derive(Debug, Clone)]
struct Entry {
    name: String,
    matcher: Matcher,
    min_count: u32,
}

/// What one entry found this round.
#[derive(Debug, Default)]
struct Found {
    count: u64,
    /// Σ CPU of the processes seen in both rounds, in clock ticks.
    cpu_ticks_delta: u64,
    /// Whether any process was seen in the previous round too (else no CPU figure yet).
    cpu_known: bool,
    rss_pages: u64,
    fds: Option<u64>,
    fd_error: Option<String>,
    oldest_start_ticks: Option<u64>,
    /// Why a pid file gave nothing, for the log.
    note: Option<String>,
}

/// The running process probe.
#[derive(Debug)]
pub struct ProcessProbe {
    entries: Vec<Entry>,
    proc: Proc,
    /// CPU ticks per (pid, start) at the previous round: a pid reused by a new process
    /// (different start) is a different process.
    previous: HashMap<(u32, u64), u64>,
    previous_at: Option<Instant>,
    failing: Failing,
    own_pid: u32,
}

impl ProcessProbe {
    pub fn new(config: &ProcessConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.processes.is_empty() {
            errors.push("process: list at least one [[probe.process]]".to_owned());
        }
        let mut entries = Vec::new();
        for (i, p) in config.processes.iter().enumerate() {
            let at = format!("process[{i}]");
            if p.name.trim().is_empty() {
                errors.push(format!("{at}.name: must not be empty"));
            }
            if config.processes[..i].iter().any(|o| o.name == p.name) {
                errors.push(format!("{at}.name: '{}' is listed twice", p.name));
            }
            let matcher = match (&p.comm, &p.cmdline, &p.pid_file) {
                (Some(c), None, None) if c.is_empty() || c.len() > MAX_COMM => {
                    errors.push(format!(
                        "{at}.comm: '{c}' is not 1 to {MAX_COMM} bytes (the kernel keeps at most {MAX_COMM}): match a longer name with cmdline"
                    ));
                    None
                }
                (Some(c), None, None) => Some(Matcher::Comm(c.clone())),
                (None, Some(r), None) => match Regex::new(r) {
                    Ok(re) => Some(Matcher::Cmdline(re)),
                    Err(e) => {
                        errors.push(format!("{at}.cmdline: {e}"));
                        None
                    }
                },
                (None, None, Some(f)) => Some(Matcher::PidFile(f.clone())),
                _ => {
                    errors.push(format!("{at}: set exactly one of comm, cmdline, pid_file"));
                    None
                }
            };
            if let Some(matcher) = matcher {
                entries.push(Entry {
                    name: p.name.clone(),
                    matcher,
                    min_count: p.min_count,
                });
            }
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!(
                "process: {}",
                errors.join("; ")
            )));
        }
        Ok(Self {
            entries,
            proc: Proc::new(&config.proc_root),
            previous: HashMap::new(),
            previous_at: None,
            failing: Failing::new("process"),
            own_pid: std::process::id(),
        })
    }
}

/// One pass over the proc file system for every entry (blocking).
struct Round {
    found: Vec<Found>,
    ticks: HashMap<(u32, u64), u64>,
    btime: Option<u64>,
    cpus: usize,
}

fn read_pid_file(path: &std::path::Path) -> Result<u32, String> {
    let text = crate::sample_out::read_bounded(path, 4096)
        .map_err(|e| format!("pid_file {}: {e}", path.display()))?;
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("pid_file {}: holds no process id", path.display()))
}

fn scan(
    proc: &Proc,
    entries: &[Entry],
    previous: &HashMap<(u32, u64), u64>,
    own_pid: u32,
) -> std::io::Result<Round> {
    let (btime, cpus) = proc.system()?;
    let pids = proc.pids()?;
    let needs_cmdline = entries
        .iter()
        .any(|e| matches!(e.matcher, Matcher::Cmdline(_)));
    let mut round = Round {
        found: entries.iter().map(|_| Found::default()).collect(),
        ticks: HashMap::new(),
        btime,
        cpus,
    };
    let pid_files: Vec<Option<Result<u32, String>>> = entries
        .iter()
        .map(|e| match &e.matcher {
            Matcher::PidFile(path) => Some(read_pid_file(path)),
            _ => None,
        })
        .collect();
    for (found, pid_file) in round.found.iter_mut().zip(&pid_files) {
        if let Some(Err(e)) = pid_file {
            found.note = Some(e.clone());
        }
    }
    for pid in pids {
        if pid == own_pid {
            continue;
        }
        let Some(stat) = proc.stat(pid) else { continue };
        // A zombie has exited; it only waits for its parent.
        if stat.state == 'Z' {
            continue;
        }
        let cmdline = if needs_cmdline {
            proc.cmdline(pid)
        } else {
            None
        };
        let mut counted = false;
        for (i, entry) in entries.iter().enumerate() {
            let hit = match &entry.matcher {
                Matcher::Comm(c) => stat.comm == *c,
                // Kernel threads have no command line and never match one.
                Matcher::Cmdline(re) => cmdline
                    .as_deref()
                    .is_some_and(|c| !c.is_empty() && re.is_match(c)),
                Matcher::PidFile(_) => matches!(pid_files[i], Some(Ok(p)) if p == pid),
            };
            if !hit {
                continue;
            }
            counted = true;
            let found = &mut round.found[i];
            found.count += 1;
            found.rss_pages += proc.resident_pages(pid).unwrap_or(0);
            found.oldest_start_ticks = Some(
                found
                    .oldest_start_ticks
                    .map_or(stat.start_ticks, |o| o.min(stat.start_ticks)),
            );
            if let Some(before) = previous.get(&(pid, stat.start_ticks)) {
                found.cpu_known = true;
                found.cpu_ticks_delta += stat.cpu_ticks.saturating_sub(*before);
            }
            match proc.open_fds(pid) {
                Ok(n) => *found.fds.get_or_insert(0) += n,
                // Exited since it was listed: it has no descriptors to count.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => found.fd_error = Some(format!("pid {pid}: {e}")),
            }
        }
        if counted {
            round.ticks.insert((pid, stat.start_ticks), stat.cpu_ticks);
        }
    }
    for (found, pid_file) in round.found.iter_mut().zip(&pid_files) {
        if let (Some(Ok(pid)), 0) = (pid_file, found.count) {
            found.note = Some(format!("pid_file names pid {pid}, which is not running"));
        }
    }
    Ok(round)
}

#[async_trait]
impl Probe for ProcessProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let (proc, entries, previous, own) = (
            self.proc.clone(),
            self.entries.clone(),
            std::mem::take(&mut self.previous),
            self.own_pid,
        );
        let now = Instant::now();
        let round = tokio::task::spawn_blocking(move || scan(&proc, &entries, &previous, own))
            .await
            .map_err(|e| ProbeError::Unavailable {
                source_name: "process",
                message: format!("scan task failed: {e}"),
            })?
            .map_err(|e| ProbeError::Unavailable {
                source_name: "process",
                message: format!(
                    "{}: {e} (is proc_root a proc file system?)",
                    self.proc.root().display()
                ),
            })?;
        let elapsed = self
            .previous_at
            .map(|t| now.duration_since(t).as_secs_f64());
        self.previous = round.ticks;
        self.previous_at = Some(now);
        let hz = rustix::param::clock_ticks_per_second() as f64;
        let page = rustix::param::page_size() as f64;
        let now_s = ctx.now_ms as f64 / 1000.0;
        let mut emit = Out::new(out, ctx.now_ms);
        for (entry, found) in self.entries.iter().zip(&round.found) {
            let label = [("process", entry.name.as_str())];
            emit.flag(
                "process_up",
                label,
                found.count >= u64::from(entry.min_count),
            );
            emit.push("process_count", label, found.count as f64);
            if found.count == 0 {
                let why = found
                    .note
                    .clone()
                    .unwrap_or_else(|| "no matching process".into());
                self.failing.failed(
                    &format!("process {}", entry.name),
                    &format!("process_up 0: {why}"),
                );
                continue;
            }
            self.failing.recovered(&format!("process {}", entry.name));
            emit.push(
                "process_resident_bytes",
                label,
                found.rss_pages as f64 * page,
            );
            if let (true, Some(secs)) = (found.cpu_known, elapsed)
                && secs > 0.0
                && round.cpus > 0
            {
                let busy = found.cpu_ticks_delta as f64 / hz;
                emit.push(
                    "process_cpu_percent",
                    label,
                    busy / secs / round.cpus as f64 * 100.0,
                );
            }
            match (&found.fds, &found.fd_error) {
                (Some(n), None) => emit.push("process_open_fds", label, *n as f64),
                (_, Some(e)) => self.failing.failed(
                    &format!("fds {}", entry.name),
                    &format!("process_open_fds left out: {e} (the agent needs root or CAP_SYS_PTRACE for other users' processes)"),
                ),
                (None, None) => {}
            }
            if let (Some(start), Some(btime)) = (found.oldest_start_ticks, round.btime) {
                let started = btime as f64 + start as f64 / hz;
                emit.push("process_start_time_seconds", label, started);
                emit.push("process_uptime_seconds", label, (now_s - started).max(0.0));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
