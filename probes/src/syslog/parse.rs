//! One syslog message from bytes: RFC 5424 and RFC 3164 (BSD syslog) with the variants devices
//! actually send. Pure and panic-free on any input (a proptest below checks it), so a fuzz target
//! can wrap [`parse`] as it is.
//!
//! What is checked, and why: the `<PRI>` is mandatory and must be 0–191, because severity is
//! what the probe counts; an RFC 5424 header must have its six fields and well-formed
//! structured data, because a message that claims that format and breaks it is not one. An RFC
//! 3164 message is anything after a valid `<PRI>`: its timestamp, host name and tag are taken
//! when present (RFC 3164 §4.3 lets relays and devices leave them out), never required.

/// Longest host name taken from a message (RFC 5424 `HOSTNAME` is at most 255 octets).
const MAX_HOSTNAME: usize = 255;
/// Longest application name (RFC 5424 `APP-NAME`; RFC 3164 tags are shorter still).
const MAX_APP_NAME: usize = 48;

/// The header format the message was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rfc5424,
    Rfc3164,
}

/// A parsed message. Borrowed from the input: parsing allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub format: Format,
    /// 0 (kern) to 23 (local7).
    pub facility: u8,
    /// 0 (emerg) to 7 (debug).
    pub severity: u8,
    /// RFC 5424 `HOSTNAME`, or the host name field of an RFC 3164 message when it has one.
    pub hostname: Option<&'a str>,
    /// RFC 5424 `APP-NAME`, or the RFC 3164 tag (`sshd` of `sshd[42]:`).
    pub app_name: Option<&'a str>,
    /// The free text (`MSG`), without a leading UTF-8 byte order mark. Not necessarily UTF-8.
    pub msg: &'a [u8],
}

/// Why a message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("empty message")]
    Empty,
    #[error("no <PRI> at the start")]
    NoPri,
    #[error("<PRI> is not a number from 0 to 191")]
    BadPri,
    #[error("RFC 5424 header field missing or invalid: {0}")]
    BadHeader(&'static str),
    #[error("RFC 5424 structured data is malformed")]
    BadStructuredData,
}

/// The RFC 5424 keyword of a severity (0–7), as rsyslog and `logger -p` name them.
pub fn severity_name(severity: u8) -> &'static str {
    match severity {
        0 => "emerg",
        1 => "alert",
        2 => "crit",
        3 => "err",
        4 => "warning",
        5 => "notice",
        6 => "info",
        _ => "debug",
    }
}

/// Parses one message. Trailing line ends and NULs (which UDP senders often append) are
/// ignored.
pub fn parse(input: &[u8]) -> Result<Message<'_>, Malformed> {
    let mut end = input.len();
    while end > 0 && matches!(input[end - 1], b'\n' | b'\r' | 0) {
        end -= 1;
    }
    let input = &input[..end];
    if input.is_empty() {
        return Err(Malformed::Empty);
    }
    let (pri, rest) = pri(input)?;
    let facility = pri / 8;
    let severity = pri % 8;
    if is_rfc5424(rest) {
        rfc5424(rest, facility, severity)
    } else if rest.is_empty() {
        Err(Malformed::Empty)
    } else {
        Ok(rfc3164(rest, facility, severity))
    }
}

/// `<PRI>`: 1–3 digits, 0–191.
fn pri(input: &[u8]) -> Result<(u8, &[u8]), Malformed> {
    let Some(body) = input.strip_prefix(b"<") else {
        return Err(Malformed::NoPri);
    };
    let digits = body.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 || body.get(digits) != Some(&b'>') {
        return Err(Malformed::BadPri);
    }
    let value = body[..digits]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let value = u8::try_from(value)
        .ok()
        .filter(|v| *v <= 191)
        .ok_or(Malformed::BadPri)?;
    Ok((value, &body[digits + 1..]))
}

/// `VERSION SP` right after the PRI: a non-zero digit, at most two digits. RFC 3164 text
/// never starts that way (a Cisco sequence number is followed by `:`, an ISO date by `-`).
fn is_rfc5424(rest: &[u8]) -> bool {
    matches!(
        rest,
        [b'1'..=b'9', b' ', ..] | [b'1'..=b'9', b'0'..=b'9', b' ', ..]
    )
}

/// Splits off one space-terminated header field (the last field may end the input).
fn field<'a>(rest: &'a [u8], what: &'static str) -> Result<(&'a [u8], &'a [u8]), Malformed> {
    let end = rest.iter().position(|b| *b == b' ').unwrap_or(rest.len());
    let (value, tail) = rest.split_at(end);
    if value.is_empty() || !value.iter().all(|b| (33..=126).contains(b)) {
        return Err(Malformed::BadHeader(what));
    }
    Ok((value, tail.strip_prefix(b" ").unwrap_or(tail)))
}

/// A header field as text, `None` for the NILVALUE `-`.
fn nil_or_str<'a>(
    value: &'a [u8],
    max: usize,
    what: &'static str,
) -> Result<Option<&'a str>, Malformed> {
    if value == b"-" {
        return Ok(None);
    }
    if value.len() > max {
        return Err(Malformed::BadHeader(what));
    }
    // Fields are printable US-ASCII (checked by `field`), hence valid UTF-8.
    std::str::from_utf8(value)
        .map(Some)
        .map_err(|_| Malformed::BadHeader(what))
}

fn rfc5424(rest: &[u8], facility: u8, severity: u8) -> Result<Message<'_>, Malformed> {
    let (_version, rest) = field(rest, "VERSION")?;
    let (timestamp, rest) = field(rest, "TIMESTAMP")?;
    if timestamp != b"-" && (timestamp.len() > 64 || !timestamp[0].is_ascii_digit()) {
        return Err(Malformed::BadHeader("TIMESTAMP"));
    }
    let (hostname, rest) = field(rest, "HOSTNAME")?;
    let hostname = nil_or_str(hostname, MAX_HOSTNAME, "HOSTNAME")?;
    let (app_name, rest) = field(rest, "APP-NAME")?;
    let app_name = nil_or_str(app_name, MAX_APP_NAME, "APP-NAME")?;
    let (procid, rest) = field(rest, "PROCID")?;
    nil_or_str(procid, 128, "PROCID")?;
    let (msgid, rest) = field(rest, "MSGID")?;
    nil_or_str(msgid, 32, "MSGID")?;
    let rest = structured_data(rest)?;
    let msg = match rest {
        [] => rest,
        [b' ', msg @ ..] => msg,
        _ => return Err(Malformed::BadStructuredData),
    };
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    Ok(Message {
        format: Format::Rfc5424,
        facility,
        severity,
        hostname,
        app_name,
        msg,
    })
}

/// Skips `STRUCTURED-DATA` (`-` or one or more `[SD-ID *(SP PARAM-NAME="PARAM-VALUE")]`),
/// checking its syntax; returns what follows it.
fn structured_data(rest: &[u8]) -> Result<&[u8], Malformed> {
    if let Some(after) = rest.strip_prefix(b"-") {
        return Ok(after);
    }
    let mut rest = rest;
    let mut elements = 0;
    while let Some(inner) = rest.strip_prefix(b"[") {
        rest = sd_element(inner)?;
        elements += 1;
    }
    if elements == 0 {
        return Err(Malformed::BadStructuredData);
    }
    Ok(rest)
}

/// `SD-NAME`: 1–32 printable US-ASCII characters except `=`, space, `]` and `"`.
fn sd_name(rest: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let len = rest
        .iter()
        .take_while(|b| (33..=126).contains(*b) && !matches!(b, b'=' | b']' | b'"'))
        .count();
    if len == 0 || len > 32 {
        return Err(Malformed::BadStructuredData);
    }
    Ok(rest.split_at(len))
}

/// One element after its `[`: the SD-ID, its parameters, the closing `]`.
fn sd_element(rest: &[u8]) -> Result<&[u8], Malformed> {
    let (_id, mut rest) = sd_name(rest)?;
    loop {
        match rest {
            [b']', after @ ..] => return Ok(after),
            [b' ', after @ ..] => {
                let (_name, after) = sd_name(after)?;
                let after = after
                    .strip_prefix(b"=\"")
                    .ok_or(Malformed::BadStructuredData)?;
                rest = sd_value(after)?;
            }
            _ => return Err(Malformed::BadStructuredData),
        }
    }
}

/// A `PARAM-VALUE` after its opening quote, up to and past the closing one. `\"`, `\\` and
/// `\]` are escapes; any other backslash is kept as it is (RFC 5424 §6.3.3).
fn sd_value(rest: &[u8]) -> Result<&[u8], Malformed> {
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            b'\\' => i += 2,
            b'"' => return Ok(&rest[i + 1..]),
            _ => i += 1,
        }
    }
    Err(Malformed::BadStructuredData)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The length of an RFC 3164 timestamp at the start of `rest`, or 0 when there is none.
/// Accepts `Mmm dd hh:mm:ss` (day space-padded or not), with a year after the day
/// (`Mmm dd yyyy hh:mm:ss`, Cisco `service timestamps log datetime year`), fractional seconds
/// (`.123`), a leading `*` or `.` (Cisco: clock not synchronised), and an RFC 3339 timestamp
/// (`2024-03-01T10:00:00.123+08:00`, rsyslog's high-precision template).
fn timestamp_len(rest: &[u8]) -> usize {
    let lead = usize::from(matches!(rest.first(), Some(b'*' | b'.')));
    let body = &rest[lead..];
    let len = bsd_timestamp_len(body).or_else(|| rfc3339_len(body));
    len.map_or(0, |n| n + lead)
}

fn is_time(b: &[u8]) -> bool {
    b.len() == 8
        && b[2] == b':'
        && b[5] == b':'
        && [0, 1, 3, 4, 6, 7].iter().all(|&i| b[i].is_ascii_digit())
}

fn bsd_timestamp_len(b: &[u8]) -> Option<usize> {
    let month = b.get(..3)?;
    if !MONTHS.iter().any(|m| m.as_slice() == month) || b.get(3) != Some(&b' ') {
        return None;
    }
    // The day: " 3", "03" or "3" (some devices do not pad).
    let mut i = 4;
    if b.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_digits = b[i.min(b.len())..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if day_digits == 0 || day_digits > 2 || b.get(i + day_digits) != Some(&b' ') {
        return None;
    }
    i += day_digits + 1;
    // An optional year.
    if b.get(i..i + 5)
        .is_some_and(|y| y[..4].iter().all(u8::is_ascii_digit) && y[4] == b' ')
    {
        i += 5;
    }
    if !is_time(b.get(i..i + 8)?) {
        return None;
    }
    i += 8;
    if b.get(i) == Some(&b'.') {
        i += 1 + b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
    }
    Some(i)
}

fn rfc3339_len(b: &[u8]) -> Option<usize> {
    let date = b.get(..10)?;
    let shape = date[4] == b'-'
        && date[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| date[i].is_ascii_digit());
    if !shape || !matches!(b.get(10), Some(b'T' | b't')) || !is_time(b.get(11..19)?) {
        return None;
    }
    let end = b.iter().position(|c| *c == b' ').unwrap_or(b.len());
    (end <= 40).then_some(end)
}

/// A host name as RFC 3164 devices write it: letters, digits, `.-_` and `:` (IPv6 literals).
fn is_hostname(token: &[u8]) -> bool {
    !token.is_empty()
        && token.len() <= MAX_HOSTNAME
        && token
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'))
        && !token.ends_with(b":")
}

/// The tag of `tag[pid]: text` or `tag: text`: its name and the text after it.
fn tag(rest: &[u8]) -> Option<(&str, &[u8])> {
    let len = rest
        .iter()
        .take_while(|b| (33..=126).contains(*b) && !matches!(b, b'[' | b':'))
        .count();
    if len == 0 || len > MAX_APP_NAME {
        return None;
    }
    let name = std::str::from_utf8(&rest[..len]).ok()?;
    let mut after = &rest[len..];
    if let Some(pid) = after.strip_prefix(b"[") {
        let close = pid.iter().position(|b| *b == b']')?;
        after = &pid[close + 1..];
    }
    let after = after.strip_prefix(b":")?;
    Some((name, after.strip_prefix(b" ").unwrap_or(after)))
}

fn rfc3164(rest: &[u8], facility: u8, severity: u8) -> Message<'_> {
    // Cisco IOS numbers its messages (`service sequence-numbers`): `34: *Mar  1 ...`.
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = match rest[digits..].strip_prefix(b": ") {
        Some(after) if digits > 0 => after,
        _ => rest,
    };
    let stamp = timestamp_len(rest);
    let mut hostname = None;
    let mut text = rest;
    if stamp > 0 {
        // Cisco ends the timestamp with a colon: `Mar  1 00:00:12.123: %LINK-3-UPDOWN: ...`.
        let after = &rest[stamp..];
        let after = after.strip_prefix(b":").unwrap_or(after);
        text = after.strip_prefix(b" ").unwrap_or(after);
        // RFC 3164 puts the host name after the timestamp; devices that leave it out go
        // straight to the tag, which ends in `:` or has a `[pid]`.
        let end = text.iter().position(|b| *b == b' ').unwrap_or(text.len());
        let token = &text[..end];
        if end < text.len() && is_hostname(token) && !token.contains(&b'[') {
            hostname = std::str::from_utf8(token).ok();
            text = &text[end + 1..];
        }
    }
    let (app_name, msg) = match tag(text) {
        Some((name, msg)) => (Some(name), msg),
        None => (None, text),
    };
    Message {
        format: Format::Rfc3164,
        facility,
        severity,
        hostname,
        app_name,
        msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &[u8]) -> Message<'_> {
        parse(input).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(input)))
    }

    #[test]
    fn logger_rfc5424_with_structured_data() {
        // Captured from util-linux logger 2.38 (`--rfc5424 -p daemon.err --sd-id ...`).
        let m = ok(
            b"<27>1 2026-12-03T10:18:22.554362+00:00 vm myapp - - [timeQuality tzKnown=\"1\" isSynced=\"0\"][zoo@123 tiger=\"hungry\"] hello 5424",
        );
        assert_eq!(m.format, Format::Rfc5424);
        assert_eq!((m.facility, m.severity), (3, 3));
        assert_eq!(m.hostname, Some("vm"));
        assert_eq!(m.app_name, Some("myapp"));
        assert_eq!(m.msg, b"hello 5424");
    }

    #[test]
    fn rfc5424_examples_from_the_rfc() {
        // RFC 5424 §6.5 examples 1, 3 and 4 (example 1 with its BOM).
        let m = ok(
            b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
        );
        assert_eq!((m.facility, m.severity), (4, 2));
        assert_eq!(m.hostname, Some("mymachine.example.com"));
        assert_eq!(m.msg, b"'su root' failed for lonvick on /dev/pts/8");
        let m = ok(
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBFAn application event log entry...",
        );
        assert_eq!(m.app_name, Some("evntslog"));
        assert_eq!(m.msg, b"An application event log entry...");
        let m = ok(
            b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]",
        );
        assert_eq!(m.msg, b"");
        // Escapes inside values, and NILVALUE everywhere.
        let m = ok(b"<13>1 - - - - - [a b=\"x\\\"]y\"] text");
        assert_eq!((m.hostname, m.app_name, m.msg), (None, None, &b"text"[..]));
    }

    #[test]
    fn rfc5424_header_errors_are_malformed() {
        for (input, want) in [
            (
                &b"<13>1 2003-10-11T22:14:15Z host"[..],
                Malformed::BadHeader("APP-NAME"),
            ),
            (
                b"<13>1 Oct host app - - -",
                Malformed::BadHeader("TIMESTAMP"),
            ),
            (
                b"<13>1 2003 host app - - [unterminated",
                Malformed::BadStructuredData,
            ),
            (
                b"<13>1 - host app - - [id a=\"unterminated]",
                Malformed::BadStructuredData,
            ),
            (
                b"<13>1 - host app - - [id a=b]",
                Malformed::BadStructuredData,
            ),
            (b"<13>1 - host app - - []", Malformed::BadStructuredData),
            (b"<13>1 - host app - - [id]x", Malformed::BadStructuredData),
            (b"<13>1 - host app - - nosd", Malformed::BadStructuredData),
        ] {
            assert_eq!(
                parse(input),
                Err(want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn pri_is_required_and_bounded() {
        assert_eq!(parse(b""), Err(Malformed::Empty));
        assert_eq!(parse(b"\n\0"), Err(Malformed::Empty));
        assert_eq!(parse(b"hello"), Err(Malformed::NoPri));
        assert_eq!(parse(b"<192>x"), Err(Malformed::BadPri));
        assert_eq!(parse(b"<1000>x"), Err(Malformed::BadPri));
        assert_eq!(parse(b"<>x"), Err(Malformed::BadPri));
        assert_eq!(parse(b"<13"), Err(Malformed::BadPri));
        assert_eq!(parse(b"<13>"), Err(Malformed::Empty));
        let m = ok(b"<191>x");
        assert_eq!((m.facility, m.severity), (23, 7));
        assert_eq!(ok(b"<0>x").severity, 0);
    }

    #[test]
    fn logger_rfc3164_and_octet_counted_body() {
        // Captured from util-linux logger 2.38 (`--rfc3164 -p local4.warning -t myapp`).
        let m = ok(b"<164>Dec  3 10:18:22 vm myapp: hello 3164");
        assert_eq!(m.format, Format::Rfc3164);
        assert_eq!((m.facility, m.severity), (20, 4));
        assert_eq!(m.hostname, Some("vm"));
        assert_eq!(m.app_name, Some("myapp"));
        assert_eq!(m.msg, b"hello 3164");
    }

    #[test]
    fn rfc3164_variants_devices_send() {
        // RFC 3164 §5.4 examples.
        let m = ok(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
        assert_eq!((m.hostname, m.app_name), (Some("mymachine"), Some("su")));
        let m = ok(b"<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!");
        assert_eq!(m.hostname, Some("10.0.0.99"));
        assert_eq!(m.msg, b"Use the BFG!");
        // No host name: straight from the timestamp to the tag (with a pid).
        let m = ok(b"<30>Mar  1 12:00:00 sshd[4242]: Accepted publickey for root");
        assert_eq!((m.hostname, m.app_name), (None, Some("sshd")));
        assert_eq!(m.msg, b"Accepted publickey for root");
        // Cisco IOS: sequence number, unsynchronised clock, milliseconds, timestamp colon.
        let m = ok(b"<187>34: *Mar  1 00:02:11.123: %LINK-3-UPDOWN: Interface GigabitEthernet0/1, changed state to down");
        assert_eq!(
            (m.severity, m.hostname, m.app_name),
            (3, None, Some("%LINK-3-UPDOWN"))
        );
        assert_eq!(
            m.msg,
            b"Interface GigabitEthernet0/1, changed state to down"
        );
        let m =
            ok(b"<187>Mar  1 00:02:11.123: %LINK-3-UPDOWN: Interface Gi0/1, changed state to down");
        assert_eq!((m.hostname, m.app_name), (None, Some("%LINK-3-UPDOWN")));
        // A year after the day, and an RFC 3339 timestamp.
        let m = ok(b"<14>Mar 01 2024 10:00:00 fw01 kernel: drop");
        assert_eq!((m.hostname, m.app_name), (Some("fw01"), Some("kernel")));
        let m = ok(b"<14>2024-03-01T10:00:00.123+08:00 web01 nginx: 502");
        assert_eq!(
            (m.hostname, m.app_name, m.msg),
            (Some("web01"), Some("nginx"), &b"502"[..])
        );
        // Nothing but free text after the PRI (no timestamp: no host name either).
        let m = ok(b"<13>free text without header");
        assert_eq!((m.hostname, m.app_name), (None, None));
        assert_eq!(m.msg, b"free text without header");
        // Not UTF-8: kept as bytes.
        assert_eq!(ok(b"<13>\xff\xfe").msg, b"\xff\xfe");
    }

    #[test]
    fn severity_names_follow_rfc5424() {
        let names: Vec<_> = (0..8).map(severity_name).collect();
        assert_eq!(
            names,
            [
                "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"
            ]
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]
        /// Hostile input: any bytes are either a message or a reason, never a panic, and a
        /// parsed message's parts lie inside the input.
        #[test]
        fn arbitrary_bytes_never_panic(input in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            if let Ok(m) = parse(&input) {
                proptest::prop_assert!(m.severity < 8 && m.facility < 24);
                proptest::prop_assert!(m.msg.len() <= input.len());
            }
        }

        /// Inputs shaped like syslog (a PRI, then header-ish tokens) reach the deeper paths.
        #[test]
        fn syslog_shaped_input_never_panics(
            pri in 0u16..300,
            version in proptest::option::of(0u8..12),
            tokens in proptest::collection::vec("[ -~\\[\\]\"=\\\\]{0,12}", 0..10),
        ) {
            let mut text = format!("<{pri}>");
            if let Some(v) = version {
                text.push_str(&format!("{v} "));
            }
            text.push_str(&tokens.join(" "));
            let _ = parse(text.as_bytes());
        }
    }
}
