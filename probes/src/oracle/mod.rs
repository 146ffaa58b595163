//! Oracle probe (`type = "oracle"`): one `[[probe]]` section per database.
//!
//! Emits, every sample labelled `db`:
//! `oracle_up`; `oracle_tablespace_used_percent`, `oracle_tablespace_used_bytes`,
//! `oracle_tablespace_max_bytes` (+ `tablespace`, `contents`); `oracle_archive_log_used_percent`;
//! `oracle_recovery_area_used_percent`; `oracle_archive_dest_error` (+ `dest`);
//! `oracle_sessions`, `oracle_sessions_used_percent`, `oracle_processes`,
//! `oracle_processes_used_percent`; `oracle_rman_backups`, `oracle_rman_backup_age_hours`;
//! `oracle_alert_log_errors_total` (+ `code`) and the tailer's `oracle_alert_log_rotations_total`,
//! `_truncations_total`, `_oversized_records_total`, `_lost_files_total`, `_state_errors_total`
//! when `alert_log` is set.
//! Definitions: `README.md` beside this file and `docs/metrics.md`; setup: `docs/oracle.md`.
//!
//! The `oracle` crate is blocking, so each database gets one worker thread (`worker.rs`) and
//! every round has two bounds: the crate's call timeout per round trip (`query_timeout`) and
//! an outer `timeout` on the whole round, which also covers a connect that hangs. A round that
//! overruns yields `oracle_up 0`; the next rounds are skipped (still `oracle_up 0`) until the
//! stuck one returns, so a hung database costs one thread, never the agent's other probes.

pub mod alert_log;
pub mod depth;
pub mod failure;
pub mod mapping;
pub mod recorded;
pub mod rows;
mod session;
pub mod source;
pub mod sql;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use patrol_proto::{Labels, Sample};
use serde::Deserialize;

use crate::secret::Secret;
use crate::tail::counted::{SharedLog, lock, poll_blocking, stats_samples};
use crate::{BuildContext, CollectContext, Probe, ProbeError};
use failure::{FailureKind, OracleFailure};
use source::OracleSource;
use worker::{Round, Worker};

/// Configuration of one `[[probe]] type = "oracle"` section (one database).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OracleConfig {
    /// Value of the `db` label on every sample, e.g. `"ORCL"`. Letters, digits, `_ - .`.
    pub db: String,
    /// EZConnect string (`"dbhost:1521/ORCLPDB1"`, `"dbhost/ORCL?connect_timeout=5"` with a
    /// 19c+ client) or a TNS alias from `tnsnames.ora` (`TNS_ADMIN`).
    pub connect: String,
    /// The monitoring user (see `docs/oracle-grants.sql` for what it needs; no SYSDBA).
    pub user: String,
    /// File whose first line is the password. Must not be accessible to other users
    /// (`chmod 600`, or 640 with the agent's group). Exactly one of `password_file` and
    /// `password_env`.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the password.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Never accepted: only here to explain where the password goes instead.
    #[serde(default, deserialize_with = "no_inline_password")]
    #[doc(hidden)]
    pub password: Option<std::convert::Infallible>,
    /// How often the probe runs. Default `"1m"`.
    #[serde(default = "default_interval", deserialize_with = "interval_duration")]
    pub interval: Duration,
    /// Bound on every round trip to the database (ODPI-C call timeout; needs an Oracle client
    /// 18.1 or newer). Default `"10s"`.
    #[serde(
        default = "default_query_timeout",
        deserialize_with = "query_timeout_duration"
    )]
    pub query_timeout: Duration,
    /// Bound on the whole round (connect plus every query). Past it `oracle_up` is 0 and the
    /// round is abandoned to its thread. Default `"30s"`; must be below `interval`.
    #[serde(default = "default_timeout", deserialize_with = "timeout_duration")]
    pub timeout: Duration,
    /// Directory of the Oracle client library (`libclntsh.so`), e.g.
    /// `"/opt/oracle/instantclient_23_5"`. Default: the system's library search path.
    #[serde(default)]
    pub client_lib_dir: Option<PathBuf>,
    /// Path of the alert log (`.../diag/rdbms/<db>/<SID>/trace/alert_<SID>.log`); when set,
    /// `oracle_alert_log_errors_total{code}` counts the `ORA-` codes written to it.
    #[serde(default)]
    pub alert_log: Option<PathBuf>,
    /// The agent runs on the database host, so plain (non-FRA) archive destinations are
    /// measured with `statvfs` for `oracle_archive_log_used_percent`. Default `true`; set to
    /// `false` when monitoring a remote database.
    #[serde(default = "default_true")]
    pub local_archive_dest: bool,
    /// A user call (`v$session` ACTIVE, `last_call_et`) running longer than this counts in
    /// `oracle_long_running_sql`. Default `"10m"`.
    #[serde(
        default = "default_long_sql",
        deserialize_with = "long_sql_threshold_duration"
    )]
    pub long_sql_threshold: Duration,
    /// How many statements of `v$sqlstats` (active in the last hour, most CPU first) are
    /// reported as `oracle_top_sql_*{sql_id}`. Default 10; 0 to 50.
    #[serde(default = "default_top_sql")]
    pub top_sql: usize,
    /// `"sysdg"` to connect AS SYSDG: a MOUNTED physical standby (Data Guard without Active
    /// Data Guard) accepts no other non-SYS logins. Default: a normal session.
    #[serde(default)]
    pub connect_as: Option<ConnectAs>,
}

/// An administrative privilege to connect with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectAs {
    /// Oracle 12c+ Data Guard administration: reads v$ views on a mounted standby.
    Sysdg,
}

fn default_interval() -> Duration {
    Duration::from_secs(60)
}
fn default_query_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_true() -> bool {
    true
}
fn default_long_sql() -> Duration {
    Duration::from_secs(600)
}
fn default_top_sql() -> usize {
    10
}

crate::sample_out::duration_field!(query_timeout_duration, "query_timeout");
crate::sample_out::duration_field!(timeout_duration, "timeout");
crate::sample_out::duration_field!(long_sql_threshold_duration, "long_sql_threshold");
use crate::sample_out::interval_duration;

fn no_inline_password<'de, D: serde::Deserializer<'de>>(
    _: D,
) -> Result<Option<std::convert::Infallible>, D::Error> {
    Err(serde::de::Error::custom(
        "password: an inline password is not accepted; put it in a file only the agent can read \
         (password_file, chmod 600) or in an environment variable (password_env)",
    ))
}

/// The checked form of [`OracleConfig`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub db: String,
    pub timeout: Duration,
    pub alert_log: Option<PathBuf>,
    pub local_archive_dest: bool,
    pub thresholds: depth::Thresholds,
    session: session::SessionParams,
}

impl OracleConfig {
    /// Checks every field and reports all problems at once, each naming its field. Reads the
    /// password once, so a wrong source fails at start-up, not at the first round.
    pub fn validate(&self) -> Result<Settings, ProbeError> {
        let mut errors = Vec::new();
        let valid_db = !self.db.is_empty()
            && self
                .db
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if !valid_db {
            errors.push(format!(
                "db: {:?} must be non-empty letters, digits, '_', '-' or '.'",
                self.db
            ));
        }
        if self.connect.trim().is_empty() {
            errors.push("connect: must not be empty".to_owned());
        }
        if self.user.trim().is_empty() {
            errors.push("user: must not be empty".to_owned());
        }
        let password = match Secret::choose(
            "password",
            None,
            self.password_file.as_deref(),
            self.password_env.as_deref(),
        ) {
            Ok(Some(source)) => Some(source),
            Ok(None) => {
                errors.push("set password_file or password_env".to_owned());
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        };
        if let Some(Err(e)) = password.as_ref().map(Secret::read) {
            errors.push(e);
        }
        if self.query_timeout.is_zero() || self.timeout.is_zero() {
            errors.push("query_timeout and timeout: must be greater than 0".to_owned());
        }
        if self.query_timeout > self.timeout {
            errors.push("query_timeout: must not exceed timeout".to_owned());
        }
        if self.long_sql_threshold.is_zero() {
            errors.push("long_sql_threshold: must be greater than 0".to_owned());
        }
        if self.top_sql > depth::MAX_TOP_SQL {
            errors.push(format!(
                "top_sql: {} is more than the {} statements the query returns",
                self.top_sql,
                depth::MAX_TOP_SQL
            ));
        }
        if self.timeout >= self.interval {
            errors.push(
                "timeout: must be below interval (a round must end before the next starts)"
                    .to_owned(),
            );
        }
        let Some(password) = password.filter(|_| errors.is_empty()) else {
            return Err(ProbeError::Config(format!(
                "oracle '{}': {}",
                self.db,
                errors.join("; ")
            )));
        };
        Ok(Settings {
            db: self.db.clone(),
            timeout: self.timeout,
            alert_log: self.alert_log.clone(),
            local_archive_dest: self.local_archive_dest,
            thresholds: depth::Thresholds {
                long_sql: self.long_sql_threshold,
                top_sql: self.top_sql,
                interval: self.interval,
            },
            session: session::SessionParams {
                connect: self.connect.clone(),
                user: self.user.clone(),
                password,
                call_timeout: self.query_timeout,
                client_lib_dir: self.client_lib_dir.clone(),
                sysdg: self.connect_as == Some(ConnectAs::Sysdg),
            },
        })
    }
}

/// The running probe for one database.
pub struct OracleProbe {
    db: String,
    timeout: Duration,
    thresholds: depth::Thresholds,
    worker: Worker,
    alert_log: Option<SharedLog<alert_log::AlertCounts>>,
    /// What was last logged, so a lasting condition is logged once, not every round.
    last_failure: Option<(FailureKind, String)>,
    logged_notes: Vec<String>,
    alert_log_failing: bool,
    /// ORA-00060 count at the previous round, for `oracle_deadlocks`.
    deadlocks_seen: u64,
}

impl std::fmt::Debug for OracleProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OracleProbe")
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

impl OracleProbe {
    /// Validates the config and starts the database's worker thread on the real source.
    /// The alert log's read position is kept in `ctx.state_dir`.
    pub fn new(config: OracleConfig, ctx: &BuildContext) -> Result<Self, ProbeError> {
        let settings = config.validate()?;
        let source = Box::new(session::Session::new(settings.session.clone()));
        Self::with_source(&settings, source, ctx)
    }

    /// The probe on any source (tests use `recorded::RecordedSource`).
    pub fn with_source(
        settings: &Settings,
        source: Box<dyn OracleSource>,
        ctx: &BuildContext,
    ) -> Result<Self, ProbeError> {
        let alert_log = match &settings.alert_log {
            Some(path) => Some(Arc::new(Mutex::new(
                alert_log::open(&settings.db, path, &ctx.state_dir, ctx.persist_state)
                    .map_err(|e| ProbeError::Config(format!("oracle '{}': {e}", settings.db)))?,
            ))),
            None => None,
        };
        // Counts saved before a restart are not new deadlocks.
        let deadlocks_seen = alert_log.as_ref().map_or(0, |log| {
            lock(log)
                .counts()
                .counts()
                .get(&alert_log::code_label(alert_log::DEADLOCK))
                .copied()
                .unwrap_or(0)
        });
        let meter = settings
            .local_archive_dest
            .then_some(source::statvfs_used_percent as source::FsMeter);
        let worker =
            Worker::spawn(&settings.db, source, meter).map_err(|e| ProbeError::Unavailable {
                source_name: "oracle worker thread",
                message: e.to_string(),
            })?;
        Ok(Self {
            db: settings.db.clone(),
            timeout: settings.timeout,
            thresholds: settings.thresholds,
            worker,
            alert_log,
            last_failure: None,
            logged_notes: Vec::new(),
            alert_log_failing: false,
            deadlocks_seen,
        })
    }

    /// Logs a failure when it starts or changes; the same failure round after round is quiet.
    fn failed(&mut self, failure: &OracleFailure) {
        let key = (failure.kind, failure.message.clone());
        if self.last_failure.as_ref() != Some(&key) {
            tracing::warn!(
                probe = "oracle",
                db = %self.db,
                reason = failure.kind.name(),
                "oracle_up 0: {}; {}",
                failure.message,
                failure.kind.hint()
            );
            self.last_failure = Some(key);
        }
    }

    fn recovered(&mut self) {
        if self.last_failure.take().is_some() {
            tracing::info!(probe = "oracle", db = %self.db, "database reachable again");
        }
    }

    /// Logs each remark once while it lasts.
    fn notes(&mut self, notes: Vec<String>) {
        for note in &notes {
            if !self.logged_notes.contains(note) {
                tracing::warn!(probe = "oracle", db = %self.db, "{note}");
            }
        }
        self.logged_notes = notes;
    }

    /// Reads the alert log on a blocking thread (the shared tailer's file I/O) and reports
    /// its counts, whatever the database's state.
    async fn collect_alert_log(&mut self, now_ms: i64, out: &mut Vec<Sample>) {
        let Some(log) = &self.alert_log else {
            return;
        };
        match poll_blocking(log, alert_log::MAX_READ_PER_ROUND).await {
            Ok(_) => self.alert_log_failing = false,
            Err(e) => {
                if !std::mem::replace(&mut self.alert_log_failing, true) {
                    tracing::warn!(probe = "oracle", db = %self.db, "alert_log: {e}; alert log skipped until readable");
                }
            }
        }
        let db = Labels::from_pairs([("db", self.db.as_str())]);
        let log = lock(log);
        // ORA-00060 "deadlock detected" is written to the alert log with its trace file.
        let deadlocks = log
            .counts()
            .counts()
            .get(&alert_log::code_label(alert_log::DEADLOCK))
            .copied()
            .unwrap_or(0);
        out.push(Sample::new(
            "oracle_deadlocks_total",
            db.clone(),
            deadlocks as f64,
            now_ms,
        ));
        out.push(Sample::new(
            "oracle_deadlocks",
            db.clone(),
            deadlocks.saturating_sub(self.deadlocks_seen) as f64,
            now_ms,
        ));
        self.deadlocks_seen = deadlocks;
        for (code, count) in log.counts().counts() {
            let mut labels = db.clone();
            labels.insert("code", code.as_str());
            out.push(Sample::new(
                "oracle_alert_log_errors_total",
                labels,
                *count as f64,
                now_ms,
            ));
        }
        stats_samples(
            "oracle_alert_log",
            &db,
            log.stats(),
            log.save_failures,
            now_ms,
            out,
        );
    }
}

/// Part failures worth a log line: which query, and why.
fn part_failures(snap: &rows::Snapshot) -> Vec<String> {
    let d = &snap.depth;
    let parts: [(&str, Option<&OracleFailure>); 14] = [
        ("tablespaces", snap.tablespaces.as_ref().err()),
        ("recovery area", snap.recovery_dest.as_ref().err()),
        ("recovery area usage", snap.recovery_usage.as_ref().err()),
        ("archive destinations", snap.archive_dests.as_ref().err()),
        ("sessions/processes", snap.resource_limits.as_ref().err()),
        ("rman backups", snap.rman.as_ref().err()),
        ("data guard lags", d.dataguard.as_ref().err()),
        ("blocking sessions", d.blocking.as_ref().err()),
        ("long-running sql", d.active_calls.as_ref().err()),
        ("top sql", d.top_sql.as_ref().err()),
        ("scheduler failures", d.scheduler_failures.as_ref().err()),
        ("broken scheduler jobs", d.scheduler_broken.as_ref().err()),
        ("data file i/o", d.file_io.as_ref().err()),
        ("invalid objects", d.invalid_objects.as_ref().err()),
    ];
    parts
        .into_iter()
        .filter_map(|(what, e)| e.map(|e| (what, e)))
        .filter(|(_, e)| e.kind != FailureKind::NotOpen)
        .map(|(what, e)| format!("{what} not collected: {e}"))
        .collect()
}

#[async_trait]
impl Probe for OracleProbe {
    async fn collect(
        &mut self,
        ctx: CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), ProbeError> {
        let down = |out: &mut Vec<Sample>, db: &str| {
            out.push(Sample::new(
                "oracle_up",
                Labels::from_pairs([("db", db)]),
                0.0,
                ctx.now_ms,
            ));
        };
        match self.worker.round(self.timeout).await {
            Round::Done(Ok(snap)) => {
                self.recovered();
                let mut mapped = mapping::map_snapshot(&self.db, &snap, ctx.now_ms);
                if mapping::is_up(&snap.instance) {
                    depth::map_depth(
                        &self.db,
                        &snap.depth,
                        &self.thresholds,
                        ctx.now_ms,
                        &mut mapped,
                    );
                }
                out.extend(mapped.samples);
                let mut notes = mapped.notes;
                notes.extend(part_failures(&snap));
                self.notes(notes);
            }
            Round::Done(Err(failure)) => {
                self.failed(&failure);
                down(out, &self.db);
            }
            Round::TimedOut => {
                self.failed(&OracleFailure::round_timeout(self.timeout));
                down(out, &self.db);
            }
            Round::StillStuck => {
                self.failed(&OracleFailure {
                    kind: FailureKind::Timeout,
                    message: "the previous round is still waiting for the database; round skipped"
                        .into(),
                });
                down(out, &self.db);
            }
            Round::WorkerGone => {
                down(out, &self.db);
                self.collect_alert_log(ctx.now_ms, out).await;
                return Err(ProbeError::Unavailable {
                    source_name: "oracle worker thread",
                    message: "it stopped (a bug: please report it with the agent's log)".into(),
                });
            }
        }
        self.collect_alert_log(ctx.now_ms, out).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
