//! The depth queries' rows → samples (Data Guard lags, blocking sessions, long-running and
//! top SQL, scheduler failures, data file I/O, invalid objects): a pure function of one
//! round's [`Depth`] and the probe's thresholds, tested on recorded rows (`testdata/`). A
//! failed query gives no samples of its own; the probe logs it.

use std::collections::BTreeSet;
use std::time::Duration;

use patrol_proto::{Labels, Sample};

use super::mapping::Mapped;
use super::rows::Depth;

/// Most data files reported (a database has at most 65 533; a bound keeps a huge one from
/// flooding the collector with series).
pub const MAX_FILES: usize = 1024;
/// Most statements [`super::sql::TOP_SQL`] returns, so the most `top_sql` may ask for.
pub const MAX_TOP_SQL: usize = 50;
/// Job names listed in a log note.
const NOTE_JOBS: usize = 5;

/// What the depth mapping needs from the probe's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A user call running longer than this counts in `oracle_long_running_sql`.
    pub long_sql: Duration,
    /// How many of the top statements by CPU are reported.
    pub top_sql: usize,
    /// The probe's interval: failed scheduler runs younger than this are "since the last
    /// round".
    pub interval: Duration,
}

/// `+DD HH:MM:SS[.ffffff]`, Oracle's text of a day-to-second interval (`V$DATAGUARD_STATS`
/// `VALUE`), in seconds; `None` for anything else. A negative interval (clock skew between
/// primary and standby) counts as 0.
pub fn interval_seconds(text: &str) -> Option<f64> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'+') => (false, text.get(1..)?),
        Some(b'-') => (true, text.get(1..)?),
        _ => (false, text),
    };
    let (days, clock) = rest.split_once(' ')?;
    let days: u32 = days.parse().ok()?;
    let mut parts = clock.trim().splitn(3, ':');
    let hours: u32 = parts.next()?.parse().ok()?;
    let minutes: u32 = parts.next()?.parse().ok()?;
    let seconds: f64 = parts.next()?.parse().ok()?;
    if hours > 23 || minutes > 59 || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    let total = f64::from(days) * 86_400.0
        + f64::from(hours) * 3_600.0
        + f64::from(minutes) * 60.0
        + seconds;
    Some(if negative { 0.0 } else { total })
}

/// A statement ID as Oracle makes them (13 base-32 characters); anything else is not used
/// as a label.
fn is_sql_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_alphanumeric())
}

struct Out<'a> {
    db: &'a str,
    now_ms: i64,
    mapped: &'a mut Mapped,
}

impl Out<'_> {
    fn push(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        if !value.is_finite() {
            return;
        }
        let mut labels = Labels::from_pairs([("db", self.db)]);
        for (k, v) in extra {
            labels.insert(*k, *v);
        }
        self.mapped
            .samples
            .push(Sample::new(name, labels, value, self.now_ms));
    }
}

/// Appends the depth samples of one round (labelled `db`) and their log notes to `mapped`.
pub fn map_depth(db: &str, depth: &Depth, limits: &Thresholds, now_ms: i64, mapped: &mut Mapped) {
    let mut out = Out { db, now_ms, mapped };
    dataguard(&mut out, depth);
    if let Ok(b) = &depth.blocking {
        out.push("oracle_blocked_sessions", &[], b.blocked);
        out.push("oracle_blocking_sessions", &[], b.blockers);
        out.push(
            "oracle_blocked_wait_seconds",
            &[],
            b.longest_wait_seconds.max(0.0),
        );
    }
    long_sql(&mut out, depth, limits);
    if let Ok(rows) = &depth.top_sql {
        for row in rows
            .iter()
            .filter(|r| is_sql_id(&r.sql_id))
            .take(limits.top_sql.min(MAX_TOP_SQL))
        {
            let labels = [("sql_id", row.sql_id.as_str())];
            out.push(
                "oracle_top_sql_cpu_seconds_total",
                &labels,
                row.cpu_time / 1e6,
            );
            out.push(
                "oracle_top_sql_elapsed_seconds_total",
                &labels,
                row.elapsed_time / 1e6,
            );
            out.push("oracle_top_sql_executions_total", &labels, row.executions);
        }
    }
    scheduler(&mut out, depth, limits);
    if let Ok(rows) = &depth.file_io {
        for row in rows.iter().take(MAX_FILES) {
            let file = format!("{}", row.file_id);
            let labels = [
                ("tablespace", row.tablespace_name.as_str()),
                ("file", file.as_str()),
            ];
            out.push("oracle_datafile_reads_total", &labels, row.phyrds);
            out.push("oracle_datafile_writes_total", &labels, row.phywrts);
            // Centiseconds in the view.
            out.push(
                "oracle_datafile_read_seconds_total",
                &labels,
                row.readtim / 100.0,
            );
            out.push(
                "oracle_datafile_write_seconds_total",
                &labels,
                row.writetim / 100.0,
            );
        }
        if rows.len() > MAX_FILES {
            out.mapped.notes.push(format!(
                "{} data files: I/O reported for the first {MAX_FILES} only",
                rows.len()
            ));
        }
    }
    if let Ok(rows) = &depth.invalid_objects {
        let total: f64 = rows.iter().map(|r| r.objects).sum();
        out.push("oracle_invalid_objects", &[], total);
        for row in rows {
            let labels = [
                ("owner", row.owner.as_str()),
                ("type", row.object_type.as_str()),
            ];
            out.push("oracle_invalid_objects_by_type", &labels, row.objects);
        }
    }
}

fn dataguard(out: &mut Out<'_>, depth: &Depth) {
    let Ok(rows) = &depth.dataguard else { return };
    for row in rows {
        let metric = match row.name.to_ascii_lowercase().as_str() {
            "transport lag" => "oracle_dataguard_transport_lag_seconds",
            "apply lag" => "oracle_dataguard_apply_lag_seconds",
            _ => continue,
        };
        match row.value.as_deref().map(interval_seconds) {
            Some(Some(seconds)) => out.push(metric, &[], seconds),
            Some(None) => out.mapped.notes.push(format!(
                "Data Guard {}: value {:?} is not a day-to-second interval",
                row.name,
                row.value.as_deref().unwrap_or("")
            )),
            // Not computed yet (a standby just started, or apply is stopped): no sample
            // rather than a made-up 0.
            None => out.mapped.notes.push(format!(
                "Data Guard {} is not computed on this standby yet (v$dataguard_stats.value is empty)",
                row.name
            )),
        }
    }
}

fn long_sql(out: &mut Out<'_>, depth: &Depth, limits: &Thresholds) {
    let Ok(rows) = &depth.active_calls else {
        return;
    };
    let threshold = limits.long_sql.as_secs_f64();
    let long: Vec<_> = rows.iter().filter(|r| r.last_call_et > threshold).collect();
    out.push("oracle_long_running_sql", &[], long.len() as f64);
    let longest = rows.iter().map(|r| r.last_call_et).fold(0.0, f64::max);
    out.push("oracle_longest_sql_seconds", &[], longest);
    if let Some(top) = long
        .iter()
        .max_by(|a, b| a.last_call_et.total_cmp(&b.last_call_et))
    {
        // Stable while the same call is the longest, so it is logged once.
        out.mapped.notes.push(format!(
            "{} user call(s) running longer than {threshold} s; the longest: sid {}, user {}, sql_id {}",
            long.len(),
            top.sid,
            top.username.as_deref().unwrap_or("?"),
            top.sql_id.as_deref().unwrap_or("?")
        ));
    }
}

fn scheduler(out: &mut Out<'_>, depth: &Depth, limits: &Thresholds) {
    if let Ok(rows) = &depth.scheduler_failures {
        let window = limits.interval.as_secs_f64();
        let recent = rows.iter().filter(|r| r.age_seconds < window).count();
        out.push("oracle_scheduler_job_failures", &[], recent as f64);
        let jobs: BTreeSet<String> = rows
            .iter()
            .map(|r| format!("{}.{}", r.owner, r.job_name))
            .collect();
        out.push("oracle_scheduler_failed_jobs", &[], jobs.len() as f64);
        if !jobs.is_empty() {
            let shown: Vec<&str> = jobs.iter().take(NOTE_JOBS).map(String::as_str).collect();
            let more = jobs.len().saturating_sub(NOTE_JOBS);
            out.mapped.notes.push(format!(
                "scheduler jobs that failed in the last day: {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
    }
    if let Ok(b) = &depth.scheduler_broken {
        out.push("oracle_scheduler_broken_jobs", &[], b.broken);
    }
}

#[cfg(test)]
mod tests;
