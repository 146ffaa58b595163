//! The process probe against real processes. Each test runs `sleep` (or `sh`) through a
//! symbolic link of its own name, so the kernel's `comm` is unique to the test and other
//! processes on the machine never match.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use crate::sample_out::{assert_cataloged, parse_section};

struct Spawned {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    children: Vec<Child>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn program(path: &str) -> String {
    ["/bin", "/usr/bin"]
        .iter()
        .map(|d| format!("{d}/{path}"))
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("{path} not found: install coreutils"))
}

/// `count` processes running `target` (a binary's name) as `name` with `args`.
fn spawn_as(name: &str, target: &str, args: &[&str], count: usize) -> Spawned {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join(name);
    std::os::unix::fs::symlink(program(target), &link).unwrap();
    let children = (0..count)
        .map(|_| {
            Command::new(&link)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    Spawned {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        children,
    }
}

fn probe(section: &str) -> ProcessProbe {
    match parse_section(section).unwrap() {
        crate::ProbeConfig::Process(c) => ProcessProbe::new(&c).unwrap(),
        other => panic!("not a process section: {other:?}"),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn round(probe: &mut ProcessProbe) -> Vec<Sample> {
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: now_ms() }, &mut out)
        .await
        .unwrap();
    assert_cataloged(&out);
    out
}

fn value(out: &[Sample], name: &str, process: &str) -> Option<f64> {
    out.iter()
        .find(|s| s.name == name && s.labels.get("process") == Some(process))
        .map(|s| s.value)
}

fn vm_rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kb * 1024.0
}

#[tokio::test]
async fn by_name_count_memory_fds_and_start_time() {
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let sleeps = spawn_as("patrol_t_pmon", "sleep", &["1000"], 3);
    // Wait until each is asleep in nanosleep, its memory settled (it was just exec'd).
    for c in &sleeps.children {
        let proc = procfs::Proc::new("/proc");
        while proc.stat(c.id()).is_none_or(|s| s.state != 'S') {
            std::thread::yield_now();
        }
    }
    let mut probe = probe(
        "type = \"process\"\n\
         [[process]]\nname = \"pmon\"\ncomm = \"patrol_t_pmon\"\nmin_count = 3\n\
         [[process]]\nname = \"four\"\ncomm = \"patrol_t_pmon\"\nmin_count = 4\n\
         [[process]]\nname = \"absent\"\ncomm = \"patrol_t_none\"\n",
    );
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "process_count", "pmon"), Some(3.0));
    assert_eq!(value(&out, "process_up", "pmon"), Some(1.0));
    assert_eq!(
        value(&out, "process_up", "four"),
        Some(0.0),
        "3 < min_count 4"
    );
    assert_eq!(value(&out, "process_up", "absent"), Some(0.0));
    assert_eq!(value(&out, "process_count", "absent"), Some(0.0));
    assert_eq!(value(&out, "process_resident_bytes", "absent"), None);
    // stdin, stdout, stderr each, plus whatever the test runner lets children inherit; the
    // oracle is the kernel's own list, read separately.
    let fds: usize = sleeps
        .children
        .iter()
        .map(|c| {
            std::fs::read_dir(format!("/proc/{}/fd", c.id()))
                .unwrap()
                .count()
        })
        .sum();
    assert!(fds >= 9);
    assert_eq!(value(&out, "process_open_fds", "pmon"), Some(fds as f64));
    let rss: f64 = sleeps.children.iter().map(|c| vm_rss_bytes(c.id())).sum();
    let got = value(&out, "process_resident_bytes", "pmon").unwrap();
    // VmRSS is read a moment later; a sleeping process's resident set does not move.
    assert_eq!(got, rss, "against /proc/PID/status VmRSS");
    let started = value(&out, "process_start_time_seconds", "pmon").unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Kernel start times have clock-tick resolution and btime whole seconds.
    assert!(
        started >= before - 1.5 && started <= after + 1.5,
        "{before} <= {started} <= {after}"
    );
    assert!(value(&out, "process_uptime_seconds", "pmon").unwrap() < after - before + 2.0);
    assert_eq!(
        value(&out, "process_cpu_percent", "pmon"),
        None,
        "no CPU figure on the first round"
    );
}

#[tokio::test]
async fn by_command_line_like_a_weblogic_jvm() {
    // A shell that stays (it waits for its sleep) with the JVM-like argument on its line.
    let script = "sleep 1000; :";
    let jvm = spawn_as(
        "patrol_t_java",
        "sh",
        &["-c", script, "-Dweblogic.Name=AdminServer"],
        1,
    );
    let other = spawn_as(
        "patrol_t_java",
        "sh",
        &["-c", script, "-Dweblogic.Name=ManagedOne"],
        1,
    );
    let mut probe = probe(
        "type = \"process\"\n[[process]]\nname = \"AdminServer\"\ncmdline = 'patrol_t_java .*weblogic\\.Name=AdminServer'\n",
    );
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "process_count", "AdminServer"), Some(1.0));
    drop((jvm, other));
}

#[tokio::test]
async fn by_pid_file_and_gone_when_it_exits() {
    let mut sleeps = spawn_as("patrol_t_httpd", "sleep", &["1000"], 1);
    let pid_file = sleeps.dir.join("httpd.pid");
    std::fs::write(&pid_file, format!("{}\n", sleeps.children[0].id())).unwrap();
    let section = format!(
        "type = \"process\"\n[[process]]\nname = \"httpd\"\npid_file = {:?}\n\
         [[process]]\nname = \"nofile\"\npid_file = \"/nonexistent/x.pid\"\n",
        pid_file.display().to_string()
    );
    let mut probe = probe(&section);
    let out = round(&mut probe).await;
    assert_eq!(value(&out, "process_up", "httpd"), Some(1.0));
    assert_eq!(value(&out, "process_count", "httpd"), Some(1.0));
    assert_eq!(value(&out, "process_up", "nofile"), Some(0.0));
    let mut child = sleeps.children.remove(0);
    child.kill().unwrap();
    child.wait().unwrap();
    let out = round(&mut probe).await;
    assert_eq!(
        value(&out, "process_up", "httpd"),
        Some(0.0),
        "pid file left behind"
    );
}

#[tokio::test]
async fn cpu_percent_of_a_busy_process_over_the_interval() {
    let busy = spawn_as("patrol_t_busy", "sh", &["-c", "while :; do :; done"], 1);
    let pid = busy.children[0].id();
    let mut probe =
        probe("type = \"process\"\n[[process]]\nname = \"busy\"\ncomm = \"patrol_t_busy\"\n");
    round(&mut probe).await;
    // Wait for the process to have burnt CPU (an event, not a time): 20 ticks from now.
    let ticks = |pid: u32| procfs::Proc::new("/proc").stat(pid).unwrap().cpu_ticks;
    let start = ticks(pid);
    while ticks(pid) < start + 20 {
        tokio::task::yield_now().await;
        std::thread::yield_now();
    }
    let out = round(&mut probe).await;
    let cpu = value(&out, "process_cpu_percent", "busy").unwrap();
    // One busy loop is at most one CPU of the host; it is well above zero.
    let cpus = procfs::parse_proc_stat(&std::fs::read_to_string("/proc/stat").unwrap()).1 as f64;
    assert!(
        cpu > 0.0 && cpu <= 100.0 / cpus + 1.0,
        "cpu {cpu}% with {cpus} CPUs"
    );
}

#[tokio::test]
async fn a_proc_root_that_is_not_proc_fails_the_round_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut probe = probe(&format!(
        "type = \"process\"\nproc_root = {:?}\n[[process]]\nname = \"x\"\ncomm = \"x\"\n",
        dir.path().display().to_string()
    ));
    let mut out = Vec::new();
    let err = probe
        .collect(CollectContext { now_ms: 1 }, &mut out)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("proc_root"), "{err}");
}

#[test]
fn sample_toml_parses_and_builds() {
    crate::sample_out::check_sample(include_str!("sample.toml"));
}

#[test]
fn bad_entries_are_named() {
    let err = match parse_section(
        "type = \"process\"\n[[process]]\nname = \"a\"\ncomm = \"ora_pmon_VERYLONGSID\"\n\
         [[process]]\nname = \"b\"\ncomm = \"x\"\ncmdline = \"x\"\n\
         [[process]]\nname = \"c\"\ncmdline = \"(\"\n",
    )
    .unwrap()
    {
        crate::ProbeConfig::Process(c) => ProcessProbe::new(&c).unwrap_err().to_string(),
        _ => unreachable!(),
    };
    for part in [
        "process[0].comm",
        "match a longer name with cmdline",
        "process[1]: set exactly one",
        "process[2].cmdline",
    ] {
        assert!(err.contains(part), "{part} missing from {err}");
    }
}
