//! Log-pattern probe (`type = "log_pattern"`): counts the records of any log file that match
//! named regular expressions, following rotation like the WebLogic probe (it uses the same
//! [`crate::tail`]). Metrics are listed in `README.md` beside this file.
//!
//! Emits `log_pattern_matches_total{log,pattern}`, `log_pattern_matches{log,pattern}` (in the
//! last interval), `log_pattern_records_total{log}`, `log_pattern_ok{log}` and the tailer's
//! `log_pattern_rotations_total`, `log_pattern_truncations_total`,
//! `log_pattern_oversized_records_total`, `log_pattern_lost_files_total`,
//! `log_pattern_state_errors_total` (all `{log}`), and
//! `log_pattern_last_match_age_seconds{log,pattern}` (seconds since a record matching the
//! pattern was last read, or since counting began when none has been yet: what a "no
//! successful backup in 26 h" rule compares).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use regex::bytes::{Regex, RegexSet};
use serde::{Deserialize, Serialize};

use crate::sample_out::interval_duration;
use crate::tail::counted::{CountedLog, Counter, SharedLog, lock, poll_blocking, stats_samples};
use crate::tail::{Record, RecordStart, StartAt, TailSpec, split_path, state};
use crate::{BuildContext, CollectContext, DEFAULT_INTERVAL, Probe, ProbeError};

/// Configuration of one `[[probe]] type = "log_pattern"` section.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LogPatternConfig {
    /// How often the log is read. Default `"10s"`; `log_pattern_matches` counts what was
    /// logged during this interval.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The log file being written.
    pub path: PathBuf,
    /// The `log` label. Default: `path`.
    #[serde(default)]
    pub name: Option<String>,
    /// Names of its rotated files in the same directory (`*`, `?`, `[...]`). Default
    /// `<file name>?*` (`app.log.1`, `app.log-20240101` ...). Compressed ones are skipped.
    #[serde(default)]
    pub rotated: Option<String>,
    /// Regex that a record's first line matches, for multi-line records (e.g.
    /// `'^\d{4}-\d\d-\d\dT'`). Default: every line is a record.
    #[serde(default)]
    pub record_start: Option<String>,
    /// The patterns counted, each a `[[probe.pattern]]` with `name` and `regex`.
    #[serde(rename = "pattern")]
    pub patterns: Vec<PatternConfig>,
    /// Longest record kept, in bytes. Default 65536.
    #[serde(default = "default_max_record")]
    pub max_record_bytes: usize,
    /// Most bytes read per round. Default 67108864 (64 MiB).
    #[serde(default = "default_max_read")]
    pub max_read_bytes: u64,
    /// Where to start in a log met for the first time: `"end"` (default) or `"beginning"`.
    #[serde(default)]
    pub start_at: StartAt,
}

/// One `[[probe.pattern]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PatternConfig {
    /// The `pattern` label.
    pub name: String,
    /// Regular expression (Rust `regex` syntax) searched in each record; a record counts
    /// once per pattern however often it matches.
    pub regex: String,
}

fn default_interval() -> Duration {
    DEFAULT_INTERVAL
}
fn default_max_record() -> usize {
    64 * 1024
}
fn default_max_read() -> u64 {
    64 * 1024 * 1024
}

/// Match counts of one log.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PatternCounts {
    /// Records read.
    pub records: u64,
    /// Matching records by pattern name (by name, so reordering patterns keeps counts).
    pub matches: BTreeMap<String, u64>,
    /// When the newest matching record of each pattern was read (ms since the epoch), saved
    /// with the position so a restart keeps it.
    pub last_match_ms: BTreeMap<String, i64>,
    /// When this log was first counted (ms since the epoch): the age reported for a pattern
    /// that has not matched yet.
    pub since_ms: Option<i64>,
    /// The round's time, stamped on matches as they are counted.
    #[serde(skip)]
    now_ms: i64,
    #[serde(skip)]
    interval: Vec<u64>,
    #[serde(skip)]
    set: Option<Arc<(RegexSet, Vec<String>)>>,
}

impl Counter for PatternCounts {
    fn count(&mut self, record: Record<'_>) {
        self.records += 1;
        let Some(set) = &self.set else { return };
        let (regexes, names) = &**set;
        for i in regexes.matches(record.bytes).into_iter() {
            *self.matches.entry(names[i].clone()).or_default() += 1;
            self.last_match_ms.insert(names[i].clone(), self.now_ms);
            if let Some(n) = self.interval.get_mut(i) {
                *n += 1;
            }
        }
    }
}

/// The running log-pattern probe.
#[derive(Debug)]
pub struct LogPatternProbe {
    labels: Labels,
    names: Vec<String>,
    log: SharedLog<PatternCounts>,
    max_read_bytes: u64,
    failing: bool,
}

impl LogPatternProbe {
    pub fn new(config: &LogPatternConfig, ctx: &BuildContext) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        let split = split_path(&config.path);
        if split.is_none() {
            errors.push("path: a log file path in UTF-8".to_owned());
        }
        if config.patterns.is_empty() {
            errors.push("pattern: list at least one [[probe.pattern]]".to_owned());
        }
        for (i, p) in config.patterns.iter().enumerate() {
            if p.name.trim().is_empty() {
                errors.push(format!("pattern[{i}].name: must not be empty"));
            }
            if config.patterns[..i].iter().any(|o| o.name == p.name) {
                errors.push(format!("pattern[{i}].name: '{}' is listed twice", p.name));
            }
            if let Err(e) = Regex::new(&p.regex) {
                errors.push(format!("pattern[{i}].regex: {e}"));
            }
        }
        let record_start = match &config.record_start {
            None => Some(RecordStart::EveryLine),
            Some(r) => Regex::new(r)
                .map(RecordStart::Regex)
                .map_err(|e| errors.push(format!("record_start: {e}")))
                .ok(),
        };
        if !(16..=16 * 1024 * 1024).contains(&config.max_record_bytes) {
            errors.push("max_record_bytes: between 16 and 16777216".to_owned());
        }
        if config.max_read_bytes < 65536 {
            errors.push("max_read_bytes: at least 65536".to_owned());
        }
        let rotated = split.as_ref().and_then(|(_, file)| {
            let text = config
                .rotated
                .clone()
                .unwrap_or_else(|| format!("{}?*", glob::Pattern::escape(file)));
            glob::Pattern::new(&text)
                .map_err(|e| errors.push(format!("rotated: {e}")))
                .ok()
        });
        let (Some((dir, file)), Some(record_start), Some(rotated), true) =
            (split, record_start, rotated, errors.is_empty())
        else {
            return Err(ProbeError::Config(format!(
                "log_pattern: {}",
                errors.join("; ")
            )));
        };
        let names: Vec<String> = config.patterns.iter().map(|p| p.name.clone()).collect();
        let set = RegexSet::new(config.patterns.iter().map(|p| &p.regex))
            .map_err(|e| ProbeError::Config(format!("log_pattern: pattern: {e}")))?;
        let log_label = config
            .name
            .clone()
            .unwrap_or_else(|| config.path.to_string_lossy().into_owned());
        let state_name =
            state::file_name("log_pattern", &[&log_label, &config.path.to_string_lossy()]);
        let spec = TailSpec {
            dir,
            active: file,
            rotated: Some(rotated),
            record_start,
            max_record_bytes: config.max_record_bytes,
            start_at: config.start_at,
        };
        let mut log = CountedLog::<PatternCounts>::open(
            spec,
            ctx.state_dir.join(state_name),
            ctx.persist_state,
        );
        let counts = log.counts_mut();
        counts.interval = vec![0; names.len()];
        counts.set = Some(Arc::new((set, names.clone())));
        Ok(Self {
            labels: Labels::from_pairs([("log", log_label)]),
            names,
            log: Arc::new(Mutex::new(log)),
            max_read_bytes: config.max_read_bytes,
            failing: false,
        })
    }
}

#[async_trait]
impl Probe for LogPatternProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let now = ctx.now_ms;
        {
            let mut log = lock(&self.log);
            let counts = log.counts_mut();
            counts.now_ms = now;
            counts.since_ms.get_or_insert(now);
        }
        let polled = poll_blocking(&self.log, self.max_read_bytes).await;
        match &polled {
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(probe = "log_pattern", log = self.labels.get("log"), error = %e,
                    "cannot read the log; log_pattern_ok is 0 until it recovers");
            }
            Ok(_) if self.failing => {
                self.failing = false;
                tracing::info!(
                    probe = "log_pattern",
                    log = self.labels.get("log"),
                    "log readable again"
                );
            }
            _ => {}
        }
        let ok = if polled.is_ok() { 1.0 } else { 0.0 };
        out.push(Sample::new("log_pattern_ok", self.labels.clone(), ok, now));
        let mut log = lock(&self.log);
        let (stats, save_failures) = (log.stats(), log.save_failures);
        let counts = log.counts_mut();
        out.push(Sample::new(
            "log_pattern_records_total",
            self.labels.clone(),
            counts.records as f64,
            now,
        ));
        for (i, name) in self.names.iter().enumerate() {
            let mut labels = self.labels.clone();
            labels.insert("pattern", name.as_str());
            let total = counts.matches.get(name).copied().unwrap_or(0);
            let recent = counts.interval.get_mut(i).map(std::mem::take).unwrap_or(0);
            out.push(Sample::new(
                "log_pattern_matches_total",
                labels.clone(),
                total as f64,
                now,
            ));
            out.push(Sample::new(
                "log_pattern_matches",
                labels.clone(),
                recent as f64,
                now,
            ));
            // Read time, not the time written in the record: at most one interval late, and
            // for records read at first start (start_at = "beginning") the time of that read.
            let last = counts.last_match_ms.get(name).copied().or(counts.since_ms);
            if let Some(last) = last {
                out.push(Sample::new(
                    "log_pattern_last_match_age_seconds",
                    labels,
                    (now - last).max(0) as f64 / 1000.0,
                    now,
                ));
            }
        }
        stats_samples("log_pattern", &self.labels, stats, save_failures, now, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProbeConfig;
    use crate::sample_out::round;

    fn value(out: &[Sample], name: &str, pattern: Option<&str>) -> f64 {
        out.iter()
            .find(|s| s.name == name && pattern.is_none_or(|p| s.labels.get("pattern") == Some(p)))
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("{name} {pattern:?} missing from {out:?}"))
    }

    fn config(dir: &std::path::Path, extra: &str) -> ProbeConfig {
        let text = format!(
            "type = \"log_pattern\"\npath = {:?}\nname = \"alert\"\nstart_at = \"beginning\"\n{extra}\n\
             [[pattern]]\nname = \"ora\"\nregex = 'ORA-\\d+'\n[[pattern]]\nname = \"deadlock\"\nregex = '(?i)deadlock'\n",
            dir.join("alert.log").display().to_string()
        );
        toml::from_str(&text).expect("config parses")
    }

    #[tokio::test]
    async fn counts_matching_multi_line_records_across_rotation_and_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        let ctx = BuildContext::new(&state);
        let log = dir.path().join("alert.log");
        let cfg = config(dir.path(), "record_start = '^\\d{4}-\\d\\d-\\d\\dT'");
        std::fs::write(
            &log,
            "2021-12-21T10:19:47.339827-05:00\nErrors in file x.trc:\nORA-12012: error\nORA-06512: at line 1\n\
             2021-12-21T10:19:48.000000+01:00\nORA-00060: Deadlock detected.\n2021-12-21T10:19:49.0Z\nall fine\n",
        )
        .expect("write");
        let mut probe = cfg.build(&ctx).expect("builds");
        let out = round(&mut probe).await;
        // The last record waits for the next one (or a quiet round).
        assert_eq!(value(&out, "log_pattern_matches_total", Some("ora")), 2.0);
        assert_eq!(
            value(&out, "log_pattern_matches_total", Some("deadlock")),
            1.0
        );
        assert_eq!(value(&out, "log_pattern_matches", Some("ora")), 2.0);
        let out = round(&mut probe).await;
        assert_eq!(value(&out, "log_pattern_records_total", None), 3.0);
        assert_eq!(
            value(&out, "log_pattern_matches", Some("ora")),
            0.0,
            "interval reset"
        );

        // Rotated by rename, then more written to the new file; a restarted probe continues.
        drop(probe);
        std::fs::rename(&log, dir.path().join("alert.log.1")).expect("rotate");
        std::fs::write(&log, "2021-12-22T00:00:00Z\nORA-00600: internal error\n").expect("write");
        let mut probe = cfg.build(&ctx).expect("rebuilds");
        round(&mut probe).await;
        let out = round(&mut probe).await;
        assert_eq!(value(&out, "log_pattern_matches_total", Some("ora")), 3.0);
        assert_eq!(value(&out, "log_pattern_records_total", None), 4.0);
        assert_eq!(value(&out, "log_pattern_rotations_total", None), 1.0);
        assert_eq!(value(&out, "log_pattern_ok", None), 1.0);
        crate::sample_out::assert_cataloged(&out);
    }

    /// The backup-outcome use: seconds since the last "completed successfully" line, counted
    /// from the first round when none was seen yet, and kept across a restart.
    #[tokio::test]
    async fn last_match_age_follows_the_newest_match_and_survives_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ctx = BuildContext::new(dir.path().join("state"));
        let log = dir.path().join("backup.log");
        let text = format!(
            "type = \"log_pattern\"\npath = {:?}\nname = \"nightly\"\n\
             [[pattern]]\nname = \"backup_success\"\nregex = 'completed successfully'\n\
             [[pattern]]\nname = \"backup_error\"\nregex = '(?i)error'\n",
            log.display().to_string()
        );
        let cfg: ProbeConfig = toml::from_str(&text).expect("config parses");
        std::fs::write(&log, "old run completed successfully\n").expect("write");
        let mut probe = cfg.build(&ctx).expect("builds");
        let age = |out: &[Sample], pattern: &str| {
            out.iter()
                .find(|s| {
                    s.name == "log_pattern_last_match_age_seconds"
                        && s.labels.get("pattern") == Some(pattern)
                })
                .map(|s| s.value)
                .unwrap_or_else(|| panic!("no age for {pattern} in {out:?}"))
        };
        let at = |now_ms: i64| CollectContext { now_ms };
        let mut out = Vec::new();
        probe.collect(at(1_000_000), &mut out).await.expect("round");
        // start_at = "end": the old line is not counted, so the age counts from this round.
        assert_eq!(age(&out, "backup_success"), 0.0);
        std::fs::write(
            &log,
            "old run completed successfully\nBackup job started\nBackup completed successfully\n",
        )
        .expect("append");
        out.clear();
        probe.collect(at(4_600_000), &mut out).await.expect("round");
        assert_eq!(age(&out, "backup_success"), 0.0, "matched in this round");
        assert_eq!(
            age(&out, "backup_error"),
            3600.0,
            "never matched: since counting began"
        );
        out.clear();
        probe
            .collect(at(94_600_000), &mut out)
            .await
            .expect("round");
        assert_eq!(age(&out, "backup_success"), 90_000.0);
        drop(probe);
        let mut probe = cfg.build(&ctx).expect("rebuilds");
        out.clear();
        probe
            .collect(at(98_200_000), &mut out)
            .await
            .expect("round");
        assert_eq!(
            age(&out, "backup_success"),
            93_600.0,
            "kept across the restart"
        );
        crate::sample_out::assert_cataloged(&out);
    }

    #[test]
    fn sample_toml_parses_and_builds() {
        for config in crate::sample_out::sample_probes(include_str!("sample.toml")) {
            crate::sample_out::build_sample(&config);
        }
    }

    #[tokio::test]
    async fn a_missing_log_is_a_status() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(&dir.path().join("nope"), "");
        let mut probe = cfg.build(&BuildContext::new(dir.path())).expect("builds");
        let out = round(&mut probe).await;
        assert_eq!(value(&out, "log_pattern_ok", None), 0.0);
        assert_eq!(value(&out, "log_pattern_matches_total", Some("ora")), 0.0);
    }

    #[test]
    fn bad_patterns_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(dir.path(), "record_start = '(unclosed'");
        let err = cfg
            .build(&BuildContext::new(dir.path()))
            .err()
            .expect("bad regex");
        assert!(err.to_string().contains("record_start:"), "{err}");
        let text = "type = \"log_pattern\"\npath = \"/x.log\"\npattern = [{ name = \"a\", regex = \"[\" }, { name = \"a\", regex = \"b\" }]\n";
        let cfg: ProbeConfig = toml::from_str(text).expect("parses");
        let err = cfg
            .build(&BuildContext::new(dir.path()))
            .err()
            .expect("bad");
        let err = err.to_string();
        assert!(
            err.contains("pattern[0].regex") && err.contains("listed twice"),
            "{err}"
        );
    }
}
