//! Textfile probe (`type = "textfile"`): the `*.prom` files of a directory in the Prometheus
//! text exposition format, node_exporter's textfile-collector convention (cron jobs and
//! scripts write a file atomically; every round reads them all). Their samples pass through
//! under their own names and labels. Emits per file: `textfile_scrape_error{file}`,
//! `textfile_mtime_seconds{file}`, `textfile_age_seconds{file}`, `textfile_errors{file}`;
//! per directory: `textfile_ok{dir}`. See `README.md` beside this file.

mod parse;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use serde::Deserialize;

use crate::sample_out::{Failing, Out, interval_duration};
use crate::{CollectContext, Probe, ProbeError};

/// Configuration of one `[[probe]] type = "textfile"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TextfileConfig {
    /// How often the files are read. Default `"30s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The directory of `*.prom` files (node_exporter's `--collector.textfile.directory`).
    pub directory: PathBuf,
    /// Larger files are skipped (`textfile_scrape_error 1`). Default 1048576 (1 MiB).
    #[serde(default = "default_max_file")]
    pub max_file_bytes: u64,
    /// Most samples taken from the whole directory per round; the rest are dropped and
    /// counted as errors. Default 10000.
    #[serde(default = "default_max_samples")]
    pub max_samples: usize,
}

fn default_interval() -> Duration {
    Duration::from_secs(30)
}
fn default_max_file() -> u64 {
    1024 * 1024
}
fn default_max_samples() -> usize {
    10_000
}

/// The running textfile probe.
#[derive(Debug)]
pub struct TextfileProbe {
    config: TextfileConfig,
    failing: Failing,
}

impl TextfileProbe {
    pub fn new(config: &TextfileConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.directory.as_os_str().is_empty() {
            errors.push("directory: give the directory of *.prom files".to_owned());
        }
        if !(1024..=64 * 1024 * 1024).contains(&config.max_file_bytes) {
            errors.push("max_file_bytes: between 1024 and 67108864".to_owned());
        }
        if !(1..=1_000_000).contains(&config.max_samples) {
            errors.push("max_samples: between 1 and 1000000".to_owned());
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!(
                "textfile: {}",
                errors.join("; ")
            )));
        }
        Ok(Self {
            config: config.clone(),
            failing: Failing::new("textfile"),
        })
    }
}

/// One file's round.
#[derive(Debug)]
struct FileRound {
    file: String,
    mtime: Option<SystemTime>,
    samples: Vec<parse::Parsed>,
    /// `file:line:column: message`, or `file: message` without a place.
    errors: Vec<String>,
}

/// What the directory gave this round.
#[derive(Debug)]
enum DirRound {
    Unreadable(String),
    Files(Vec<FileRound>),
}

fn read_dir(dir: &Path, max_file_bytes: u64) -> DirRound {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return DirRound::Unreadable(format!("{}: {e}", dir.display())),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        // Writers create `name.prom.$$` and rename it: only finished files end in .prom.
        .filter(|n| n.ends_with(".prom") && !n.starts_with('.'))
        .collect();
    names.sort();
    DirRound::Files(
        names
            .into_iter()
            .map(|name| read_file(&dir.join(&name), name, max_file_bytes))
            .collect(),
    )
}

fn read_file(path: &Path, file: String, max_bytes: u64) -> FileRound {
    let mut round = FileRound {
        file,
        mtime: None,
        samples: Vec::new(),
        errors: Vec::new(),
    };
    let opened = std::fs::File::open(path).and_then(|f| Ok((f.metadata()?, f)));
    let (meta, handle) = match opened {
        Ok(m) => m,
        Err(e) => {
            round.errors.push(format!("{}: {e}", round.file));
            return round;
        }
    };
    if !meta.is_file() {
        round
            .errors
            .push(format!("{}: not a regular file", round.file));
        return round;
    }
    round.mtime = meta.modified().ok();
    let mut bytes = Vec::new();
    if let Err(e) = handle.take(max_bytes + 1).read_to_end(&mut bytes) {
        round.errors.push(format!("{}: {e}", round.file));
        return round;
    }
    if bytes.len() as u64 > max_bytes {
        round.errors.push(format!(
            "{}: larger than max_file_bytes ({max_bytes}): skipped",
            round.file
        ));
        return round;
    }
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = upto.iter().filter(|b| **b == b'\n').count() + 1;
            round.errors.push(format!(
                "{}:{line}: not UTF-8 text: file skipped",
                round.file
            ));
            return round;
        }
    };
    let (samples, errors) = parse::parse(&text);
    round
        .errors
        .extend(errors.iter().map(|e| format!("{}:{e}", round.file)));
    round.samples = samples;
    round
}

/// Why a parsed sample is not passed on, if it is not.
fn refusal(s: &parse::Parsed) -> Option<String> {
    use crate::sample_out::series_limits::{MAX_NAME_BYTES, MAX_PROBE_LABELS, MAX_VALUE_BYTES};
    if s.name.len() > MAX_NAME_BYTES {
        return Some(format!("metric name longer than {MAX_NAME_BYTES} bytes"));
    }
    if s.labels.len() > MAX_PROBE_LABELS {
        return Some(format!(
            "{} labels: at most {MAX_PROBE_LABELS} (the agent adds its own)",
            s.labels.len()
        ));
    }
    for (k, v) in &s.labels {
        if k.len() > MAX_NAME_BYTES {
            return Some(format!("a label name longer than {MAX_NAME_BYTES} bytes"));
        }
        if v.len() > MAX_VALUE_BYTES {
            return Some(format!(
                "label '{k}': value longer than {MAX_VALUE_BYTES} bytes"
            ));
        }
    }
    if s.name.starts_with("patrol_") {
        return Some(format!(
            "metric '{}': names starting with patrol_ are Patrol's own",
            s.name
        ));
    }
    for (k, _) in &s.labels {
        if k == "host" {
            return Some("label 'host' is set by the agent and cannot be given".into());
        }
        if k.starts_with("__") {
            return Some(format!("label '{k}': names starting with __ are reserved"));
        }
    }
    None
}

#[async_trait]
impl Probe for TextfileProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let dir = self.config.directory.clone();
        let max = self.config.max_file_bytes;
        let round = tokio::task::spawn_blocking(move || read_dir(&dir, max))
            .await
            .map_err(|e| ProbeError::Unavailable {
                source_name: "textfile",
                message: format!("reader task failed: {e}"),
            })?;
        let dir_label = self.config.directory.display().to_string();
        let mut emit = Out::new(out, ctx.now_ms);
        let files = match round {
            DirRound::Unreadable(e) => {
                self.failing
                    .failed(&dir_label, &format!("cannot list the directory: {e}"));
                emit.flag("textfile_ok", [("dir", dir_label.as_str())], false);
                return Ok(());
            }
            DirRound::Files(files) => {
                self.failing.recovered(&dir_label);
                emit.flag("textfile_ok", [("dir", dir_label.as_str())], true);
                files
            }
        };
        let now = SystemTime::now();
        let mut seen: HashSet<(String, Labels)> = HashSet::new();
        let mut taken = 0usize;
        for mut file in files {
            for s in std::mem::take(&mut file.samples) {
                if let Some(why) = refusal(&s) {
                    file.errors.push(format!("{}:{}: {why}", file.file, s.line));
                    continue;
                }
                let labels =
                    Labels::from_pairs(s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                if !seen.insert((s.name.clone(), labels.clone())) {
                    file.errors.push(format!(
                        "{}:{}: series {}{labels} given twice (in this file or an earlier one)",
                        file.file, s.line, s.name
                    ));
                    continue;
                }
                if taken >= self.config.max_samples {
                    file.errors.push(format!(
                        "{}:{}: beyond max_samples ({}): dropped",
                        file.file, s.line, self.config.max_samples
                    ));
                    continue;
                }
                taken += 1;
                emit.push_owned(s.name, labels, s.value);
            }
            let label = [("file", file.file.as_str())];
            emit.flag("textfile_scrape_error", label, !file.errors.is_empty());
            emit.push("textfile_errors", label, file.errors.len() as f64);
            if let Some(mtime) = file.mtime {
                let secs = mtime
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                emit.push("textfile_mtime_seconds", label, secs);
                let age = now
                    .duration_since(mtime)
                    .map(|d| d.as_secs_f64())
                    .unwrap_or(0.0);
                emit.push("textfile_age_seconds", label, age);
            }
            let source = format!("{dir_label}/{}", file.file);
            match file.errors.first() {
                Some(first) => self.failing.failed(
                    &source,
                    &format!(
                        "{} problem(s) in {dir_label}, first: {first}; the file's good lines are still used",
                        file.errors.len()
                    ),
                ),
                None => self.failing.recovered(&source),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
