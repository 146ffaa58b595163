//! Reading processes from a proc file system mounted at `root` (`/proc`, or the host's proc
//! mounted into a container). Only what the process probe needs, parsed from text so tests
//! can feed it captures: `/proc/<pid>/stat`, `statm`, `cmdline`, the `fd` directory, and
//! `btime` and the CPU count from `/proc/stat`.

use std::path::{Path, PathBuf};

use crate::sample_out::read_bounded;

/// Longest `stat` / `cmdline` read; real ones are far below (cmdline is capped by ARG_MAX,
/// but a match on the first 64 KiB is as good as one on all of it).
const MAX_PROC_FILE: u64 = 64 * 1024;

/// The figures of one process the probe uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// `comm`: the kernel's name of the process, at most 15 bytes.
    pub comm: String,
    /// `R`, `S`, `D`, `Z`, ...
    pub state: char,
    /// User + system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Start after boot, in clock ticks.
    pub start_ticks: u64,
}

/// Parses `/proc/<pid>/stat`. `comm` may hold spaces and parentheses, so the fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_owned();
    let fields: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    // After ')': state is field 3 of proc(5); utime 14, stime 15, starttime 22. Its rss
    // (24) is not used: recent kernels give an approximation there (per-CPU counters read
    // without summing), while `statm` and `status` give what `ps` shows.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        comm,
        state: fields.first()?.chars().next()?,
        cpu_ticks: field(14)?.checked_add(field(15)?)?,
        start_ticks: field(22)?,
    })
}

/// `cmdline` with its NUL separators turned into spaces (as `ps -o args` shows it); empty for
/// kernel threads.
pub fn parse_cmdline(bytes: &str) -> String {
    bytes.trim_end_matches('\0').replace('\0', " ")
}

/// `btime` (boot time, seconds since the epoch) and the number of `cpuN` lines of
/// `/proc/stat`.
pub fn parse_proc_stat(text: &str) -> (Option<u64>, usize) {
    let btime = text
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok());
    let cpus = text
        .lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count();
    (btime, cpus)
}

/// A proc file system at a root.
#[derive(Debug, Clone)]
pub struct Proc {
    root: PathBuf,
}

impl Proc {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every numeric entry: the processes (threads are not listed at the top level).
    pub fn pids(&self) -> std::io::Result<Vec<u32>> {
        let mut pids: Vec<u32> = std::fs::read_dir(&self.root)?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        pids.sort_unstable();
        Ok(pids)
    }

    /// `None` when the process is gone (it may exit between listing and reading).
    pub fn stat(&self, pid: u32) -> Option<Stat> {
        let text =
            read_bounded(&self.root.join(pid.to_string()).join("stat"), MAX_PROC_FILE).ok()?;
        parse_stat(&text)
    }

    /// Resident pages: the second field of `statm` (`ps -o rss` ÷ page size).
    pub fn resident_pages(&self, pid: u32) -> Option<u64> {
        let text = read_bounded(&self.root.join(pid.to_string()).join("statm"), 4096).ok()?;
        text.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn cmdline(&self, pid: u32) -> Option<String> {
        let path = self.root.join(pid.to_string()).join("cmdline");
        // Not read_bounded: a longer command line is cut, not refused.
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .ok()?
            .take(MAX_PROC_FILE)
            .read_to_end(&mut bytes)
            .ok()?;
        Some(parse_cmdline(&String::from_utf8_lossy(&bytes)))
    }

    /// Open file descriptors; an error when not allowed (another user's process without
    /// root or CAP_SYS_PTRACE).
    pub fn open_fds(&self, pid: u32) -> std::io::Result<u64> {
        Ok(std::fs::read_dir(self.root.join(pid.to_string()).join("fd"))?.count() as u64)
    }

    /// Boot time and CPU count.
    pub fn system(&self) -> std::io::Result<(Option<u64>, usize)> {
        Ok(parse_proc_stat(&read_bounded(
            &self.root.join("stat"),
            1024 * 1024,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_comm() {
        // A real line (sleep) with its comm replaced by one holding spaces and parentheses.
        let line = "4242 (a) b (c) S 1 4242 4242 0 -1 4194304 87 0 0 0 3 5 0 0 20 0 1 0 123456 2301952 128 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                comm: "a) b (c".into(),
                state: 'S',
                cpu_ticks: 8,
                start_ticks: 123_456,
            })
        );
        assert_eq!(parse_stat("4242 (x) S 1 2"), None, "truncated");
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn cmdline_and_proc_stat() {
        assert_eq!(
            parse_cmdline("java\0-Dweblogic.Name=AdminServer\0weblogic.Server\0"),
            "java -Dweblogic.Name=AdminServer weblogic.Server"
        );
        assert_eq!(parse_cmdline(""), "");
        let stat =
            "cpu  1 2 3 4\ncpu0 1 2 3 4\ncpu1 1 2 3 4\nintr 5\nbtime 1764748800\nprocesses 9\n";
        assert_eq!(parse_proc_stat(stat), (Some(1_764_748_800), 2));
    }
}
