//! Parsing one WebLogic log record, on bytes (the log is in the host's default encoding, not
//! necessarily UTF-8). Formats per `shared/reference/oracle-weblogic.md` §2:
//!
//! - server log: `####<ts> <Severity> <Subsystem> <Machine> <Server> <Thread> <User> <TxID>
//!   <CtxID> <RawTime> [<Supplemental>] <MessageID> <Message>`, the message running to the end
//!   of the record (it may hold newlines and `>`);
//! - stdout (`.out`): `<ts> <Severity> <Subsystem> <MessageID> <Message>`.
//!
//! Fields are `<...>` with nesting (the user field is often `<<WLS Kernel>>`); empty ones are
//! `<>`.
//!
//! [`record_start`] says where a record starts in either format, so that a file in the
//! stdout format is cut into its messages too (it has no `####` to key on).

use std::sync::LazyLock;

use memchr::memmem;
use regex::bytes::Regex;

use crate::tail::RecordStart;

/// A line that starts a record: `####<` (server and domain log), or `<` followed by a date
/// (stdout / `.out`). The date is written with the server's locale
/// (`LogFileMBean.DateFormatPattern`, a `SimpleDateFormat`; reference §2.1), so its shapes are
/// matched by their form, not by English month names:
/// - `<Dec 6, 2021, 2:04:43,285 PM EST>`, `<May 20, 2016 1:50:10 PM CEST>`: a month word (any
///   letters, also non-ASCII bytes), day, year, time;
/// - the same with the day first, as other locales write it (`<6 déc. 2021, 14:04:43 CET>`,
///   a shape assumed, not seen in a sample);
/// - `<20-May-2016, 1:50:10,123 PM CEST>` (`dd-MMM-yyyy`, one of Elastic's patterns);
/// - `<2016-5-20 下午08时52分36秒 CST>` (zh_CN) and other numeric dates (`2016/05/20`,
///   `20.05.2016`).
///
/// A continuation line starting with `<` (XML in a message, `<alive, in native ...>` of a
/// JRockit thread dump) has no such date and stays in its record.
static RECORD_START: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?-u)^(?:####<|<(?:",
        r"[^\s\d<>,]{2,16} \d{1,2}, \d{4},? \d{1,2}:\d{2}",
        r"|\d{1,2} [^\s\d<>,]{2,16} \d{4},? \d{1,2}:\d{2}",
        r"|\d{1,2}-[^\s\d<>,-]{2,16}-\d{4},? \d{1,2}:\d{2}",
        r"|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T,]",
        r"|\d{1,2}[./]\d{1,2}[./]\d{2,4}[ ,]",
        r"))"
    ))
    .expect("the record-start pattern is a valid regex")
});

/// Where a WebLogic record starts (see [`RECORD_START`]).
pub fn record_start() -> RecordStart {
    RecordStart::Regex(RECORD_START.clone())
}

/// Severities of `weblogic.i18n.logging.Severities`, plus `Other` for anything else (a
/// localised or unknown name), so the label has a fixed set of values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
    Other,
}

impl Severity {
    pub const ALL: [Severity; 10] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Notice,
        Self::Warning,
        Self::Error,
        Self::Critical,
        Self::Alert,
        Self::Emergency,
        Self::Other,
    ];

    /// The `severity` label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Notice => "notice",
            Self::Warning => "warning",
            Self::Error => "error",
            Self::Critical => "critical",
            Self::Alert => "alert",
            Self::Emergency => "emergency",
            Self::Other => "other",
        }
    }

    fn parse(field: &[u8]) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| s != &Self::Other && field.eq_ignore_ascii_case(s.label().as_bytes()))
            .unwrap_or(Self::Other)
    }
}

/// The parts of a record the probe counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub severity: Severity,
    pub subsystem: &'a [u8],
    /// `BEA-000337` and the like; `None` when the record has none where expected.
    pub msgid: Option<&'a [u8]>,
    /// The message text, to the end of the record (closing `>` removed).
    pub text: &'a [u8],
}

/// The STUCK-thread message id.
pub const STUCK_THREAD: &[u8] = b"BEA-000337";

/// Parses a record; `None` when it is not in either WebLogic format (e.g. stray lines before
/// the first record).
pub fn parse(record: &[u8]) -> Option<Message<'_>> {
    let (body, msgid_slots): (&[u8], &[usize]) = match record.strip_prefix(b"####") {
        // Raw time is field 9; an optional supplemental field (12.2.1+) may precede the id.
        Some(rest) => (rest, &[10, 11]),
        None => (record, &[3]),
    };
    let last_slot = *msgid_slots.last()?;
    let mut fields = Fields { rest: body };
    let mut severity = None;
    let mut subsystem: &[u8] = b"";
    let mut seen = 0;
    for index in 0..=last_slot {
        let Some(field) = fields.next() else { break };
        seen += 1;
        match index {
            1 => severity = Some(Severity::parse(field)),
            2 => subsystem = field,
            _ => {}
        }
        if msgid_slots.contains(&index) && is_msgid(field) {
            return Some(Message {
                severity: severity?,
                subsystem,
                msgid: Some(field),
                text: fields.remainder(),
            });
        }
    }
    // Time, severity and subsystem at least, or it is not a WebLogic record.
    if seen < 3 {
        return None;
    }
    Some(Message {
        severity: severity?,
        subsystem,
        msgid: None,
        text: fields.remainder(),
    })
}

/// Whether a record mentions an `OutOfMemoryError` anywhere (message or stack trace).
pub fn mentions_out_of_memory(record: &[u8]) -> bool {
    memmem::find(record, b"OutOfMemoryError").is_some()
}

/// `BEA-000337`, `BEA-2162601`: letters, a dash, digits (the reference notes 7-digit ids
/// and other prefixes), at most 24 bytes.
fn is_msgid(field: &[u8]) -> bool {
    let Some(dash) = field.iter().position(|b| *b == b'-') else {
        return false;
    };
    let (prefix, digits) = (&field[..dash], &field[dash + 1..]);
    field.len() <= 24
        && !prefix.is_empty()
        && prefix.iter().all(u8::is_ascii_alphanumeric)
        && prefix[0].is_ascii_alphabetic()
        && !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
}

/// Iterator over `<...>` fields separated by blanks.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        // Fields before the message are all on the record's first line.
        let start = self
            .rest
            .iter()
            .position(|b| *b == b'\n' || !b.is_ascii_whitespace())?;
        let rest = &self.rest[start..];
        if rest.first() != Some(&b'<') {
            return None;
        }
        let mut depth = 0usize;
        for (i, b) in rest.iter().enumerate() {
            match b {
                b'<' => depth += 1,
                b'>' => {
                    depth -= 1;
                    if depth == 0 {
                        self.rest = &rest[i + 1..];
                        return Some(&rest[1..i]);
                    }
                }
                // A field before the message never spans lines.
                b'\n' => return None,
                _ => {}
            }
        }
        None
    }

    /// The last field: everything left, without the opening `<` and the closing `>`.
    fn remainder(&self) -> &'a [u8] {
        let text = self.rest.trim_ascii();
        let text = text.strip_prefix(b"<").unwrap_or(text);
        text.strip_suffix(b">").unwrap_or(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Verbatim shapes from the reference (§2.1, §2.3).
    const STUCK_PRE_1221: &[u8] = b"####<Dec 7, 2016 3:12:21 PM GMT> <Error> <WebLogicServer> <prlprws01> <PayRoll_Srv1> <[ACTIVE] ExecuteThread: '22' for queue: 'weblogic.kernel.Default (self-tuning)'> <<WLS Kernel>> <> <> <1481123541709> <BEA-000337> <[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Workmanager: default, Version: 5, Scheduled=true, Started=true, Started time: 645131 ms\n\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:\n\tsun.misc.Unsafe.park(Native Method)\n> ";
    const NOTICE_1221: &[u8] = b"####<Mar 24, 2022 10:29:51,636 AM GMT> <Notice> <WebLogicServer> <b0a1c2d3> <AdminServer> <main> <<WLS Kernel>> <> <> <1648117791636> <[severity-value: 32] [rid: 0] [partition-id: 0] [partition-name: DOMAIN] > <BEA-000365> <Server state changed to RUNNING.> ";
    const OUT_FORMAT: &[u8] = b"<Dec 6, 2021, 2:04:34,902 PM EST> <Warning> <Diagnostics> <BEA-320111> <The metric a > b was exceeded>";

    #[test]
    fn stuck_thread_record_before_12_2_1() {
        let m = parse(STUCK_PRE_1221).expect("parses");
        assert_eq!(m.severity, Severity::Error);
        assert_eq!(m.subsystem, b"WebLogicServer");
        assert_eq!(m.msgid, Some(STUCK_THREAD));
        assert!(m.text.starts_with(b"[STUCK] ExecuteThread: '12'"));
        assert!(
            m.text.ends_with(b"park(Native Method)\n"),
            "{:?}",
            String::from_utf8_lossy(m.text)
        );
    }

    #[test]
    fn supplemental_field_of_12_2_1_is_skipped() {
        let m = parse(NOTICE_1221).expect("parses");
        assert_eq!(m.severity, Severity::Notice);
        assert_eq!(m.msgid, Some(&b"BEA-000365"[..]));
        assert_eq!(m.text, b"Server state changed to RUNNING.");
    }

    #[test]
    fn stdout_format_and_brackets_in_the_message() {
        let m = parse(OUT_FORMAT).expect("parses");
        assert_eq!(m.severity, Severity::Warning);
        assert_eq!(m.msgid, Some(&b"BEA-320111"[..]));
        assert_eq!(m.text, b"The metric a > b was exceeded");
    }

    #[test]
    fn machine_names_with_dashes_are_not_message_ids() {
        let rec = b"####<ts> <Info> <Health> <web-01> <ms-1> <t> <<anonymous>> <> <> <1> <BEA-310002> <62% of the total memory in the server is free.>";
        assert_eq!(parse(rec).expect("parses").msgid, Some(&b"BEA-310002"[..]));
    }

    #[test]
    fn unknown_severity_and_missing_id_still_count() {
        let rec =
            "####<2016-5-20 下午08时52分36秒 CST> <警告> <X> <m> <s> <t> <> <> <> <1> <no id here>"
                .as_bytes();
        let m = parse(rec).expect("parses");
        assert_eq!((m.severity, m.msgid), (Severity::Other, None));
    }

    #[test]
    fn garbage_is_not_a_message() {
        for rec in [
            &b""[..],
            b"\tat java.lang.Thread.run(Thread.java:745)",
            b"####",
            b"####<unterminated",
            b"####<a>\n<Info>",
            b"<<<<<<<<",
            b"\xff\xfe\x00<",
        ] {
            assert_eq!(parse(rec), None, "{rec:?}");
        }
    }

    #[test]
    fn record_starts_in_both_formats_and_every_date_shape() {
        let RecordStart::Regex(start) = record_start() else {
            panic!("a regex rule")
        };
        for line in [
            &b"####<Mar 24, 2022 10:29:51,636 AM GMT> <Notice> <WebLogicServer>"[..],
            b"####<2016-5-20 \xcf\xc2\xce\xe708\xca\xb152\xb7\xd636\xc3\xeb CST> <x>",
            b"<Dec 6, 2021, 2:04:43,285 PM EST> <Warning> <Socket> <BEA-000449> <Closing the socket>",
            b"<May 8, 2024, 12:32:08,362 PM India Standard Time> <Notice> <x> <BEA-000365> <y>",
            b"<May 20, 2016 1:50:10 PM CEST> <Info> <x> <BEA-000000> <y>",
            b"<20-May-2016, 1:50:10,123 PM CEST> <Info> <x> <BEA-000000> <y>",
            "<2016-5-20 下午08时52分36秒 CST> <警告> <x> <BEA-000000> <y>".as_bytes(),
            "<6 déc. 2021, 14:04:43,285 CET> <Warning> <x>".as_bytes(),
            b"<20.05.2016 13:50:10 MESZ> <Info> <x>",
        ] {
            assert!(start.is_match(line), "{}", String::from_utf8_lossy(line));
        }
        for line in [
            &b"\tat weblogic.work.ExecuteThread.run(ExecuteThread.java:360)"[..],
            b"\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds. Stack trace:",
            b"> ",
            b"<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">",
            b"<alive, in native, suspended, priority=1, DAEMON> {",
            b"<Info> <no date>",
            b"Caused By: java.lang.RuntimeException: root",
            b"JAVA Memory arguments: -Xms256m -Xmx512m",
            b"###<Dec 6, 2021 not a server log line",
        ] {
            assert!(!start.is_match(line), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn stuck_thread_in_the_stdout_format() {
        // Reference §2.3, 12.2.1-era stdout: the request text ends in a newline.
        let rec = b"<Dec 6, 2021, 2:14:43,285 PM EST> <Error> <WebLogicServer> <BEA-000337> <[STUCK] ExecuteThread: '12' for queue: 'weblogic.kernel.Default (self-tuning)' has been busy for \"645\" seconds working on the request \"Http Request Information: weblogic.servlet.internal.ServletRequestImpl@76dfaa35[POST /digx/cmcb/v1/topup]\n\", which is more than the configured time (StuckThreadMaxTime) of \"600\" seconds in \"server-failure-trigger\". Stack trace:\n\tjava.net.SocketInputStream.socketRead0(Native Method)\n> ";
        let m = parse(rec).expect("parses");
        assert_eq!(m.severity, Severity::Error);
        assert_eq!(m.subsystem, b"WebLogicServer");
        assert_eq!(m.msgid, Some(STUCK_THREAD));
        assert!(m.text.starts_with(b"[STUCK] ExecuteThread: '12'"));
    }

    #[test]
    fn out_of_memory_anywhere_in_the_record() {
        let rec = b"####<t> <Error> <Kernel> <m> <s> <t> <> <> <> <1> <BEA-000802> <ExecuteRequest failed\n java.lang.OutOfMemoryError: PermGen space.\n> ";
        assert!(mentions_out_of_memory(rec));
        assert!(!mentions_out_of_memory(NOTICE_1221));
    }
}
