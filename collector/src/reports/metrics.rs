//! The report wiring's own counters, exported on `/metrics` with the collector's
//! (docs/metrics.md, "Reports").

use std::collections::BTreeMap;
use std::fmt::{self, Write};
use std::sync::{Mutex, PoisonError};

use crate::telemetry::Counter;

/// How a delivery try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// The peer confirmed it.
    Sent,
    /// A try failed; it is tried again.
    Failed,
    /// Given up (permanent failure, a channel that cannot carry sheets, or too old).
    Dead,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
        }
    }
}

/// `patrol_report_*`.
#[derive(Debug, Default)]
pub struct ReportCounters {
    /// Sheets made at their time.
    pub on_time: Counter,
    /// Sheets made after a restart for a time the collector missed.
    pub caught_up: Counter,
    /// Missed inspection times not caught up (older than the newest one missed).
    pub skipped: Counter,
    /// The archive could not be read or written.
    pub archive_errors: Counter,
    /// Delivery tries by (channel, outcome). Channels come from the site file: bounded.
    sends: Mutex<BTreeMap<(String, Outcome), u64>>,
    /// Each schedule's next inspection time (ms), as of the scheduler's last look.
    next: Mutex<BTreeMap<String, i64>>,
}

impl ReportCounters {
    /// Counts one delivery try's outcome on `channel`.
    pub fn send(&self, channel: &str, outcome: Outcome) {
        let mut m = self.sends.lock().unwrap_or_else(PoisonError::into_inner);
        *m.entry((channel.to_owned(), outcome)).or_default() += 1;
    }

    /// The count of `outcome` on `channel`.
    pub fn sends(&self, channel: &str, outcome: Outcome) -> u64 {
        let m = self.sends.lock().unwrap_or_else(PoisonError::into_inner);
        m.get(&(channel.to_owned(), outcome)).copied().unwrap_or(0)
    }

    /// Each schedule's next inspection time, as the scheduler just planned it (schedules the
    /// site no longer has are dropped).
    pub fn set_next(&self, next: BTreeMap<String, i64>) {
        *self.next.lock().unwrap_or_else(PoisonError::into_inner) = next;
    }

    /// Writes the families in the Prometheus text format.
    pub fn encode(&self, out: &mut (impl Write + ?Sized)) -> fmt::Result {
        writeln!(
            out,
            "# HELP patrol_report_sheets_total Inspection sheets made and archived, by when: on_time at their inspection time, caught_up after a restart for a time the collector missed.\n\
             # TYPE patrol_report_sheets_total counter\n\
             patrol_report_sheets_total{{when=\"on_time\"}} {}\n\
             patrol_report_sheets_total{{when=\"caught_up\"}} {}",
            self.on_time.get(),
            self.caught_up.get()
        )?;
        writeln!(
            out,
            "# HELP patrol_report_sheets_missed_total Inspection times missed while the collector was down and not caught up (only the newest missed time of a schedule is).\n\
             # TYPE patrol_report_sheets_missed_total counter\n\
             patrol_report_sheets_missed_total {}",
            self.skipped.get()
        )?;
        writeln!(
            out,
            "# HELP patrol_report_archive_errors_total Failures to read or write the inspection sheet archive (data/reports.db).\n\
             # TYPE patrol_report_archive_errors_total counter\n\
             patrol_report_archive_errors_total {}",
            self.archive_errors.get()
        )?;
        writeln!(
            out,
            "# HELP patrol_report_sends_total Tries to send an inspection sheet through a channel, by channel and outcome (sent, failed and tried again, dead: given up).\n\
             # TYPE patrol_report_sends_total counter"
        )?;
        let sends = self
            .sends
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for ((channel, outcome), n) in sends {
            write!(out, "patrol_report_sends_total{{channel=\"")?;
            patrol_proto::exposition::write_escaped(out, &channel)?;
            writeln!(out, "\",outcome=\"{}\"}} {n}", outcome.as_str())?;
        }
        writeln!(
            out,
            "# HELP patrol_report_next_inspection_timestamp_seconds When each inspection schedule makes its next sheet (Unix time), as of the scheduler's last look.\n\
             # TYPE patrol_report_next_inspection_timestamp_seconds gauge"
        )?;
        let next = self
            .next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (schedule, ms) in next {
            write!(
                out,
                "patrol_report_next_inspection_timestamp_seconds{{schedule=\""
            )?;
            patrol_proto::exposition::write_escaped(out, &schedule)?;
            writeln!(out, "\"}} {}", ms as f64 / 1000.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_in_the_text_format() {
        let c = ReportCounters::default();
        c.on_time.inc();
        c.send("mail", Outcome::Failed);
        c.send("mail", Outcome::Sent);
        c.set_next(BTreeMap::from([("daily".to_owned(), 1_791_532_800_000)]));
        let mut out = String::new();
        c.encode(&mut out).unwrap_or_default();
        assert!(
            out.contains("patrol_report_sheets_total{when=\"on_time\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("patrol_report_sheets_total{when=\"caught_up\"} 0\n"));
        assert!(out.contains("patrol_report_sends_total{channel=\"mail\",outcome=\"failed\"} 1\n"));
        assert!(out.contains("patrol_report_sends_total{channel=\"mail\",outcome=\"sent\"} 1\n"));
        assert!(out.contains(
            "patrol_report_next_inspection_timestamp_seconds{schedule=\"daily\"} 1791532800\n"
        ));
        assert_eq!(c.sends("mail", Outcome::Sent), 1);
    }
}
