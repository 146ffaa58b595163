//! Exec probe (`type = "exec"`): the escape hatch. Runs a command (a Nagios plugin, a site
//! script) every interval with a timeout and reads its result by the Nagios plugin protocol:
//! the exit code is the state, perfdata after `|` become samples. Emits, per `check`:
//! `exec_up`, `exec_state`, `exec_duration_ms`, `exec_error{reason}`,
//! `exec_perfdata_errors`, and one sample per perfdata item: `exec_perf`, `exec_perf_ms`,
//! `exec_perf_percent`, `exec_perf_bytes` or `exec_perf_total` by its unit, with a `label`
//! label. See `README.md` beside this file.

mod nagios;
pub(crate) mod run;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::Sample;
use serde::Deserialize;

use crate::sample_out::{Failing, Out, duration_field, interval_duration};
use crate::{CollectContext, Probe, ProbeError};
use run::{Ended, Spec};

/// Most perfdata items turned into samples per run; the rest are counted as errors, so a
/// plugin cannot flood the collector with series.
const MAX_PERF_ITEMS: usize = 256;

/// Longest perfdata label passed on as the `label` label; the collector refuses longer values.
const MAX_LABEL_BYTES: usize = crate::sample_out::series_limits::MAX_VALUE_BYTES;

/// Configuration of one `[[probe]] type = "exec"` section: one command, one `check`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// How often the command runs. Default `"60s"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// The `check` label, e.g. `"oracle_listener"`.
    pub name: String,
    /// Program and arguments, run directly (no shell): `["/usr/lib/nagios/plugins/check_disk",
    /// "-w", "10%", "-p", "/"]`. A bare name is looked up in the agent's `PATH`.
    pub command: Vec<String>,
    /// Run `command`'s single element with `/bin/sh -c` (pipes, redirections). Default false.
    #[serde(default)]
    pub shell: bool,
    /// Killed (with every process it started) when still running after this. Default `"10s"`;
    /// must be shorter than the interval.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Most bytes read from stdout, and from stderr; more kills the command. Default 65536.
    #[serde(default = "default_max_output")]
    pub max_output_bytes: usize,
    /// Environment variables added to the agent's for this command.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

duration_field!(timeout_duration, "timeout");

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_max_output() -> usize {
    64 * 1024
}

/// Why a run gave no Nagios result; each is an `exec_error{reason}` series, reported every
/// round (0 or 1) so that an incident on one resolves when it clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// Could not be started.
    Spawn,
    /// Still running at the timeout; killed.
    Timeout,
    /// More output than `max_output_bytes`; killed.
    OutputLimit,
    /// stdout not UTF-8 text (binary, a NUL byte).
    BadOutput,
    /// Exit code outside 0–3.
    BadExit,
    /// Killed by a signal it was not sent by the agent.
    Signal,
}

impl Failure {
    const ALL: [Failure; 6] = [
        Self::Spawn,
        Self::Timeout,
        Self::OutputLimit,
        Self::BadOutput,
        Self::BadExit,
        Self::Signal,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::Spawn => "spawn",
            Self::Timeout => "timeout",
            Self::OutputLimit => "output_limit",
            Self::BadOutput => "bad_output",
            Self::BadExit => "bad_exit",
            Self::Signal => "signal",
        }
    }
}

/// Nagios state UNKNOWN, reported when the plugin gave no state of its own.
const UNKNOWN: i32 = 3;

/// One run interpreted.
#[derive(Debug)]
struct Verdict {
    state: i32,
    failure: Option<(Failure, String)>,
    output: nagios::Output,
}

fn interpret(finished: &run::Finished, timeout: Duration, limit: usize) -> Verdict {
    let fail = |failure: Failure, why: String| Verdict {
        state: UNKNOWN,
        failure: Some((failure, why)),
        output: nagios::Output::default(),
    };
    let status = match &finished.ended {
        Ended::SpawnFailed(e) => return fail(Failure::Spawn, e.clone()),
        Ended::TimedOut => {
            return fail(
                Failure::Timeout,
                format!("still running after {}ms: killed", timeout.as_millis()),
            );
        }
        Ended::OutputLimit => {
            return fail(
                Failure::OutputLimit,
                format!("wrote more than {limit} bytes: killed"),
            );
        }
        Ended::Exited(status) => status,
    };
    let Some(code) = status.code() else {
        use std::os::unix::process::ExitStatusExt;
        let signal = status.signal().unwrap_or(0);
        return fail(Failure::Signal, format!("killed by signal {signal}"));
    };
    let text = match std::str::from_utf8(&finished.stdout) {
        Ok(t) if !t.contains('\0') => t,
        _ => return fail(Failure::BadOutput, "stdout is not text".into()),
    };
    if !(0..=3).contains(&code) {
        let first = text.lines().next().unwrap_or("").trim();
        return fail(
            Failure::BadExit,
            format!("exit code {code} is not a Nagios state (0-3): {first}"),
        );
    }
    Verdict {
        state: code,
        failure: None,
        output: nagios::parse(text),
    }
}

/// The running exec probe.
#[derive(Debug)]
pub struct ExecProbe {
    check: String,
    spec: Spec,
    failing: Failing,
    bad_perf_logged: bool,
}

impl ExecProbe {
    pub fn new(config: &ExecConfig) -> Result<Self, ProbeError> {
        let mut errors = Vec::new();
        if config.name.trim().is_empty() {
            errors.push("name: must not be empty (it is the `check` label)".to_owned());
        }
        match (config.command.first(), config.shell) {
            (None, _) => errors.push("command: give the program and its arguments".to_owned()),
            (Some(p), _) if p.is_empty() => {
                errors.push("command: the program name is empty".to_owned())
            }
            (Some(_), true) if config.command.len() != 1 => errors
                .push("command: with shell = true give one string, the shell command".to_owned()),
            _ => {}
        }
        if config.timeout.is_zero() || config.timeout >= config.interval {
            errors.push(format!(
                "timeout: {}ms must be above 0 and below the interval ({}ms)",
                config.timeout.as_millis(),
                config.interval.as_millis()
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&config.max_output_bytes) {
            errors.push("max_output_bytes: between 1024 and 16777216".to_owned());
        }
        for name in config.env.keys() {
            if name.is_empty() || name.contains('=') || name.contains('\0') {
                errors.push(format!("env: '{name}' is not a variable name"));
            }
        }
        if !errors.is_empty() {
            return Err(ProbeError::Config(format!("exec: {}", errors.join("; "))));
        }
        let argv = if config.shell {
            vec![
                "/bin/sh".to_owned(),
                "-c".to_owned(),
                config.command[0].clone(),
            ]
        } else {
            config.command.clone()
        };
        Ok(Self {
            check: config.name.clone(),
            spec: Spec {
                argv,
                env: config.env.clone(),
                timeout: config.timeout,
                max_output_bytes: config.max_output_bytes,
            },
            failing: Failing::new("exec"),
            bad_perf_logged: false,
        })
    }
}

#[async_trait]
impl Probe for ExecProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let finished = run::run(&self.spec).await;
        let verdict = interpret(&finished, self.spec.timeout, self.spec.max_output_bytes);
        let source = format!("check {}", self.check);
        match &verdict.failure {
            Some((failure, why)) => {
                let stderr = String::from_utf8_lossy(&finished.stderr);
                let stderr = stderr.lines().next().unwrap_or("").trim();
                let message = if stderr.is_empty() {
                    format!("exec_up 0, reason {}: {why}", failure.label())
                } else {
                    format!(
                        "exec_up 0, reason {}: {why}; stderr: {stderr}",
                        failure.label()
                    )
                };
                self.failing.failed(&source, &message);
            }
            None => self.failing.recovered(&source),
        }

        let check = [("check", self.check.as_str())];
        let mut emit = Out::new(out, ctx.now_ms);
        emit.flag("exec_up", check, verdict.failure.is_none());
        emit.push("exec_state", check, f64::from(verdict.state));
        emit.push(
            "exec_duration_ms",
            check,
            finished.duration.as_secs_f64() * 1000.0,
        );
        for failure in Failure::ALL {
            let on = verdict.failure.as_ref().is_some_and(|(f, _)| *f == failure);
            emit.flag(
                "exec_error",
                [("check", self.check.as_str()), ("reason", failure.label())],
                on,
            );
        }
        let mut bad = verdict.output.bad.clone();
        let mut seen = HashSet::new();
        for item in &verdict.output.perf {
            let metric = item.unit.metric();
            if item.label.len() > MAX_LABEL_BYTES {
                bad.push(format!(
                    "a label longer than {MAX_LABEL_BYTES} bytes ('{}...')",
                    item.label.chars().take(32).collect::<String>()
                ));
            } else if seen.len() >= MAX_PERF_ITEMS {
                bad.push(format!(
                    "'{}': more than {MAX_PERF_ITEMS} items",
                    item.label
                ));
            } else if !seen.insert((metric, item.label.as_str())) {
                bad.push(format!("'{}': label given twice", item.label));
            } else {
                emit.push(
                    metric,
                    [
                        ("check", self.check.as_str()),
                        ("label", item.label.as_str()),
                    ],
                    item.value,
                );
            }
        }
        emit.push("exec_perfdata_errors", check, bad.len() as f64);
        if bad.is_empty() {
            self.bad_perf_logged = false;
        } else if !self.bad_perf_logged {
            self.bad_perf_logged = true;
            tracing::warn!(probe = "exec", check = %self.check, errors = bad.len(),
                first = %bad[0], "perfdata items skipped; the others are kept (logged once until clean)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
