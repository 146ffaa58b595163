//! The WebLogic probe against a log rotated faster than it polls (the issue's "generator's
//! fast case"), in real time: a writer thread appends bursts of `BURST` messages to
//! `ms1.log`, rotates it every `ROTATE_MS` milliseconds (WebLogic's rename to `ms1.log00001`
//! ..., or logrotate's shift to `ms1.log.1`, `.2` ...) and deletes all but the `KEEP` newest
//! rotated files, while the real probe is collected every `POLL_MS` milliseconds. After the
//! writer stops, two more rounds settle the count.
//!
//! Every file holds exactly `BURST` messages, so the check is exact: the messages counted plus
//! `BURST` × `weblogic_log_lost_files_total` must equal the messages written, and
//! `weblogic_log_rotations_total` must equal the real rotations.
//!
//! ```text
//! cargo bench -p patrol-bench --bench tail_rotation            # the default matrix
//! MESSAGES=100000 BURST=250 ROTATE_MS=50 KEEP=5 POLL_MS=10000 STYLE=weblogic \
//!     cargo bench -p patrol-bench --bench tail_rotation        # one configuration
//! ```
//! Prints one markdown row per run; figures in docs/benchmarks.md. Exits 1 if a run is not
//! exact.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use patrol_probes::{BuildContext, CollectContext, ProbeConfig};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Style {
    /// `ms1.log` → `ms1.log00001`, `ms1.log00002` ... (WebLogic, reference §3).
    Weblogic,
    /// `ms1.log.1` → `ms1.log.2` ..., then `ms1.log` → `ms1.log.1` (logrotate without dateext).
    Logrotate,
}

#[derive(Debug, Clone, Copy)]
struct Run {
    style: Style,
    messages: u64,
    burst: u64,
    rotate: Duration,
    keep: usize,
    poll: Duration,
}

#[derive(Debug, Default)]
struct Outcome {
    files: u64,
    counted: f64,
    lost_files: f64,
    rotations: f64,
    truncations: f64,
    unparsed: f64,
    polls: u64,
    wall: Duration,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn message(n: u64) -> String {
    // Every 10th message a multi-line Error with a stack trace, the rest one-line Info.
    if n.is_multiple_of(10) {
        format!(
            "####<Mar 24, 2022 10:29:51,636 AM GMT> <Error> <HTTP> <wls-host-01> <ms1> <[ACTIVE] ExecuteThread: '7' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <> <1648117791636> <BEA-101020> <[ServletContext@1] Servlet failed with an Exception {n}\njava.lang.IllegalStateException: bad state\n\tat a.b.C.d(C.java:10)\n\tat weblogic.work.ExecuteThread.run(ExecuteThread.java:360)\n> \n"
        )
    } else {
        format!(
            "####<Mar 24, 2022 10:29:51,636 AM GMT> <Info> <Health> <wls-host-01> <ms1> <[ACTIVE] ExecuteThread: '7' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <> <1648117791636> <BEA-310002> <62% of the total memory in the server is free ({n}).> \n"
        )
    }
}

/// Rotates `live` and deletes what is beyond `keep`; returns the next WebLogic number.
fn rotate(dir: &Path, style: Style, next: u64, keep: usize) -> u64 {
    let live = dir.join("ms1.log");
    match style {
        Style::Weblogic => {
            std::fs::rename(&live, dir.join(format!("ms1.log{next:05}"))).expect("rotate");
            if next > keep as u64 {
                let old = dir.join(format!("ms1.log{:05}", next - keep as u64));
                std::fs::remove_file(old).expect("delete oldest");
            }
        }
        Style::Logrotate => {
            let _ = std::fs::remove_file(dir.join(format!("ms1.log.{keep}")));
            for i in (1..keep).rev() {
                let from = dir.join(format!("ms1.log.{i}"));
                if from.exists() {
                    std::fs::rename(&from, dir.join(format!("ms1.log.{}", i + 1))).expect("shift");
                }
            }
            std::fs::rename(&live, dir.join("ms1.log.1")).expect("rotate");
        }
    }
    next + 1
}

/// The writer: `messages / burst` files of `burst` messages each, one every `rotate`.
fn writer(dir: PathBuf, run: Run) -> u64 {
    let files = run.messages / run.burst;
    let mut n = 0u64;
    let mut next = 1u64;
    let start = Instant::now();
    for file in 0..files {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("ms1.log"))
            .expect("open live log");
        let mut text = String::new();
        for _ in 0..run.burst {
            text += &message(n);
            n += 1;
        }
        f.write_all(text.as_bytes()).expect("write burst");
        drop(f);
        if file + 1 == files {
            break;
        }
        let due = run.rotate * u32::try_from(file + 1).expect("file count");
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        next = rotate(&dir, run.style, next, run.keep);
    }
    files
}

fn sum(out: &[patrol_proto::Sample], name: &str) -> f64 {
    out.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

async fn collect(probe: &mut Box<dyn patrol_probes::Probe>) -> Vec<patrol_proto::Sample> {
    let mut out = Vec::new();
    probe
        .collect(CollectContext { now_ms: 0 }, &mut out)
        .await
        .expect("collect");
    out
}

async fn one(run: Run) -> Outcome {
    let root = tempfile::tempdir().expect("tempdir");
    let dir = root.path().join("servers/ms1/logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    let rotated = match run.style {
        Style::Weblogic => "ms1.log?*",
        Style::Logrotate => "ms1.log.*",
    };
    let config: ProbeConfig = toml::from_str(&format!(
        "type = \"weblogic\"\nstart_at = \"beginning\"\n[[server]]\nname = \"ms1\"\nlog_dir = {:?}\nrotated = {rotated:?}\nquota_bytes = 1000000000\n",
        dir.display().to_string()
    ))
    .expect("config");
    let mut probe = config
        .build(&BuildContext::new(root.path().join("state")))
        .expect("probe");
    // Started before the log exists: every file that appears is read from its start.
    collect(&mut probe).await;
    let start = Instant::now();
    let writer = std::thread::spawn({
        let dir = dir.clone();
        move || writer(dir, run)
    });
    let mut outcome = Outcome::default();
    let mut tick = tokio::time::interval(run.poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    while !writer.is_finished() {
        tick.tick().await;
        collect(&mut probe).await;
        outcome.polls += 1;
    }
    outcome.files = writer.join().expect("writer");
    let mut last = Vec::new();
    for _ in 0..3 {
        last = collect(&mut probe).await;
        outcome.polls += 1;
    }
    outcome.wall = start.elapsed();
    outcome.counted = sum(&last, "weblogic_messages_total");
    outcome.lost_files = sum(&last, "weblogic_log_lost_files_total");
    outcome.rotations = sum(&last, "weblogic_log_rotations_total");
    outcome.truncations = sum(&last, "weblogic_log_truncations_total");
    outcome.unparsed = sum(&last, "weblogic_log_unparsed_total");
    outcome
}

fn main() {
    let single = Run {
        style: match std::env::var("STYLE").as_deref() {
            Ok("logrotate") => Style::Logrotate,
            _ => Style::Weblogic,
        },
        messages: env("MESSAGES").unwrap_or(100_000),
        burst: env("BURST").unwrap_or(250),
        rotate: Duration::from_millis(env("ROTATE_MS").unwrap_or(50)),
        keep: env("KEEP").unwrap_or(5),
        poll: Duration::from_millis(env("POLL_MS").unwrap_or(10_000)),
    };
    let runs: Vec<Run> = if std::env::var("POLL_MS").is_ok() || std::env::var("KEEP").is_ok() {
        vec![single]
    } else {
        let mut runs = Vec::new();
        for style in [Style::Weblogic, Style::Logrotate] {
            for (keep, poll) in [(5, 10_000), (2, 1_000), (5, 200), (50, 1_000)] {
                runs.push(Run {
                    style,
                    keep,
                    poll: Duration::from_millis(poll),
                    ..single
                });
            }
        }
        runs
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    println!(
        "| style | rotate every | keep | poll every | messages | files | counted | lost files | counted + lost × burst | rotations (real) | truncations | unparsed | polls | wall s | exact |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut all_exact = true;
    for run in runs {
        let o = rt.block_on(one(run));
        let written = (o.files * run.burst) as f64;
        let accounted = o.counted + o.lost_files * run.burst as f64;
        let real_rotations = o.files.saturating_sub(1) as f64;
        let exact = accounted == written && o.rotations == real_rotations && o.truncations == 0.0;
        all_exact &= exact;
        println!(
            "| {:?} | {} ms | {} | {} ms | {} | {} | {} | {} | {} | {} ({}) | {} | {} | {} | {:.1} | {} |",
            run.style,
            run.rotate.as_millis(),
            run.keep,
            run.poll.as_millis(),
            written,
            o.files,
            o.counted,
            o.lost_files,
            accounted,
            o.rotations,
            real_rotations,
            o.truncations,
            o.unparsed,
            o.polls,
            o.wall.as_secs_f64(),
            if exact { "yes" } else { "**no**" },
        );
    }
    if !all_exact {
        std::process::exit(1);
    }
}
